import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contract_holds():
    """import-linter: epicore never imports django, ninja or fangkong (pyproject.toml)."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_every_engine_module_loads_no_django():
    code = (
        "import pkgutil, importlib, sys, epicore\n"
        "for m in pkgutil.walk_packages(epicore.__path__, 'epicore.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert not any(n == 'django' or n.startswith('django.') for n in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
