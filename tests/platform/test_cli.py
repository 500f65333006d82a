"""The `fangkong` command routes engine jobs without starting Django."""

from __future__ import annotations

import subprocess
import sys

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
