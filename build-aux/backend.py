"""The build backend: setuptools', plus the man pages and shell completions as wheel data.

The pages and completions are rendered from the very parsers and settings table being built
(``ostree_autocleanup.generator.docs.distfiles``), so nothing of them is kept in the source tree
to go stale. They are written under ``build/share`` before setuptools runs, and pyproject.toml's
``data-files`` put them under the installation prefix's ``share/``: with a venv's ``bin/`` on
PATH, man-db then finds ``man ostree-autocleanup`` in the venv's ``share/man``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import (  # noqa: F401 - the hooks setuptools already gets right
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

SHARE = os.path.join("build", "share")
# What the source tree's top-level directories are once installed (pyproject's package-dir).
_PACKAGES = ("generator", "helper", "templates", "presets")


def _render_share_files() -> None:
    """Write every file distfiles renders under build/share, replacing what an earlier build
    left there. The source tree is imported under its installed name through a scratch
    directory of symlinks; rendering needs nothing but the standard library."""
    top = os.path.abspath(os.path.dirname(os.path.dirname(__file__)))
    with tempfile.TemporaryDirectory(prefix="ostree-autocleanup-build-") as view:
        os.mkdir(os.path.join(view, "ostree_autocleanup"))
        for name in _PACKAGES:
            os.symlink(os.path.join(top, name), os.path.join(view, "ostree_autocleanup", name))
        sys.path.insert(0, view)
        try:
            from ostree_autocleanup.generator.docs import distfiles

            files = distfiles.share_files()
        finally:
            sys.path.remove(view)
            for module in [m for m in sys.modules if m.startswith("ostree_autocleanup")]:
                del sys.modules[module]
    target = os.path.join(top, SHARE)
    shutil.rmtree(target, ignore_errors=True)
    for relative, text in files.items():
        path = os.path.join(target, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    _render_share_files()
    return str(build_meta.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    _render_share_files()
    return str(build_meta.build_editable(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    _render_share_files()
    return str(build_meta.build_sdist(sdist_directory, config_settings))
