"""Contact tracing (流调溯源): close contacts, secondary contacts and spatio-temporal companions.

    from epicore.tracing import TraceParams, trace
    result = trace("checkins.parquet", "cases.csv", venues="venues.parquet", params=TraceParams())
    result.contacts   # pyarrow Table: person_id, degree, via_person_id, venue_id, cell, ...

Engines: "duckdb" (embedded default), "spark" (PySpark, local or a cluster) and "reference"
(plain Python, small data). Definitions, sources and the algorithm: docs/tracing.md.
"""

from epicore.tracing.api import (
    OUTPUT_SCHEMA,
    TraceResult,
    read_cases,
    read_checkins,
    read_pings,
    trace,
    write_contacts,
)
from epicore.tracing.params import DWELL_BY_KIND_S, TraceParams
from epicore.tracing.report import TraceReport

__all__ = [
    "DWELL_BY_KIND_S",
    "OUTPUT_SCHEMA",
    "TraceParams",
    "TraceReport",
    "TraceResult",
    "read_cases",
    "read_checkins",
    "read_pings",
    "trace",
    "write_contacts",
]
