"""What an install would change in a root, decided before anything is written.

The plan compares the files we want with what is in the root and with the manifest of the last
install. It is also what ``--dry-run`` prints, so the dry run and the real run can never
disagree about what they do.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from ..rootfs import Entry, Root
from .manifest import FileRecord, Manifest, sha256


@dataclass(frozen=True)
class Wanted:
    """One file install wants in the root."""

    path: str
    data: bytes
    mode: int


@dataclass(frozen=True)
class Step:
    """What happens to one path.

    kind: "create" (absent now), "replace" (ours or forced, differs), "keep" (already right),
    "remove" (ours from the last install, no longer wanted).
    """

    kind: str
    path: str
    old: Entry
    new: Wanted | None
    owned: bool  # recorded in the new manifest (False for an identical file we did not write)


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    conflicts: tuple[str, ...]  # one sentence each; install refuses unless --force
    refusals: tuple[str, ...]  # problems even --force does not override
    missing_directories: tuple[str, ...]

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.kind != "keep")

    def records(self) -> tuple[FileRecord, ...]:
        """What the manifest lists once the plan has been carried out."""
        return tuple(
            FileRecord(s.path, (sha256(s.new.data),), s.new.mode)
            for s in self.steps
            if s.new is not None and s.owned
        )


def make_plan(root: Root, wanted: Mapping[str, Wanted], old: Manifest | None, force: bool) -> Plan:
    steps: list[Step] = []
    conflicts: list[str] = []
    refusals: list[str] = []
    missing: dict[str, None] = {}
    for path in sorted(wanted):
        want = wanted[path]
        entry = root.entry(path)
        record = old.file(path) if old else None
        if entry.kind == "missing":
            steps.append(Step("create", path, entry, want, True))
            parent = path.rpartition("/")[0]
            missing.update(dict.fromkeys(root.missing_directories(parent)))
        elif entry.kind == "file":
            assert entry.data is not None
            ours = record is not None and record.owns(entry.data)
            if entry.data == want.data and entry.mode == want.mode:
                steps.append(Step("keep", path, entry, want, ours or record is not None))
            elif ours or force:
                steps.append(Step("replace", path, entry, want, True))
            elif record is not None:
                conflicts.append(f"{root.show(path)} was changed after it was installed")
            else:
                conflicts.append(f"{root.show(path)} exists and was not installed by us")
        elif entry.kind == "symlink":
            if force:
                steps.append(Step("replace", path, entry, want, True))
            else:
                conflicts.append(
                    f"{root.show(path)} is a symlink to {entry.target} that we did not make"
                )
        else:
            refusals.append(f"{root.show(path)} is a {entry.kind}, not a file")
    for record in old.files if old else ():
        if record.path in wanted:
            continue
        entry = root.entry(record.path)
        if entry.kind == "missing":
            continue
        if (entry.kind == "file" and entry.data is not None and record.owns(entry.data)) or (
            force and entry.kind in ("file", "symlink")
        ):
            steps.append(Step("remove", record.path, entry, None, False))
        else:
            conflicts.append(
                f"{root.show(record.path)} is no longer installed but was changed after it was"
            )
    return Plan(tuple(steps), tuple(conflicts), tuple(refusals), tuple(missing))


def describe(plan: Plan, root: Root) -> list[str]:
    """Lines for --dry-run: each change, with a unified diff of every replaced file."""
    lines: list[str] = []
    for step in plan.changes:
        shown = root.show(step.path)
        if step.kind == "create":
            assert step.new is not None
            lines.append(f"would create {shown} (mode {step.new.mode:04o})")
        elif step.kind == "remove":
            lines.append(f"would remove {shown}")
        else:
            assert step.new is not None
            lines.append(f"would replace {shown}")
            lines.extend(_diff(step, shown))
    return lines


def _diff(step: Step, shown: str) -> list[str]:
    assert step.new is not None
    if step.old.kind == "symlink":
        return [f"  (a symlink to {step.old.target} becomes a file)"]
    old_data = step.old.data or b""
    notes = []
    if step.old.mode != step.new.mode:
        notes.append(f"  (mode {step.old.mode:04o} -> {step.new.mode:04o})")
    if old_data == step.new.data:
        return notes
    try:
        old_text = old_data.decode().splitlines(keepends=True)
        new_text = step.new.data.decode().splitlines(keepends=True)
    except UnicodeDecodeError:
        return [*notes, "  (binary content differs)"]
    diff = difflib.unified_diff(old_text, new_text, fromfile=shown, tofile=shown)
    return notes + [line.rstrip("\n") for line in diff]
