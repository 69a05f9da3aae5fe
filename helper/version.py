"""The project's version, shared by all three commands."""

VERSION = "0.1.0"
