"""python -m epicore.certs: see epicore.certs.cli."""

import sys

from epicore.certs.cli import main

if __name__ == "__main__":  # importing the module (e.g. walk_packages) must not run the CLI
    sys.exit(main())
