"""The validated configuration: frozen and typed, built only by ``validate.build_config``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FinalizeConfig:
    unit: str
    path_unit: str


@dataclass(frozen=True)
class CleanupConfig:
    mode: str
    backend: str
    max_attempts: int
    timeout: str
    helper_path: str
    ostree_path: str


@dataclass(frozen=True)
class SchedulingConfig:
    io_class: str
    cpu_policy: str
    nice: int


@dataclass(frozen=True)
class SandboxConfig:
    read_write_paths: tuple[str, ...]
    # Overrides of the service's sandboxing directives: (directive, lines) where None drops it.
    directives: tuple[tuple[str, tuple[str, ...] | None], ...] = ()


@dataclass(frozen=True)
class InstallConfig:
    wanted_by: str
    preset_priority: int


@dataclass(frozen=True)
class Config:
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

    @property
    def unit_name(self) -> str:
        return f"{self.name}-autocleanup.service"

    @property
    def dropin_name(self) -> str:
        return f"{self.install.preset_priority:02d}-{self.name}-autocleanup.conf"

    @property
    def preset_name(self) -> str:
        return f"{self.install.preset_priority:02d}-{self.name}-autocleanup.preset"

    @property
    def repo_path(self) -> str:
        return f"{self.sysroot.rstrip('/')}/ostree/repo"
