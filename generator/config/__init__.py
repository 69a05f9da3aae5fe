"""The config model: the settings table, reading YAML with positions, validation, layering.

Imports nothing of the project but ``errors`` and ``rootfs``: no rendering, installing or CLI.
"""
