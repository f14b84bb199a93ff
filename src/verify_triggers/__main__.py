"""``python -m verify_triggers``: the same command as ``verify-triggers``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
