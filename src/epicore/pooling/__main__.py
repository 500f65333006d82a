"""python -m epicore.pooling: see epicore.pooling.cli."""

import sys

from epicore.pooling.cli import main

if __name__ == "__main__":  # importing the module (e.g. walk_packages) must not run the CLI
    sys.exit(main())
