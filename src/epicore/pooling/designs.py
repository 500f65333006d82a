"""Operating characteristics of pooled-testing (混采) designs: tests, sensitivity, specificity.

Every design is summarised per person tested: the expected number of assays, and the probability
that the whole procedure calls an infected person positive (its sensitivity) or a healthy person
negative (its specificity). The assay is described by its sensitivity `se` and specificity `sp`,
assumed the same for a pool as for one sample and independent between tests given the true
statuses: the model of Kim HY, Hudgens MG et al. 2007, "Comparison of group testing algorithms for
case identification in the presence of test error", Biometrics 63:1152-1163, section 2. Dilution
of one positive swab among k negatives is *not* modelled: a pool holding a positive tests positive
with probability `se` whatever k is (see docs/pooling.md, "Limitations").

Prevalence `p` is the probability that one person is infected, independently of the others.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from epicore.errors import ValidationError

INDIVIDUAL = "individual"
DORFMAN = "dorfman"
MATRIX = "matrix"
DESIGNS = (INDIVIDUAL, DORFMAN, MATRIX)


@dataclass(frozen=True)
class Performance:
    """What one design costs and how well it classifies, per person tested."""

    design: str
    pool_size: int  # people per pool; 1 means individual testing
    prevalence: float
    tests_per_person: float
    sensitivity: float  # P(called positive | infected) for the whole procedure
    specificity: float  # P(called negative | not infected) for the whole procedure

    @property
    def missed_per_person(self) -> float:
        """Expected infected people called negative, per person tested."""
        return self.prevalence * (1.0 - self.sensitivity)

    @property
    def false_positives_per_person(self) -> float:
        """Expected healthy people called positive, per person tested."""
        return (1.0 - self.prevalence) * (1.0 - self.specificity)

    @property
    def people_per_group(self) -> int:
        """People whose samples are processed together: k for Dorfman, k*k for a k x k array."""
        return self.pool_size * self.pool_size if self.design == MATRIX else self.pool_size

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "design": self.design,
            "pool_size": self.pool_size,
            "people_per_group": self.people_per_group,
            "prevalence": self.prevalence,
            "tests_per_person": self.tests_per_person,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "missed_per_person": self.missed_per_person,
            "false_positives_per_person": self.false_positives_per_person,
        }


# --- input checks ---------------------------------------------------------------------------


def check_prevalence(p: float) -> float:
    value = _as_float(p, "pool_prevalence", "prevalence")
    if not 0.0 <= value <= 1.0:
        raise ValidationError(
            "pool_prevalence", f"prevalence must be between 0 and 1, got {p}", value=p
        )
    return value


def check_accuracy(value: float, name: str) -> float:
    """Sensitivity or specificity: in (0, 1]; 1 means a perfect assay."""
    code = f"pool_{name}"
    number = _as_float(value, code, name)
    if not 0.0 < number <= 1.0:
        raise ValidationError(
            code, f"{name} must be above 0 and at most 1, got {value}", value=value
        )
    return number


def check_pool_size(k: int) -> int:
    # bool is an int subclass, and 10.0 silently truncating would hide a unit mistake.
    if isinstance(k, bool):
        raise ValidationError("pool_size", f"pool size must be an integer, got {k!r}", value=k)
    try:
        size = operator.index(k)
    except TypeError:
        raise ValidationError(
            "pool_size", f"pool size must be an integer, got {k!r}", value=k
        ) from None
    if size < 1:
        raise ValidationError("pool_size", f"pool size must be at least 1, got {size}", value=size)
    return size


def check_design(design: str) -> str:
    if design not in DESIGNS:
        raise ValidationError(
            "pool_design",
            f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}",
            value=design,
        )
    return design


def _as_float(value: float, code: str, name: str) -> float:
    if isinstance(value, bool):
        raise ValidationError(code, f"{name} must be a number, got {value!r}", value=value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(
            code, f"{name} must be a number, got {value!r}", value=value
        ) from None
    if number != number:  # NaN compares false with everything and would pass range checks
        raise ValidationError(code, f"{name} must be a number, got {value!r}", value=value)
    return number


# --- designs --------------------------------------------------------------------------------


def individual(p: float, se: float = 1.0, sp: float = 1.0) -> Performance:
    """One assay per person (单管单检): the procedure is exactly as accurate as the assay."""
    p, se, sp = (
        check_prevalence(p),
        check_accuracy(se, "sensitivity"),
        check_accuracy(sp, "specificity"),
    )
    return Performance(INDIVIDUAL, 1, p, 1.0, se, sp)


def pool_positive(m: int, p: float, se: float, sp: float) -> float:
    """P(a pool of m samples tests positive) = Se(1-(1-p)^m) + (1-Sp)(1-p)^m.

    A pool with at least one positive reacts with probability Se, an all-negative pool with 1-Sp
    (Kim et al. 2007, section 2.1; with Se = Sp = 1 it is Dorfman 1943's 1-(1-p)^m).
    """
    q_m = (1.0 - p) ** m
    return se * (1.0 - q_m) + (1.0 - sp) * q_m


def dorfman(p: float, k: int, se: float = 1.0, sp: float = 1.0) -> Performance:
    """Two-stage pooling: test pools of k; retest every member of a positive pool alone.

    Tests per person, Dorfman R. 1943 "The Detection of Defective Members of Large Populations",
    Ann. Math. Statist. 14(4):436-440, with test error as in Kim et al. 2007 (D2):
        E[T]/k = 1/k + P(pool of k positive) = 1/k + Se(1-(1-p)^k) + (1-Sp)(1-p)^k
    which without error is 1/k + 1 - (1-p)^k.
    Sensitivity (Kim et al. 2007, D2): an infected person must be caught by the pool test and by
    the retest, Se_D = Se^2.
    Specificity (Kim et al. 2007, D2): a healthy person is called positive when the pool reacts
    (because of the other k-1 members, or falsely) and the retest is falsely positive,
        Sp_D = 1 - (1-Sp) * P(pool of the other k-1 positive, or false positive)
             = 1 - (1-Sp) * [Se - (Se + Sp - 1)(1-p)^(k-1)].
    A pool of one is individual testing: one test, not a pool test and a retest.
    """
    p, se, sp = (
        check_prevalence(p),
        check_accuracy(se, "sensitivity"),
        check_accuracy(sp, "specificity"),
    )
    k = check_pool_size(k)
    if k == 1:
        return individual(p, se, sp)
    tests = 1.0 / k + pool_positive(k, p, se, sp)
    sensitivity = se * se
    specificity = 1.0 - (1.0 - sp) * pool_positive(k - 1, p, se, sp)
    return Performance(DORFMAN, k, p, tests, sensitivity, specificity)


def matrix(p: float, k: int, se: float = 1.0, sp: float = 1.0) -> Performance:
    """Square array testing without a master pool: k x k people, k row pools and k column pools.

    Phatarfod RM & Sudbury A 1994, "The use of a square array scheme in blood testing", Stat. Med.
    13:2337-2343; with test error, Kim et al. 2007 (A2(n:1)). Decoding rule (Kim et al. 2007): a
    person is retested alone when their row and their column both react; if some rows react but
    no column does (or the reverse, possible only through test error), everyone in the reacting
    rows (columns) is retested. The retest is the final call.

    Tests per person = 2/k + P(a given person is retested), with f(m) = pool_positive(m):
        P(retest | infected) = Se^2 + 2 Se (1-Se) (1 - f(k))^(k-1)
        P(retest | healthy)  = f(k-1)^2
                             + 2 h [(1-Sp)(q h)^(k-1) + Se((1 - f(k))^(k-1) - (q h)^(k-1))]
    where q = 1-p and h = 1 - f(k-1) is the chance that the person's own row (or column) keeps
    quiet given their own sample is negative. The three terms are "row and column react", "own
    row reacts, no column does" and its transpose; they follow by conditioning on the person's
    status and the rest of their row, given which the columns are independent (each meets the
    row in one cell). Sensitivity = Se P(retest | infected), the Se^3 + 2 Se^2 (1-Se)(1-f(k))^(k-1)
    of Kim et al. 2007 (A2); specificity = 1 - (1-Sp) P(retest | healthy). Without error this is
    Phatarfod & Sudbury's 2/k + p + (1-p)(1-(1-p)^(k-1))^2. tests/engine/test_pooling.py checks
    it against brute-force enumeration of small arrays.
    A 1 x 1 array is individual testing.
    """
    p, se, sp = (
        check_prevalence(p),
        check_accuracy(se, "sensitivity"),
        check_accuracy(sp, "specificity"),
    )
    k = check_pool_size(k)
    if k == 1:
        return individual(p, se, sp)
    q = 1.0 - p
    other_line_negative = 1.0 - pool_positive(k, p, se, sp)  # 1 - f(k): a line we know nothing of
    line_reacts = pool_positive(k - 1, p, se, sp)  # f(k-1): own line, given own sample negative
    stays_negative = 1.0 - line_reacts  # h
    # (q h)^(k-1): the other k-1 people on the own row are all healthy and none of their columns
    # reacts; the own row then reacts only by a false positive (probability 1-Sp, not Se).
    all_quiet = (q * stays_negative) ** (k - 1)

    retest_if_infected = se * se + 2.0 * se * (1.0 - se) * other_line_negative ** (k - 1)
    retest_if_healthy = line_reacts**2 + 2.0 * stays_negative * (
        (1.0 - sp) * all_quiet + se * (other_line_negative ** (k - 1) - all_quiet)
    )
    tests = 2.0 / k + p * retest_if_infected + q * retest_if_healthy
    sensitivity = se * retest_if_infected
    specificity = 1.0 - (1.0 - sp) * retest_if_healthy
    return Performance(MATRIX, k, p, tests, sensitivity, specificity)


def evaluate(design: str, p: float, k: int, se: float = 1.0, sp: float = 1.0) -> Performance:
    """Dispatch on the design name ("individual", "dorfman", "matrix")."""
    design = check_design(design)
    if design == INDIVIDUAL:
        return individual(p, se, sp)
    if design == DORFMAN:
        return dorfman(p, k, se, sp)
    return matrix(p, k, se, sp)
