"""Monte-Carlo check of the closed forms in `designs`: run the procedures on random people.

The simulation follows each procedure literally (pool tests, decoding, retests) with the same
assumptions as the formulas: independent infections with probability p, and assay results that
are independent given the true statuses, positive with probability Se for a sample or pool that
holds an infected person and 1-Sp otherwise (Kim et al. 2007, section 2). It exists to test the
algebra, not to replace it: agreement within sampling error is the evidence that the
expressions in `designs` are right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from epicore.pooling.designs import (
    check_accuracy,
    check_pool_size,
    check_prevalence,
)


@dataclass(frozen=True)
class Simulated:
    """Observed averages over `people` simulated people, with their standard errors."""

    people: int
    tests_per_person: float
    tests_se: float
    sensitivity: float  # nan when no one simulated was infected
    sensitivity_se: float
    specificity: float
    specificity_se: float


def _assay(rng: np.random.Generator, truth: np.ndarray, se: float, sp: float) -> np.ndarray:
    """One assay per element of `truth` (True = holds an infected sample)."""
    return rng.random(truth.shape) < np.where(truth, se, 1.0 - sp)


def simulate_dorfman(
    p: float, k: int, se: float = 1.0, sp: float = 1.0, groups: int = 20_000, seed: int = 0
) -> Simulated:
    """Dorfman two-stage pooling on `groups` pools of k people."""
    p, se, sp = (
        check_prevalence(p),
        check_accuracy(se, "sensitivity"),
        check_accuracy(sp, "specificity"),
    )
    k = check_pool_size(k)
    rng = np.random.default_rng(seed)
    infected = rng.random((groups, k)) < p
    pool_reacts = _assay(rng, infected.any(axis=1), se, sp)
    retest = _assay(rng, infected, se, sp)
    if k == 1:  # a pool of one is the individual test itself
        called = pool_reacts[:, None]
        tests = np.ones(groups)
    else:
        called = pool_reacts[:, None] & retest
        tests = 1.0 + k * pool_reacts
    return _summarise(infected, called, tests)


def simulate_matrix(
    p: float, k: int, se: float = 1.0, sp: float = 1.0, arrays: int = 5_000, seed: int = 0
) -> Simulated:
    """Square array testing without master pool on `arrays` arrays of k x k people."""
    p, se, sp = (
        check_prevalence(p),
        check_accuracy(se, "sensitivity"),
        check_accuracy(sp, "specificity"),
    )
    k = check_pool_size(k)
    rng = np.random.default_rng(seed)
    infected = rng.random((arrays, k, k)) < p
    rows = _assay(rng, infected.any(axis=2), se, sp)  # (arrays, k)
    cols = _assay(rng, infected.any(axis=1), se, sp)
    row_hit = rows[:, :, None]
    col_hit = cols[:, None, :]
    no_row = ~rows.any(axis=1)[:, None, None]
    no_col = ~cols.any(axis=1)[:, None, None]
    # Kim et al. 2007 (A2): crossings of reacting lines; a reacting row with no reacting column
    # (or the reverse) sends its whole line to retest.
    retested = (row_hit & col_hit) | (row_hit & no_col) | (col_hit & no_row)
    called = retested & _assay(rng, infected, se, sp)
    tests = 2.0 * k + retested.sum(axis=(1, 2))
    return _summarise(infected.reshape(arrays, -1), called.reshape(arrays, -1), tests)


def _summarise(infected: np.ndarray, called: np.ndarray, tests: np.ndarray) -> Simulated:
    """Per-person rates; the standard error of tests comes from the per-group totals."""
    group_size = infected.shape[1]
    people = infected.size
    per_group = tests / group_size
    tests_se = (
        float(per_group.std(ddof=1) / math.sqrt(len(per_group))) if len(per_group) > 1 else 0.0
    )
    sens, sens_se = _proportion(called[infected])
    spec, spec_se = _proportion(~called[~infected])
    return Simulated(people, float(per_group.mean()), tests_se, sens, sens_se, spec, spec_se)


def _proportion(hits: np.ndarray) -> tuple[float, float]:
    n = hits.size
    if n == 0:
        return math.nan, math.nan
    share = float(hits.mean())
    return share, math.sqrt(max(share * (1.0 - share), 1.0 / n) / n)
