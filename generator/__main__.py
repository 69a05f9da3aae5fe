"""``python -m ostree_autocleanup.generator``: the same as ``ostree-autocleanup``."""

import sys

from .cli import main

sys.exit(main())
