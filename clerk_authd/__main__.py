"""``python -m clerk_authd``: the same command line as ``clerk-authd``."""

import sys

from clerk_authd.cli import main

sys.exit(main())
