"""python -m epicore.tracing (or spark-submit .../epicore/tracing/__main__.py): see cli.py."""

import sys

from epicore.tracing.cli import main

if __name__ == "__main__":  # importing the module (e.g. walk_packages) must not run the CLI
    sys.exit(main())
