"""See ostree-autocleanup work: one whole update cycle in a throwaway ostree-booted container.

As root, from the checkout, with the venv the README's first command sets up:

    .venv/bin/python tests/see_it_work.py

It needs systemd-nspawn (systemd-container) and debootstrap. The cycle is driven by
tests/e2e/demo.py on top of the end-to-end tests' machinery; see its docstring.
"""

import sys

# Run as a script, this file's directory (tests/) is first on sys.path: the suite's packages.
from e2e.demo import main

if __name__ == "__main__":
    sys.exit(main())
