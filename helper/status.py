"""`status`: is a cleanup pending, how often was it tried, and how did the last one end."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import state
from .errors import HelperError
from .stamp import Stamp, StampFile


def _read_stamp(stamp_path: str, sysroot: str | None) -> Stamp | None:
    """The stamp, reached inside `sysroot` (or from its own directory when no sysroot is
    given) without links, read only when it is a regular file: status never hangs on a FIFO
    and never prints what a link points to."""
    anchor = sysroot if sysroot is not None else os.path.dirname(stamp_path)
    try:
        with StampFile.open(anchor, stamp_path) as stamp_file:
            return stamp_file.read()
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise HelperError(str(e)) from e
    except OSError as e:
        raise HelperError(f"cannot read the stamp {stamp_path}: {e.strerror}") from e


def collect(stamp_path: str, state_dir: str, sysroot: str | None = None) -> dict[str, Any]:
    current = _read_stamp(stamp_path, sysroot)
    return {
        "stamp": stamp_path,
        "pending": current is not None,
        "marked": current.fields.get("marked") if current else None,
        "deployment": current.fields.get("deployment") if current else None,
        "attempts": current.attempts if current else 0,
        "stamp_fields": current.fields if current else {},
        "last": state.read(state_dir),
    }


def describe_last(last: dict[str, Any]) -> str:
    """One line about the last record of the state file (see machine.py for when each is
    written)."""
    if last.get("result") == state.STARTED:
        return (
            f"attempt {last.get('attempt', '?')} started at {last.get('started', '?')} and "
            "recorded no end (still running, or killed before it could)"
        )
    summary = f"{last.get('result', '?')} at {last.get('finished', '?')}"
    if last.get("result") == state.SUCCESS:
        summary += (
            f", freed {last.get('objects_freed', 0)} objects"
            f" ({last.get('bytes_freed', 0)} bytes) with {last.get('backend', '?')}"
        )
    elif last.get("error"):
        summary += f": {last['error']}"
    return summary


def run_status(stamp_path: str, state_dir: str, as_json: bool, sysroot: str | None = None) -> int:
    info = collect(stamp_path, state_dir, sysroot)
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
        lines.append(f"last run:    {describe_last(last)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
