"""An ostree-booted test system with this project installed, and the releases an updater ships.

Release N is the project's OS commit plus a payload of random files only it has, committed on
one branch the way an update server publishes them (each commit's parent is the previous one),
so the objects a removed deployment leaves behind are known and countable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.container import BASE_REF, OS_NAME, Container, OstreeImage
from support.platforms import DEBIAN_12, Platform

from .project import install_units, install_wheel

BRANCH = f"{OS_NAME}/stable"
PROJECT_REF = f"{OS_NAME}/project"
PAYLOAD_FILES = 24


class System:
    """One test machine: a sysroot image, the project committed into its OS, and its boots."""

    # Size of each random payload file of a release (a subclass may ship bigger releases).
    payload_file_bytes = 4096

    def __init__(self, image: OstreeImage, workdir: Path, platform: Platform = DEBIAN_12) -> None:
        self.image = image
        self.workdir = workdir
        # What the OS inside is (its ostree, systemd): the tests read every difference from it.
        self.platform = platform
        self.releases: dict[int, str] = {}
        self.boots = 0
        self.read_only_sysroot = False
        self.install_output = ""

    @classmethod
    def create(
        cls,
        workdir: Path,
        rootfs: Path,
        wheel: Path,
        config: str | None = None,
        generator: bool = False,
        platform: Platform = DEBIAN_12,
        base: OstreeImage | None = None,
    ) -> System:
        """A new machine: a copy of ``base`` (the rootfs committed already) if given."""
        image = base.copy(workdir) if base is not None else OstreeImage.create(workdir, rootfs)
        system = cls(image, workdir, platform)
        try:
            system._install_project(wheel, config, generator)
            system.release(1)
            image.deploy(BRANCH)
            system.release(2)
            image.deploy(BRANCH)
        except BaseException:
            image.close()
            raise
        return system

    def close(self) -> None:
        self.image.close()

    def _install_project(self, wheel: Path, config: str | None, generator: bool) -> None:
        # Inside the image, so the checkout hardlinks the repo's objects and the commit after
        # it only hashes what the install added.
        tree = self.image.sysroot / "e2e-tree"
        self.image.checkout(BASE_REF, tree)
        try:
            install_wheel(wheel, tree)
            config_path = None
            if config is not None:
                config_path = self.workdir / "config.yaml"
                config_path.write_text(config)
            self.install_output = install_units(tree, config_path, generator)
            self.image.commit(PROJECT_REF, [f"dir={tree}"], "OS with ostree-autocleanup")
        finally:
            shutil.rmtree(tree)

    def release(self, number: int) -> str:
        """Publish release NUMBER on the branch; its commit checksum."""
        payload = self.workdir / f"payload-{number}"
        files = payload / "usr" / "share" / "e2e-payload"
        files.mkdir(parents=True)
        for index in range(PAYLOAD_FILES):
            (files / f"release-{number}-{index}").write_bytes(os.urandom(self.payload_file_bytes))
        checksum = self.image.commit(
            BRANCH, [f"ref={PROJECT_REF}", f"dir={payload}"], f"release {number}"
        )
        shutil.rmtree(payload)
        self.releases[number] = checksum
        return checksum

    def boot(self) -> Container:
        """The next boot, from the deployment the bootloader would pick."""
        self.boots += 1
        return Container(
            self.image,
            self.workdir / f"boot-{self.boots}.log",
            read_only_sysroot=self.read_only_sysroot,
        )

    def make_sysroot_read_only(self) -> None:
        """From the next boot on, the sysroot is read-only as ostree's sysroot.readonly has it.

        The repo config says so (ostree-remount then leaves /sysroot read-only) and every boot
        mounts /sysroot and /boot read-only, as ostree-prepare-root does on such systems.
        """
        self.image.ostree(f"--repo={self.image.repo}", "config", "set", "sysroot.readonly", "true")
        self.read_only_sysroot = True

    def deployed_commits(self) -> list[str]:
        return sorted(name.split(".")[0] for name in self.image.deployments())

    def stamp(self, path: str = "/.cleanup") -> Path:
        """A path under the sysroot, as the host sees it (the default config's stamp)."""
        return self.image.sysroot / path.lstrip("/")
