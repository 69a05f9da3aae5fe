"""A reader of systemd unit files that follows systemd.syntax(7) closely enough to catch
anything that would make systemd see a different set of directives than we meant to write:
comments, section headers, backslash continuations, whitespace trimming."""

from __future__ import annotations


def parse_unit(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every directive, in order."""
    out: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in text.split("\n"):
        line = pending + raw if pending else raw
        pending = ""
        stripped = line.strip()
        if stripped.endswith("\\"):
            # systemd joins a continued line with the next, the backslash becoming a space.
            pending = stripped[:-1] + " "
            continue
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise ValueError(f"bad section header: {stripped!r}")
            section = stripped[1:-1]
            continue
        if "=" not in stripped:
            raise ValueError(f"line without '=': {stripped!r}")
        key, value = stripped.split("=", 1)
        out.append((section, key.strip(), value.strip()))
    if pending:
        out.append(("", "<continuation>", pending))
    return out
