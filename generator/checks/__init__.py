"""Checks of what was rendered and of the live system: ``verify`` and ``status``.

May import ``config``, ``units``, ``rootfs``, ``options``, ``errors`` and the helper's status
reader; never ``install``, ``boot``, ``docs`` or ``cli``.
"""
