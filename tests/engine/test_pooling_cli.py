"""python -m epicore.pooling: output, JSON and exit codes."""

import json
import subprocess
import sys

import pytest

from epicore.pooling.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_search_names_the_best_size(capsys):
    status, out, err = run(capsys, "--prevalence", "0.01")
    assert status == 0 and not err
    assert "best pool size 11 (searched 2..30): 0.1956 tests per person" in out
    assert "10: 0.1956 (+0.0%, near-optimal)" in out
    assert "advice: pool in 11; 10-in-1 is within 10% of it" in out


def test_given_size_with_error(capsys):
    argv = ["--prevalence", "1%", "--sensitivity", "0.95", "--specificity", "0.99"]
    status, out, _ = run(capsys, *argv, "--pool-size", "10")
    assert status == 0
    assert "pool size 10: 0.1999 tests per person, saving 80.0%" in out
    assert "procedure sensitivity 90.2500%" in out


def test_json_output(capsys):
    argv = ["--prevalence", "0.001", "--design", "matrix", "--json"]
    status, out, _ = run(capsys, *argv)
    data = json.loads(out)
    assert status == 0 and data["mode"] == "best" and data["design"] == "matrix"
    assert data["recommendation"] == "pool"
    assert data["best"]["people_per_group"] == data["best"]["pool_size"] ** 2
    assert [row["pool_size"] for row in data["practice_sizes"]] == [5, 10, 20]


def test_edge_of_search_is_reported(capsys):
    _, out, _ = run(capsys, "--prevalence", "0.001")
    assert "best pool size 30" in out and "optimum is beyond 30" in out


def test_high_prevalence_advises_individual_testing(capsys):
    status, out, _ = run(capsys, "--prevalence", "0.4")
    assert status == 0
    assert "advice: test individually" in out
    status, out, _ = run(capsys, "--prevalence", "0.4", "--pool-size", "5", "--json")
    assert json.loads(out)["saving_vs_individual"] < 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--prevalence", "1.5"], "prevalence must be between 0 and 1"),
        (["--prevalence", "often"], "not a number or percentage"),
        (["--prevalence", "0.01", "--sensitivity", "0"], "sensitivity must be above 0"),
        (["--prevalence", "0.01", "--specificity", "101%"], "specificity must be above 0"),
        (["--prevalence", "0.01", "--pool-size", "0"], "pool size must be at least 1"),
        (["--prevalence", "0.01", "--pool-size", "2.5"], "invalid int value"),
        (["--prevalence", "0.01", "--design", "hypercube"], "invalid choice"),
        (["--prevalence", "0.01", "--min-size", "9", "--max-size", "3"], "is above --max-size"),
        ([], "--prevalence"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and not out
    assert message in err


def test_help_exits_0(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "--prevalence" in out


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "epicore.pooling", "--prevalence", "0.05"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "best pool size 5" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "epicore.pooling", "--prevalence", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "error: prevalence" in bad.stderr
