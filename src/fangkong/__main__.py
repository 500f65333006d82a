import sys

from fangkong.cli import main

sys.exit(main())
