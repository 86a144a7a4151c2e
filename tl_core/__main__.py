"""`python -m tl_core`: the command-line interface (see tl_core/cli.py)."""

import sys

from tl_core.cli import main

if __name__ == "__main__":  # not when the bench's spawned processes import this module
    sys.exit(main())
