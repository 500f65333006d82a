"""The `fangkong` command routes engine jobs without starting Django."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fangkong import cli


def test_pool_size_is_answered_by_the_engine(capsys):
    assert cli.main(["pool-size", "--prevalence", "1%"]) == 0
    out = capsys.readouterr().out
    assert "best pool size 11" in out


def test_pool_size_errors_name_the_fangkong_command(capsys):
    assert cli.main(["pool-size", "--prevalence", "2"]) == 2
    assert capsys.readouterr().err.startswith("fangkong pool-size: error:")


@pytest.mark.parametrize("command", sorted(cli.ENGINE_COMMANDS))
def test_engine_commands_do_not_import_django(command):
    probe = (
        "import importlib, sys; from fangkong import cli; "
        f"importlib.import_module(cli.ENGINE_COMMANDS[{command!r}]); "
        "print('django' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_cert_verify_reads_standard_input_and_prints_json():
    data = Path(__file__).resolve().parents[1] / "engine" / "certs_data"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fangkong",
            "cert",
            "verify",
            "--trust",
            str(data / "shc_issuer_jwks.json"),
        ],
        input=(data / "shc_example_00.txt").read_text(),
        capture_output=True,
        text=True,
    )
    report = json.loads(result.stdout)
    assert (result.returncode, report["format"], report["signature_valid"]) == (0, "shc", True)
    forged = subprocess.run(
        [sys.executable, "-m", "fangkong", "cert", "verify"],
        input="HC1:NOT-A-CERT",
        capture_output=True,
        text=True,
    )
    assert forged.returncode == 1
    assert json.loads(forged.stdout)["error"]["code"]
