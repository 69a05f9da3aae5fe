"""The ``ostree-autocleanup`` command and the boot-time generator, in six parts.

``cli.py`` is on top and dispatches to the parts; ``options.py`` (shared argparse pieces),
``errors.py`` (the exceptions the edges turn into messages) and ``rootfs.py`` (the one rule for
paths inside an image root) are below every part. The parts, lowest first: ``config``,
``units``, ``install``, ``boot``, ``checks``, ``docs``; ``tests/core/test_architecture.py``
keeps the direction.
"""
