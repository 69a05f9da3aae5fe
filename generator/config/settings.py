"""The table of every config setting: its type, default, check and help.

This one table drives validation (``validate.py``), the JSON Schema (``schema.py``) and the
reference documentation (``reference.py``), so the three cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable, NamedTuple, Union

from . import directives, filenames, timespan, unitsafe
from .scalars import Number, decimal, misreading

CONFIG_VERSION = 1
UNIT_SUFFIX = "-autocleanup.service"


class Problem(Exception):
    """A value that a setting rejects: the message and an optional hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _kind_name(value: object) -> str:
    if isinstance(value, Number):
        return value.text
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return type(value).__name__


class Kind:
    """How a setting's YAML value is checked and turned into its Python value."""

    def parse(self, value: object) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def _need_str(value: object) -> str:
    if not isinstance(value, str):
        hint = None
        if isinstance(value, Number):
            hint = f"quote it ('{value.text}') if you mean the text"
            reading = misreading(value)
            if reading:
                hint = f"{reading}; {hint}"
        elif isinstance(value, bool):
            hint = "YAML 1.1 reads yes, no, on, off, true and false as booleans: quote it"
        raise Problem(f"expected a string, got {_kind_name(value)}", hint)
    return value


class Choice(Kind):
    """One of a few words. YAML 1.1 reads bare yes/no and on/off as booleans, so those map
    back."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def _words(self) -> tuple[str, str] | None:
        for true, false in (("yes", "no"), ("on", "off")):
            if {true, false} <= set(self.choices):
                return (true, false)
        return None

    def parse(self, value: object) -> str:
        words = self._words()
        if isinstance(value, bool) and words is not None:
            return words[0] if value else words[1]
        text = _need_str(value)
        if text not in self.choices:
            raise Problem(
                f"{text!r} is not one of {', '.join(self.choices)}", _close(text, self.choices)
            )
        return text

    def schema(self) -> dict[str, Any]:
        if self._words() is not None:
            return {"oneOf": [{"enum": list(self.choices)}, {"type": "boolean"}]}
        return {"enum": list(self.choices)}

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{c}`" for c in self.choices)


class Integer(Kind):
    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, value: object) -> int:
        if isinstance(value, Number):
            value = _integer(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Problem(f"expected an integer, got {_kind_name(value)}")
        if not self.minimum <= value <= self.maximum:
            raise Problem(f"{value} is out of range", f"allowed: {self.minimum} to {self.maximum}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def describe(self) -> str:
        return f"integer, {self.minimum} to {self.maximum}"


def _integer(number: Number) -> int:
    """The integer a person reads in ``number``; any form YAML 1.1 reads otherwise is refused."""
    value = decimal(number)
    if value is not None:
        return value
    reading = misreading(number)
    if reading:
        octal = "(octal)" in reading
        how = "without the leading zero" if octal else "in plain decimal digits"
        raise Problem(
            f"expected a decimal integer, got {number.text}", f"{reading}: write it {how}"
        )
    if isinstance(number.yaml, float) and number.yaml.is_integer():
        raise Problem(
            f"expected an integer, got {number.text}", f"write {int(number.yaml)} without a point"
        )
    raise Problem(f"expected an integer, got {number.text}")


class AbsolutePath(Kind):
    """An absolute, normalised path; ``executable``: a program the units run, so not '/'."""

    def __init__(self, executable: bool = False) -> None:
        self.executable = executable

    def parse(self, value: object) -> str:
        text = _need_str(value)
        problem = unitsafe.path_problem(text)
        if problem is None and self.executable and text == "/":
            problem = "is a directory: systemd refuses to run it ('Executable path specifies a directory')"
        if problem:
            hint = None
            if not problem.startswith("contains") and text.startswith("/"):
                hint = f"did you mean {os.path.normpath(text)!r}?"
            raise Problem(f"{text!r} {problem}", hint)
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^/[^\s%$\\\"';]*$"}

    def describe(self) -> str:
        return "absolute, normalised path"


class PathList(Kind):
    """A list of paths; each item is checked, and reported, on its own."""

    item = AbsolutePath()

    def parse(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise Problem(f"expected a list of paths, got {_kind_name(value)}")
        return tuple(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema(), "uniqueItems": True}

    def describe(self) -> str:
        return "list of absolute paths"


class DirectiveMap(Kind):
    """A mapping of sandboxing directive -> value, list of values, or null (drop it).

    The YAML reader hands over (name, value, name mark) items with the value's mark; each is
    checked on its own by the validator, so this only checks the shape.
    """

    accepts_mapping = True

    def parse(self, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Problem(
                f"expected a mapping of directive names to values, got {_kind_name(value)}"
            )
        return value

    def schema(self) -> dict[str, Any]:
        scalar = {"type": ["string", "boolean", "integer"]}
        return {
            "type": "object",
            "propertyNames": {"enum": sorted(directives.KNOWN)},
            "additionalProperties": {
                "oneOf": [scalar, {"type": "array", "items": scalar}, {"type": "null"}]
            },
        }

    def describe(self) -> str:
        return "mapping of directive to value, list of values, or null"


class UnitPrefix(Kind):
    def parse(self, value: object) -> str:
        text = _need_str(value)
        problem = unitsafe.unit_prefix_problem(text)
        if problem:
            raise Problem(f"{_shown(text)} {problem}")
        problem = filenames.prefix_problem(text)
        if problem:
            raise Problem(
                f"{_shown(text)} {problem}",
                f"at most {filenames.longest_prefix()} characters",
            )
        return text

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
            "maxLength": filenames.longest_prefix(),
        }

    def describe(self) -> str:
        return "unit-name prefix"


def _shown(text: str) -> str:
    """``text`` for a message: quoted, and cut short when it is long."""
    if len(text) <= 60:
        return repr(text)
    return f"{text[:40]!r}... ({len(text)} characters)"


class UnitName(Kind):
    """A unit name with one of ``suffixes``.

    ``directory``: we create the directory NAME + directory (``.d`` for the finalize drop-in,
    ``.wants`` for WantedBy=), so that name must fit as well. ``checked_by_tools``: the name is
    passed to systemd-analyze (see unitsafe.unit_name_problem).
    """

    def __init__(self, *suffixes: str, directory: str, checked_by_tools: bool = False) -> None:
        self.suffixes = suffixes
        self.directory = directory
        self.checked_by_tools = checked_by_tools

    def parse(self, value: object) -> str:
        text = _need_str(value)
        problem = unitsafe.unit_name_problem(text, self.suffixes, self.checked_by_tools)
        if problem:
            raise Problem(f"{_shown(text)} {problem}")
        problem = filenames.directory_problem(text, self.directory)
        if problem:
            longest = filenames.longest_unit_with(self.directory)
            raise Problem(f"{_shown(text)} {problem}", f"at most {longest} characters")
        return text

    def schema(self) -> dict[str, Any]:
        ends = "|".join(s.replace(".", r"\.") for s in self.suffixes)
        colon = "" if self.checked_by_tools else ":"
        return {
            "type": "string",
            "pattern": rf"^[A-Za-z0-9_{colon}][A-Za-z0-9{colon}_.@-]*({ends})$",
            "maxLength": filenames.longest_unit_with(self.directory),
        }

    def describe(self) -> str:
        return "unit name ending in " + " or ".join(f"`{s}`" for s in self.suffixes)


class TimeSpan(Kind):
    """A systemd time span, checked with systemd's own grammar and range (timespan.py).

    ``minimum``: the shortest span allowed, in microseconds (1 for a timeout, where systemd
    reads 0 as "no limit"; 0 where zero means "at once"). A plain YAML number is taken as the
    text it was written as: ``timeout: 90`` is ``TimeoutStartSec=90``, as systemd reads it.
    """

    def __init__(self, minimum: int = 1, finite: bool = False) -> None:
        self.minimum = minimum
        self.finite = finite

    def parse(self, value: object) -> str:
        number = value if isinstance(value, Number) else None
        if number is not None:
            value = number.text
        elif isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = _need_str(value)
        problem = unitsafe.timespan_problem(text, self.minimum)
        if problem is None and self.finite and timespan.parse(text) == timespan.USEC_INFINITY:
            problem = ("is not a finite time span", "the timer would never elapse")
        if problem:
            message, hint = problem
            reading = misreading(number) if number is not None else None
            if reading:
                hint = f"{reading}, and systemd not at all: write a span such as '1min 30s'"
            raise Problem(f"{text!r} {message}", hint)
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "integer"]}

    def describe(self) -> str:
        if self.finite:
            return "systemd time span (`0`, `90s`, `15min`)"
        return "systemd time span (`30min`, `1h 30min`, `infinity`)"


# A default is either a value or a function of the values decided so far (in table order).
Default = Union[object, Callable[[Mapping[str, Any]], Any]]


class Setting(NamedTuple):
    key: str  # dotted path of YAML keys, e.g. "cleanup.max-attempts"
    kind: Kind
    default: Default
    help: str
    default_doc: str | None = None  # how a derived default is described in the docs

    @property
    def section(self) -> str | None:
        return self.key.split(".")[0] if "." in self.key else None

    @property
    def attr(self) -> str:
        return self.key.split(".")[-1].replace("-", "_")

    def default_for(self, decided: Mapping[str, Any]) -> Any:
        if callable(self.default):
            return self.default(decided)
        return self.default


def _default_read_write_paths(v: Mapping[str, Any]) -> tuple[str, ...]:
    sysroot = v["sysroot"]
    if v["cleanup.mode"] == "prune":
        # A prune writes the whole repo (objects, .lock, state, tmp); cherry-picking less
        # aborts half-way. The stamp's directory must be writable too, or the stamp survives.
        paths = [os.path.join(sysroot, "ostree", "repo")]
        if v["cleanup.backend"] == "helper":
            # The helper takes the sysroot lock, a file libostree creates and removes in ostree/.
            paths.append(os.path.join(sysroot, "ostree"))
        paths.append(os.path.dirname(v["stamp"]))
    else:
        paths = [sysroot, "/boot"]
    out: list[str] = []
    for path in paths:
        if not any(path == p or unitsafe.is_within(path, p) for p in out):
            out.append(path)
    return tuple(out)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "name",
        UnitPrefix(),
        "ostree",
        "Prefix of the generated unit names: NAME-autocleanup.service and the drop-in "
        "PRIORITY-NAME-autocleanup.conf, PRIORITY being install.preset-priority. At most 200 "
        "characters, so that every file named after it (and the temporary name it is written "
        "under) fits a file name; no ':', which systemd-analyze verify would misread.",
    ),
    Setting("sysroot", AbsolutePath(), "/sysroot", "The OSTree sysroot to clean up."),
    Setting(
        "stamp",
        AbsolutePath(),
        lambda v: os.path.join(v["sysroot"], ".cleanup"),
        "Stamp file written after a successful finalization; the cleanup runs at the next boot "
        "only while it exists. Must lie inside the sysroot.",
        default_doc="SYSROOT/.cleanup",
    ),
    Setting(
        "sysroot-readonly",
        Choice("yes", "no"),
        "no",
        "yes: the OS mounts the sysroot read-only (ostree's `[sysroot] readonly=true`, the "
        "default of Fedora Atomic desktops, CoreOS and bootc images). The cleanup then remounts "
        "what it writes read-write in a private mount namespace of its own, as ostree does, "
        "and its sandbox allows exactly that: CAP_SYS_ADMIN, a mount namespace and mount(2) "
        "(helper backend only). There is no auto: the unit is rendered ahead of time, so it "
        "would carry those privileges on every system. `mark` remounts the stamp's mount by "
        "itself either way.",
    ),
    Setting(
        "finalize.unit",
        UnitName(".service", directory=".d", checked_by_tools=True),
        "ostree-finalize-staged.service",
        "The unit that finalizes staged deployments at shutdown; the stamp drop-in extends it.",
    ),
    Setting(
        "finalize.path-unit",
        Choice("auto", "yes", "no"),
        "auto",
        "Enable ostree-finalize-staged.path. ostree releases before 2025.2 need it to start "
        "the finalize unit; auto enables it where the installed ostree ships it, and an install "
        "into an image root whose ostree ships the finalize unit without it leaves it out of "
        "the preset.",
    ),
    Setting(
        "cleanup.mode",
        Choice("full", "prune"),
        "full",
        "full: the whole sysroot cleanup of `ostree admin cleanup` (deployments, boot "
        "directories, repo prune); prune: only prune the repo, with a narrower sandbox.",
    ),
    Setting(
        "cleanup.backend",
        Choice("helper", "ostree-cli"),
        "helper",
        "helper: ostree-autocleanup-helper through libostree, with locking, retry limit and "
        "a report of what it freed; ostree-cli: run the ostree command directly.",
    ),
    Setting(
        "cleanup.max-attempts",
        Integer(1, 100),
        3,
        "Boots on which a failing cleanup is retried before the helper gives up and removes "
        "the stamp (helper backend).",
    ),
    Setting(
        "cleanup.timeout",
        TimeSpan(),
        "30min",
        "How long the cleanup may run before systemd stops it (TimeoutStartSec=). Read as "
        "systemd reads it (a bare number is seconds: `90`); a span systemd would ignore is an "
        "error, and so is 0 (systemd's 'no limit': write `infinity`).",
    ),
    Setting(
        "cleanup.helper-path",
        AbsolutePath(executable=True),
        "/usr/bin/ostree-autocleanup-helper",
        "Absolute path of the helper that the units run.",
    ),
    Setting(
        "cleanup.ostree-path",
        AbsolutePath(executable=True),
        "/usr/bin/ostree",
        "Absolute path of the ostree command (ostree-cli backend).",
    ),
    # Defaults measured by bench/io.py: see docs/io.md.
    Setting(
        "scheduling.io-class",
        Choice("idle", "best-effort"),
        "best-effort",
        "IOSchedulingClass= of the cleanup. best-effort with io-priority 7: the lowest "
        "priority that still gets served; idle is starved by any other I/O, also while its "
        "deletions hold the filesystem journal, which then stalls every writer's commit.",
    ),
    Setting(
        "scheduling.io-priority",
        Integer(0, 7),
        7,
        "IOSchedulingPriority= of the cleanup (best-effort class; 7 is the lowest).",
    ),
    Setting(
        "scheduling.pacing",
        Choice("on", "off"),
        "on",
        "on: the helper runs the cleanup in slices and stops it while others read or write "
        "the sysroot's disk (at most 2 s at a time), flushing its own deletions between "
        "slices (helper backend through libostree; an ostree command it falls back to is not "
        "stopped). off: the cleanup runs straight through.",
    ),
    Setting(
        "scheduling.cpu-policy",
        Choice("idle", "batch", "other"),
        "batch",
        "CPUSchedulingPolicy= of the cleanup. batch: never preempts a waking task; idle, like "
        "the idle I/O class, can starve the cleanup while it holds the journal.",
    ),
    Setting("scheduling.nice", Integer(-20, 19), 19, "Nice= level of the cleanup."),
    # When the cleanup starts (issue 15): kept apart from the settings of how it runs.
    Setting(
        "scheduling.on-battery",
        Choice("run", "defer"),
        "run",
        "defer: the cleanup runs only on AC power (ConditionACPower=true; a system that knows "
        "of no AC connector counts as on AC power). On battery the stamp stays and the first "
        "boot on AC power cleans up; the retry limit counts only boots where it ran.",
    ),
    Setting(
        "scheduling.delay",
        TimeSpan(minimum=0, finite=True),
        "0",
        "How long after boot the cleanup starts. 0: as soon as the boot allows, pulled in by "
        "install.wanted-by. Anything longer: NAME-autocleanup.timer with OnBootSec= (counted "
        "from the start of the container in a container) starts the cleanup; the preset "
        "enables the timer, install.wanted-by pulls in the timer instead of the service, and "
        "the stamp decides as before whether there is anything to do.",
    ),
    Setting(
        "sandbox.read-write-paths",
        PathList(),
        _default_read_write_paths,
        "The only paths the cleanup may write (ReadWritePaths=). Must include the directory of "
        "the stamp.",
        default_doc="full: SYSROOT and /boot; prune: SYSROOT/ostree/repo, SYSROOT/ostree "
        "(helper backend: the sysroot lock) and the stamp's directory",
    ),
    Setting(
        "sandbox.directives",
        DirectiveMap(),
        {},
        "Overrides of the cleanup service's sandboxing directives (systemd.exec(5), "
        "systemd.resource-control(5)): a value replaces the service's lines for that directive, "
        "a list gives one line per item, null removes the directive. Each value is checked "
        "against what systemd 252 and 257 both read (systemd ignores a line it cannot read); "
        "`%` is refused where systemd expands specifiers and written as given where it does not "
        "(`CPUQuota: 50%`). `ostree-autocleanup verify` shows what an override does to the "
        "exposure score.",
        default_doc="{} (the hardened defaults of the cleanup mode)",
    ),
    Setting(
        "install.wanted-by",
        UnitName(".target", directory=".wants"),
        "multi-user.target",
        "Target that pulls in the cleanup at boot (WantedBy=), or its timer with "
        "scheduling.delay. The target does not wait for it.",
    ),
    Setting(
        "install.preset-priority",
        Integer(0, 99),
        50,
        "Number that prefixes the preset and drop-in file names; lower numbers win in "
        "systemd.preset(5).",
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s.section for s in SETTINGS if s.section))
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "version",
    *tuple(dict.fromkeys(s.section or s.key for s in SETTINGS)),
)


def keys_in(section: str | None) -> tuple[str, ...]:
    """The YAML keys allowed at the top level (None) or inside ``section``."""
    if section is None:
        return TOP_LEVEL_KEYS
    return tuple(s.key.split(".", 1)[1] for s in SETTINGS if s.section == section)


def _close(word: str, choices: tuple[str, ...]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


close_match = _close
