"""How many objects a repo holds and how many bytes they take."""

from __future__ import annotations

import os


def _subdirs(repo: str) -> list[os.DirEntry[str]]:
    try:
        entries = list(os.scandir(os.path.join(repo, "objects")))
    except FileNotFoundError:
        return []
    return [e for e in entries if len(e.name) == 2 and e.is_dir(follow_symlinks=False)]


def object_sizes(repo: str) -> dict[str, int]:
    """Every object file under repo/objects (`XX/REST.TYPE`) with its apparent size in bytes.

    Objects hard-linked into deployments count once, as in ostree's own prune accounting.
    Entries that vanish while scanning (a concurrent prune) are skipped.
    """
    sizes: dict[str, int] = {}
    for sub in _subdirs(repo):
        try:
            entries = list(os.scandir(sub.path))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                sizes[sub.name + "/" + entry.name] = entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return sizes


def object_names(repo: str) -> set[str]:
    """The object files under repo/objects, names only: no stat, several times cheaper."""
    names: set[str] = set()
    for sub in _subdirs(repo):
        try:
            names.update(sub.name + "/" + n for n in os.listdir(sub.path))
        except FileNotFoundError:
            continue
    return names


def freed_since(repo: str, before: dict[str, int]) -> tuple[int, int]:
    """(objects, bytes) of the objects in `before` that are gone from the repo now."""
    now = object_names(repo)
    gone = [size for name, size in before.items() if name not in now]
    return (len(gone), sum(gone))


def repo_usage(repo: str) -> tuple[int, int]:
    """(object files under repo/objects, sum of their apparent sizes in bytes)."""
    sizes = object_sizes(repo)
    return (len(sizes), sum(sizes.values()))


def format_bytes(n: int) -> str:
    """Decimal units like ostree's own messages: 56.7 MB."""
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"
