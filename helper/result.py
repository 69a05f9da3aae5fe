"""What a cleanup backend reports back."""

from __future__ import annotations


class Freed:
    """Objects and bytes a cleanup removed from the repo, and which backend did it."""

    def __init__(self, objects: int, nbytes: int, backend: str) -> None:
        self.objects = objects
        self.bytes = nbytes
        self.backend = backend
