"""Which pool size to use at a given prevalence, and whether to pool at all.

The search is a plain scan over the allowed sizes (a few dozen closed-form evaluations): the
expected tests per person are not convex in k once test error enters, so a scan is both simpler
and safer than calculus. Ties go to the smaller pool, which dilutes each swab less.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from epicore.errors import ValidationError
from epicore.pooling.designs import (
    DORFMAN,
    INDIVIDUAL,
    Performance,
    check_accuracy,
    check_design,
    check_pool_size,
    check_prevalence,
    evaluate,
    individual,
)

# Sizes searched unless told otherwise. Thirty is already beyond the 20-in-1 upper end that
# China's practice validated (see PRACTICE_SIZES), so a larger default would only invite dilution.
DEFAULT_SIZES = tuple(range(2, 31))
# 5-, 10- and 20-in-1 mixed sampling (5合1/10合1/20合1): 《新冠病毒核酸10合1混采检测技术规范》
# (国务院联防联控机制, 2020-08) and 《区域新型冠状病毒核酸检测组织实施指南（第三版）》 (2022);
# the National Health Commission's clinical laboratory centre said on 2022-06-09 that 5, 10 and
# 20 swabs per tube had been validated, and larger laboratory re-pooling had not.
PRACTICE_SIZES = (5, 10, 20)
# A practice size within 10% of the best expected tests per person counts as near-optimal: the
# curve is flat near its minimum, and a familiar tube size is worth a little efficiency.
NEAR_OPTIMAL = 0.10
# Without test error, Dorfman pooling saves tests for some k only while p < 1 - 3^(-1/3) ~ 0.3066
# (k = 3 is the last size to beat 1 test per person: 1/3 + 1 - (1-p)^3 < 1; Dorfman 1943).
DORFMAN_BREAK_EVEN = 1.0 - 3.0 ** (-1.0 / 3.0)

POOL = "pool"
TEST_INDIVIDUALLY = "individual"


@dataclass(frozen=True)
class PracticeSize:
    performance: Performance
    excess: float  # relative extra tests per person versus the best searched size
    near_optimal: bool


@dataclass(frozen=True)
class Advice:
    design: str
    sizes: tuple[int, ...]  # the sizes searched
    best: Performance  # the best of the searched sizes, even when it loses to individual testing
    individual: Performance
    practice: tuple[PracticeSize, ...]
    larger_size_better: bool  # the best is the largest size searched and one more would beat it

    @property
    def recommendation(self) -> str:
        """POOL when the best pool needs fewer tests per person than testing everyone alone."""
        if self.best.pool_size > 1 and self.best.tests_per_person < 1.0:
            return POOL
        return TEST_INDIVIDUALLY

    @property
    def recommended(self) -> Performance:
        return self.best if self.recommendation == POOL else self.individual

    @property
    def saving(self) -> float:
        """Share of tests saved by the best size versus individual testing (negative = costs)."""
        return 1.0 - self.best.tests_per_person

    def as_dict(self) -> dict[str, object]:
        return {
            "design": self.design,
            "sizes_searched": [min(self.sizes), max(self.sizes)],
            "recommendation": self.recommendation,
            "best": self.best.as_dict(),
            "saving_vs_individual": self.saving,
            "larger_size_better": self.larger_size_better,
            "individual": self.individual.as_dict(),
            "practice_sizes": [
                {
                    "pool_size": item.performance.pool_size,
                    "tests_per_person": item.performance.tests_per_person,
                    "excess_vs_best": item.excess,
                    "near_optimal": item.near_optimal,
                }
                for item in self.practice
            ],
        }


def check_sizes(sizes: Iterable[int]) -> tuple[int, ...]:
    checked = tuple(sorted({check_pool_size(k) for k in sizes}))
    if not checked:
        raise ValidationError("pool_sizes", "no pool sizes to search")
    return checked


def best_pool_size(
    p: float,
    se: float = 1.0,
    sp: float = 1.0,
    design: str = DORFMAN,
    sizes: Iterable[int] = DEFAULT_SIZES,
    tolerance: float = NEAR_OPTIMAL,
) -> Advice:
    """Scan `sizes` for the fewest expected tests per person and compare with 5/10/20-in-1.

    Only the expected number of tests is optimised; the accuracy of each size is reported with
    it (Dorfman's sensitivity Se^2 does not depend on k, the array's and both specificities do).
    """
    p = check_prevalence(p)
    se, sp = check_accuracy(se, "sensitivity"), check_accuracy(sp, "specificity")
    design = check_design(design)
    if not tolerance >= 0.0:
        raise ValidationError("pool_tolerance", f"tolerance must be >= 0, got {tolerance}")
    alone = individual(p, se, sp)
    if design == INDIVIDUAL:
        return Advice(design, (1,), alone, alone, (), False)
    sizes = check_sizes(sizes)
    results = [evaluate(design, p, k, se, sp) for k in sizes]
    # min() keeps the first of equal values, and sizes are ascending: ties go to the smaller pool.
    best = min(results, key=lambda r: r.tests_per_person)
    # When no pool beats one test per person, "the best pool" is only the least bad one: the edge
    # of the search and the practice sizes' nearness to it would be advice to pool, so drop them.
    worthwhile = best.pool_size > 1 and best.tests_per_person < 1.0
    return Advice(
        design=design,
        sizes=sizes,
        best=best,
        individual=alone,
        practice=_practice_sizes(design, p, se, sp, best, tolerance, worthwhile),
        larger_size_better=worthwhile and _larger_size_better(design, p, se, sp, best, sizes),
    )


def _practice_sizes(
    design: str,
    p: float,
    se: float,
    sp: float,
    best: Performance,
    tolerance: float,
    worthwhile: bool,
) -> tuple[PracticeSize, ...]:
    out = []
    for k in PRACTICE_SIZES:
        result = evaluate(design, p, k, se, sp)
        excess = result.tests_per_person / best.tests_per_person - 1.0
        near = worthwhile and excess <= tolerance and result.tests_per_person < 1.0
        out.append(PracticeSize(result, excess, near))
    return tuple(out)


def _larger_size_better(
    design: str, p: float, se: float, sp: float, best: Performance, sizes: tuple[int, ...]
) -> bool:
    """True when the optimum sits on the upper edge of the search (e.g. k = 30 at p = 0.1%)."""
    if best.pool_size != sizes[-1]:
        return False
    return evaluate(design, p, sizes[-1] + 1, se, sp).tests_per_person < best.tests_per_person
