"""How many objects a repo holds and how many bytes they take."""

from __future__ import annotations

import os


def repo_usage(repo: str) -> tuple[int, int]:
    """(object files under repo/objects, sum of their apparent sizes in bytes).

    Objects hard-linked into deployments count once, as in ostree's own prune accounting.
    Entries that vanish while scanning (a concurrent prune) are skipped.
    """
    count = 0
    total = 0
    try:
        subdirs = list(os.scandir(os.path.join(repo, "objects")))
    except FileNotFoundError:
        return (0, 0)
    for sub in subdirs:
        if len(sub.name) != 2 or not sub.is_dir(follow_symlinks=False):
            continue
        try:
            entries = list(os.scandir(sub.path))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
            count += 1
    return (count, total)


def format_bytes(n: int) -> str:
    """Decimal units like ostree's own messages: 56.7 MB."""
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"
