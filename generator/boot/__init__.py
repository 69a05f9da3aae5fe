"""The systemd generator that runs at every boot, and what ``install --generator`` ships for it.

Imports ``config``, ``units`` and ``errors`` (the cold path only); never ``install``,
``checks``, ``docs`` or ``cli``. Its warm path (``main``, ``entries``, ``log``) imports
nothing but the standard library's os and sys: no YAML, no jinja2.
"""
