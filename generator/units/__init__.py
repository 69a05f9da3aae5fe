"""Rendering: a validated Config to unit files through the templates, and the sandbox as data.

Imports ``config`` and ``errors`` only, and does no I/O but reading the templates.
"""
