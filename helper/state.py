"""The last cleanup's result, kept in STATE_DIR/last-cleanup.json for `status`."""

from __future__ import annotations

import json
import os
from typing import Any

from . import atomic

FILENAME = "last-cleanup.json"


def state_path(state_dir: str) -> str:
    return os.path.join(state_dir, FILENAME)


def write(state_dir: str, record: dict[str, Any]) -> None:
    """Atomically replace the state file; creates STATE_DIR (0755) when missing."""
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    data = json.dumps(record, indent=2, sort_keys=True) + "\n"
    atomic.write_atomic(state_path(state_dir), data.encode(), 0o644)


def read(state_dir: str) -> dict[str, Any] | None:
    """The last result, or None when there is none or it cannot be parsed."""
    try:
        with open(state_path(state_dir), encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
