"""Pooled testing: closed forms, optimum, properties, Monte-Carlo agreement."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epicore.errors import ValidationError
from epicore.pooling import advice, designs, simulate

prevalences = st.floats(0.0, 1.0)
low_prevalences = st.floats(1e-4, 0.25)
accuracies = st.floats(0.5, 1.0)  # a usable assay: Se + Sp > 1
sizes = st.integers(2, 40)


# --- closed forms ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.001, 0.01, 0.05, 0.2, 0.5])
@pytest.mark.parametrize("k", [2, 5, 10, 20])
def test_dorfman_without_error_is_the_textbook_formula(p, k):
    # Dorfman 1943: 1/k + 1 - (1-p)^k tests per person.
    result = designs.dorfman(p, k)
    assert result.tests_per_person == pytest.approx(1 / k + 1 - (1 - p) ** k)
    assert (result.sensitivity, result.specificity) == (1.0, 1.0)


def test_dorfman_classic_optimum_at_one_percent():
    found = advice.best_pool_size(0.01)
    assert found.best.pool_size == 11
    assert found.best.tests_per_person == pytest.approx(0.1956, abs=5e-5)
    assert found.saving == pytest.approx(0.804, abs=1e-3)
    assert found.recommendation == advice.POOL
    ten = {item.performance.pool_size: item for item in found.practice}[10]
    assert ten.near_optimal and ten.excess < 0.001  # 10-in-1 is as good as 11 in practice


def test_dorfman_optimum_at_one_per_thousand_is_beyond_the_default_search():
    # Unconstrained k = 32 (about 1/sqrt(p)); within 2..30 the search stops at its edge, says so.
    wide = advice.best_pool_size(0.001, sizes=range(2, 101))
    assert wide.best.pool_size == 32
    assert wide.best.tests_per_person == pytest.approx(0.0628, abs=1e-4)
    default = advice.best_pool_size(0.001)
    assert default.best.pool_size == 30 and default.larger_size_better
    assert default.best.tests_per_person - wide.best.tests_per_person < 2e-4  # flat near optimum
    assert not wide.larger_size_better


def test_dorfman_with_error_matches_kim_2007():
    p, k, se, sp = 0.05, 8, 0.9, 0.95
    q = 1 - p
    result = designs.dorfman(p, k, se, sp)
    # Kim et al. 2007 (D2): E[T]/k, Se^2 and Sp_D = 1 - (1-Sp)[Se + (1-Se-Sp)(1-p)^(k-1)].
    assert result.tests_per_person == pytest.approx(1 / k + se + (1 - se - sp) * q**k)
    assert result.sensitivity == pytest.approx(se**2)
    assert result.specificity == pytest.approx(1 - (1 - sp) * (se + (1 - se - sp) * q ** (k - 1)))
    assert result.missed_per_person == pytest.approx(p * (1 - se**2))
    assert result.false_positives_per_person == pytest.approx(q * (1 - result.specificity))


@pytest.mark.parametrize("p", [0.0, 0.01, 0.05, 0.3])
@pytest.mark.parametrize("k", [2, 3, 10, 16])
def test_matrix_without_error_is_phatarfod_sudbury(p, k):
    q = 1 - p
    result = designs.matrix(p, k)
    assert result.tests_per_person == pytest.approx(2 / k + p + q * (1 - q ** (k - 1)) ** 2)
    assert result.people_per_group == k * k


def test_matrix_sensitivity_has_kim_2007_form():
    p, k, se, sp = 0.02, 6, 0.9, 0.97
    f_k = designs.pool_positive(k, p, se, sp)
    expected = se**3 + 2 * se**2 * (1 - se) * (1 - f_k) ** (k - 1)  # Kim et al. 2007 (A2)
    assert designs.matrix(p, k, se, sp).sensitivity == pytest.approx(expected)


def _exact_matrix(p, k, se, sp):
    """Brute force over every status pattern and every row/column outcome of a k x k array."""
    cells = list(itertools.product(range(k), repeat=2))
    tests = called_infected = infected = called_healthy = 0.0
    for status in itertools.product((0, 1), repeat=k * k):
        cell = dict(zip(cells, status, strict=True))
        weight = math.prod(p if s else 1 - p for s in status)
        lines = [any(cell[i, j] for j in range(k)) for i in range(k)]
        lines += [any(cell[i, j] for i in range(k)) for j in range(k)]
        for outcome in itertools.product((0, 1), repeat=2 * k):
            chance = weight
            for holds, reacts in zip(lines, outcome, strict=True):
                pr = se if holds else 1 - sp
                chance *= pr if reacts else 1 - pr
            rows, cols = outcome[:k], outcome[k:]
            retested = 0
            for (i, j), s in cell.items():
                hit = (rows[i] and cols[j]) or (rows[i] and not any(cols))
                hit = hit or (cols[j] and not any(rows))
                retested += bool(hit)
                if s:
                    infected += chance
                    called_infected += chance * se * bool(hit)
                else:
                    called_healthy += chance * (1 - sp) * bool(hit)
            tests += chance * (2 * k + retested)
    n = k * k
    return tests / n, called_infected / infected, 1 - called_healthy / (n - infected)


@pytest.mark.parametrize("p, k, se, sp", [(0.1, 2, 0.8, 0.9), (0.3, 3, 0.7, 0.6)])
def test_matrix_with_error_matches_brute_force(p, k, se, sp):
    tests, sens, spec = _exact_matrix(p, k, se, sp)
    result = designs.matrix(p, k, se, sp)
    assert result.tests_per_person == pytest.approx(tests, rel=1e-9)
    assert result.sensitivity == pytest.approx(sens, rel=1e-9)
    assert result.specificity == pytest.approx(spec, rel=1e-9)


@pytest.mark.parametrize("design", [designs.DORFMAN, designs.MATRIX])
def test_pool_of_one_is_individual_testing(design):
    result = designs.evaluate(design, 0.2, 1, 0.9, 0.8)
    assert (result.design, result.tests_per_person) == (designs.INDIVIDUAL, 1.0)
    assert (result.sensitivity, result.specificity) == (0.9, 0.8)


# --- properties -----------------------------------------------------------------------------


@given(prevalences, prevalences, sizes, accuracies, accuracies)
def test_dorfman_tests_grow_with_prevalence(p1, p2, k, se, sp):
    low, high = sorted((p1, p2))
    a, b = designs.dorfman(low, k, se, sp), designs.dorfman(high, k, se, sp)
    assert a.tests_per_person <= b.tests_per_person + 1e-12


@given(prevalences, prevalences, st.integers(2, 30))
def test_matrix_tests_grow_with_prevalence_without_error(p1, p2, k):
    low, high = sorted((p1, p2))
    # Floating point: equal expectations may differ in the last bit (1.0833333333333335).
    assert (
        designs.matrix(low, k).tests_per_person <= designs.matrix(high, k).tests_per_person + 1e-12
    )


def test_matrix_with_false_positives_can_cost_more_at_zero_prevalence():
    # Not monotone with error: with nobody infected, a falsely reacting row meets no reacting
    # column and sends all 30 of its people to retest; one true case makes its column react and
    # narrows the retest to crossings. The simulation sees the same thing.
    empty, sparse = designs.matrix(0.0, 30, 1.0, 0.95), designs.matrix(0.0025, 30, 1.0, 0.95)
    assert empty.tests_per_person > sparse.tests_per_person
    sim = simulate.simulate_matrix(0.0, 30, 1.0, 0.95, arrays=2_000, seed=8)
    assert _agrees(empty.tests_per_person, sim.tests_per_person, sim.tests_se)


@given(prevalences, sizes, accuracies, accuracies, st.sampled_from(designs.DESIGNS))
def test_procedure_never_beats_the_assay_on_sensitivity_nor_loses_on_specificity(
    p, k, se, sp, design
):
    # Every call ends with an individual assay, so an infected person needs at least that one
    # positive and a healthy person at least that one false positive.
    result = designs.evaluate(design, p, k, se, sp)
    assert 0.0 <= result.sensitivity <= se + 1e-12
    assert sp - 1e-12 <= result.specificity <= 1.0
    assert result.tests_per_person > 0


@given(prevalences, accuracies, accuracies, st.sampled_from([designs.DORFMAN, designs.MATRIX]))
def test_best_size_is_no_worse_than_any_size_searched(p, se, sp, design):
    found = advice.best_pool_size(p, se, sp, design=design, sizes=range(2, 16))
    for k in range(2, 16):
        assert (
            found.best.tests_per_person <= designs.evaluate(design, p, k, se, sp).tests_per_person
        )
    assert found.recommended.tests_per_person <= 1.0


@given(st.floats(1e-4, 0.3), st.floats(1e-4, 0.3))
def test_dorfman_best_size_shrinks_as_prevalence_rises(p1, p2):
    low, high = sorted((p1, p2))
    a, b = advice.best_pool_size(low), advice.best_pool_size(high)
    assert a.best.pool_size >= b.best.pool_size


def test_matrix_beats_dorfman_at_low_prevalence_with_error():
    # Kim et al. 2007's finding: arrays need fewer tests than Dorfman at low prevalence.
    d = advice.best_pool_size(0.01, 0.95, 0.99, design=designs.DORFMAN)
    m = advice.best_pool_size(0.01, 0.95, 0.99, design=designs.MATRIX)
    assert m.best.tests_per_person < d.best.tests_per_person
    assert m.best.specificity > d.best.specificity


# --- high prevalence ------------------------------------------------------------------------


def test_dorfman_break_even_is_about_thirty_percent():
    assert advice.DORFMAN_BREAK_EVEN == pytest.approx(0.3066, abs=1e-4)
    below = advice.best_pool_size(advice.DORFMAN_BREAK_EVEN - 0.005)
    above = advice.best_pool_size(advice.DORFMAN_BREAK_EVEN + 0.005, sizes=range(2, 101))
    assert below.recommendation == advice.POOL and below.best.pool_size == 3
    assert above.recommendation == advice.TEST_INDIVIDUALLY
    assert above.recommended.pool_size == 1 and above.saving < 0
    assert not above.larger_size_better
    assert not any(item.near_optimal for item in above.practice)


def test_individual_design_needs_no_search():
    found = advice.best_pool_size(0.05, 0.9, 0.99, design=designs.INDIVIDUAL)
    assert found.best.tests_per_person == 1.0 and found.recommendation == advice.TEST_INDIVIDUALLY


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, code",
    [
        (lambda: designs.dorfman(-0.01, 5), "pool_prevalence"),
        (lambda: designs.dorfman(1.01, 5), "pool_prevalence"),
        (lambda: designs.dorfman(float("nan"), 5), "pool_prevalence"),
        (lambda: designs.dorfman("often", 5), "pool_prevalence"),
        (lambda: designs.dorfman(0.1, 5, se=0.0), "pool_sensitivity"),
        (lambda: designs.dorfman(0.1, 5, se=1.2), "pool_sensitivity"),
        (lambda: designs.matrix(0.1, 5, sp=0.0), "pool_specificity"),
        (lambda: designs.matrix(0.1, 5, sp=-1), "pool_specificity"),
        (lambda: designs.dorfman(0.1, 0), "pool_size"),
        (lambda: designs.dorfman(0.1, 2.5), "pool_size"),
        (lambda: designs.dorfman(0.1, 10.0), "pool_size"),
        (lambda: designs.dorfman(0.1, True), "pool_size"),
        (lambda: designs.evaluate("hypercube", 0.1, 5), "pool_design"),
        (lambda: advice.best_pool_size(0.1, sizes=[]), "pool_sizes"),
        (lambda: advice.best_pool_size(0.1, sizes=[5, 0]), "pool_size"),
    ],
)
def test_bad_inputs_get_a_precise_code(call, code):
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.code == code


def test_edges_of_the_valid_ranges_are_accepted():
    assert designs.dorfman(0.0, 10).tests_per_person == pytest.approx(0.1)
    assert designs.dorfman(1.0, 10).tests_per_person == pytest.approx(1.1)
    assert designs.matrix(0.5, 4, se=1.0, sp=1e-9).tests_per_person > 0


# --- Monte Carlo ----------------------------------------------------------------------------


def _agrees(analytic, observed, se, z=4.5):
    """Within z standard errors (plus a hair for rounding); z = 4.5 keeps seeded runs stable."""
    return abs(analytic - observed) <= z * se + 1e-9


@pytest.mark.parametrize(
    "p, k, se, sp, seed",
    [(0.05, 5, 0.9, 0.95, 1), (0.02, 10, 0.95, 0.99, 2), (0.2, 3, 0.8, 0.9, 3)],
)
def test_dorfman_with_error_matches_simulation(p, k, se, sp, seed):
    result = designs.dorfman(p, k, se, sp)
    sim = simulate.simulate_dorfman(p, k, se, sp, groups=20_000, seed=seed)
    assert _agrees(result.tests_per_person, sim.tests_per_person, sim.tests_se)
    assert _agrees(result.sensitivity, sim.sensitivity, sim.sensitivity_se)
    assert _agrees(result.specificity, sim.specificity, sim.specificity_se)


@pytest.mark.parametrize(
    "p, k, se, sp, seed",
    [(0.05, 5, 0.9, 0.95, 4), (0.02, 10, 0.95, 0.99, 5), (0.2, 3, 0.7, 0.8, 6)],
)
def test_matrix_with_error_matches_simulation(p, k, se, sp, seed):
    result = designs.matrix(p, k, se, sp)
    sim = simulate.simulate_matrix(p, k, se, sp, arrays=4_000, seed=seed)
    assert _agrees(result.tests_per_person, sim.tests_per_person, sim.tests_se)
    assert _agrees(result.sensitivity, sim.sensitivity, sim.sensitivity_se)
    assert _agrees(result.specificity, sim.specificity, sim.specificity_se)


def test_simulation_without_error_is_exact_on_the_calls():
    sim = simulate.simulate_matrix(0.05, 6, arrays=500, seed=7)
    assert (sim.sensitivity, sim.specificity) == (1.0, 1.0)
    sim = simulate.simulate_dorfman(0.05, 1, groups=500, seed=7)
    assert sim.tests_per_person == 1.0
