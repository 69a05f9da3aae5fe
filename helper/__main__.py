"""`python -m ostree_autocleanup.helper`: the same as ostree-autocleanup-helper."""

import sys

from .cli import main

sys.exit(main())
