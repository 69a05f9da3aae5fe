"""`status`: is a cleanup pending, how often was it tried, and how did the last one end."""

from __future__ import annotations

import json
import sys
from typing import Any

from . import stamp, state
from .errors import HelperError


def collect(stamp_path: str, state_dir: str) -> dict[str, Any]:
    try:
        current = stamp.read(stamp_path)
    except OSError as e:
        raise HelperError(f"cannot read the stamp {stamp_path}: {e.strerror}") from e
    return {
        "stamp": stamp_path,
        "pending": current is not None,
        "marked": current.fields.get("marked") if current else None,
        "deployment": current.fields.get("deployment") if current else None,
        "attempts": current.attempts if current else 0,
        "stamp_fields": current.fields if current else {},
        "last": state.read(state_dir),
    }


def run_status(stamp_path: str, state_dir: str, as_json: bool) -> int:
    info = collect(stamp_path, state_dir)
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2, sort_keys=True) + "\n")
        return 0
    lines = [f"stamp:       {stamp_path}"]
    if info["pending"]:
        lines.append("pending:     yes, cleanup runs at the next boot")
        lines.append(f"marked:      {info['marked'] or 'unknown'}")
        lines.append(f"deployment:  {info['deployment'] or 'unknown'}")
        lines.append(f"attempts:    {info['attempts']}")
    else:
        lines.append("pending:     no")
    last = info["last"]
    if last is None:
        lines.append("last run:    none recorded")
    else:
        summary = f"{last.get('result', '?')} at {last.get('finished', '?')}"
        if last.get("result") == "success":
            summary += (
                f", freed {last.get('objects_freed', 0)} objects"
                f" ({last.get('bytes_freed', 0)} bytes) with {last.get('backend', '?')}"
            )
        elif last.get("error"):
            summary += f": {last['error']}"
        lines.append(f"last run:    {summary}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
