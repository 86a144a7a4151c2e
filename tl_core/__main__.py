"""`python -m tl_core`: the command-line interface (see tl_core/cli.py)."""

import sys

from tl_core.cli import main

sys.exit(main())
