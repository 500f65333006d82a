"""Job handlers of the cases app (found by the job queue's autodiscovery)."""

from fangkong.cases import (
    export,  # noqa: F401  registers "cases.export_contacts"
    tracing,  # noqa: F401  registers "tracing.run"
)
