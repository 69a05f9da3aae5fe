"""The validated configuration: frozen and typed, built only by ``validate.build_config``.

Named tuples rather than dataclasses: the generator builds these at boot when it renders, and
a named tuple class costs a sixth of a frozen dataclass to create.
"""

from __future__ import annotations

from typing import NamedTuple


class FinalizeConfig(NamedTuple):
    unit: str
    path_unit: str


class CleanupConfig(NamedTuple):
    mode: str
    backend: str
    max_attempts: int
    timeout: str
    helper_path: str
    ostree_path: str


class SchedulingConfig(NamedTuple):
    io_class: str
    io_priority: int
    pacing: str
    cpu_policy: str
    nice: int
    on_battery: str = "run"  # defer: ConditionACPower=true
    delay: str = "0"  # a systemd time span; not zero: the timer starts the cleanup

    @property
    def delayed(self) -> bool:
        """Whether a timer starts the cleanup (a delay that systemd reads as more than 0)."""
        from .timespan import parse

        return parse(self.delay) > 0


class SandboxConfig(NamedTuple):
    read_write_paths: tuple[str, ...]
    # Overrides of the service's sandboxing directives: (directive, lines) where None drops it.
    directives: tuple[tuple[str, tuple[str, ...] | None], ...] = ()


class InstallConfig(NamedTuple):
    wanted_by: str
    preset_priority: int


class Config(NamedTuple):
    name: str
    sysroot: str
    stamp: str
    finalize: FinalizeConfig
    cleanup: CleanupConfig
    scheduling: SchedulingConfig
    sandbox: SandboxConfig
    install: InstallConfig
    # The config files this came from, in the order they were applied, as paths on the target
    # system; empty for the embedded default.
    sources: tuple[str, ...] = ()
    # The OS mounts the sysroot read-only: the cleanup remounts it in a namespace of its own.
    sysroot_readonly: bool = False

    @property
    def unit_name(self) -> str:
        return f"{self.name}-autocleanup.service"

    @property
    def dropin_name(self) -> str:
        return f"{self.install.preset_priority:02d}-{self.name}-autocleanup.conf"

    @property
    def timer_name(self) -> str:
        return f"{self.name}-autocleanup.timer"

    @property
    def enabled_unit(self) -> str:
        """The unit the preset enables and install.wanted-by pulls in: the timer when delayed."""
        return self.timer_name if self.scheduling.delayed else self.unit_name

    @property
    def preset_name(self) -> str:
        return f"{self.install.preset_priority:02d}-{self.name}-autocleanup.preset"

    @property
    def repo_path(self) -> str:
        return f"{self.sysroot.rstrip('/')}/ostree/repo"
