"""python -m epicore.synth: see epicore.synth.cli."""

import sys

from epicore.synth.cli import main

if __name__ == "__main__":  # importing the module (e.g. walk_packages) must not run the CLI
    sys.exit(main())
