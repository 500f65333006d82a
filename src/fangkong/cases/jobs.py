"""Job handlers of the cases app (found by the job queue's autodiscovery)."""

from fangkong.cases import tracing  # noqa: F401  registers "tracing.run"
