"""Shared test support: real sysroots, systemd managers, containers."""
