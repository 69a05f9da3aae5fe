"""``install`` and ``uninstall``: the rendered files into an image root or DESTDIR, and out.

May import ``config``, ``units``, ``boot`` (what ``--generator`` ships), ``rootfs``,
``options`` and ``errors``; never ``checks``, ``docs`` or ``cli``.
"""
