"""`fangkong`: the one command. Our jobs and every Django management command behind one name.

fangkong demo                 the platform on SQLite with a generated demo city
fangkong serve                serve the web application (waitress)
fangkong synth ...            synthetic city to Parquet (--out DIR) or the database (--db)
fangkong load-divisions ...   load the jurisdiction tree
fangkong import-people FILE   import a CSV/xlsx list of people
fangkong audit verify         check the audit chain
fangkong pool-size ...        expected tests per person and the best pool size (混采)
fangkong cert verify ...      verify an EU DCC (HC1:) or SMART Health Card (shc:/) from stdin
fangkong trace ...            close/secondary contacts and companions from files (DuckDB/Spark)
fangkong <django command>     migrate, createsuperuser, shell, ...
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys

# Jobs the engine does on files alone: no Django, no database, so they start at once.
ENGINE_COMMANDS = {
    "pool-size": "epicore.pooling.cli",
    "cert": "epicore.certs.cli",
    "trace": "epicore.tracing.cli",
}


def _run_engine_command(name: str, argv: list[str]) -> int:
    entry = importlib.import_module(ENGINE_COMMANDS[name]).main
    if "prog" in inspect.signature(entry).parameters:
        return entry(argv, prog=f"fangkong {name}")
    return entry(argv)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ENGINE_COMMANDS:
        return _run_engine_command(args[0], args[1:])
    if (
        args
        and args[0] == "synth"
        and "--db" not in args
        and not any(a in args for a in ("-h", "--help"))
    ):
        # To Parquet the engine needs no Django (and no database): start it directly.
        from epicore.synth import main as synth_main

        return synth_main(args[1:])
    if args and args[0] in ("-h", "--help", "help"):
        print(__doc__)
        args = ["help"]
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["fangkong", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
