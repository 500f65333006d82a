"""Pooled testing (混采): expected tests, accuracy and the best pool size for a prevalence.

`designs` holds the closed forms (individual, Dorfman two-stage, square array), `advice` scans
pool sizes, `simulate` checks the algebra by Monte Carlo, `cli` is `python -m epicore.pooling`.
Formulas and sources: docs/pooling.md.
"""

from epicore.pooling.advice import (
    DEFAULT_SIZES,
    DORFMAN_BREAK_EVEN,
    PRACTICE_SIZES,
    Advice,
    best_pool_size,
)
from epicore.pooling.designs import (
    DESIGNS,
    DORFMAN,
    INDIVIDUAL,
    MATRIX,
    Performance,
    dorfman,
    evaluate,
    individual,
    matrix,
)

__all__ = [
    "DEFAULT_SIZES",
    "DESIGNS",
    "DORFMAN",
    "DORFMAN_BREAK_EVEN",
    "INDIVIDUAL",
    "MATRIX",
    "PRACTICE_SIZES",
    "Advice",
    "Performance",
    "best_pool_size",
    "dorfman",
    "evaluate",
    "individual",
    "matrix",
]
