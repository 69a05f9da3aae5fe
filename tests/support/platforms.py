"""The two OSTree eras the project supports, as the tests build them.

One row per platform; everything platform-dependent in the tests reads it from here, so that a
third platform is one more row. Test ids use ``Platform.id`` (``debian12``, ``debian13``).
"""

from __future__ import annotations

from typing import NamedTuple


class Platform(NamedTuple):
    id: str
    # How a person calls it (the demo says it).
    name: str
    # debootstrap's suite name, also how the mirror is found in the host's apt sources.
    suite: str
    ostree: str
    systemd: int
    python: str
    # ostree before 2025.2 starts ostree-finalize-staged.service through this path unit;
    # 2025.2 removed it and starts the service synchronously when it stages.
    finalize_path_unit: bool


DEBIAN_12 = Platform("debian12", "Debian 12", "bookworm", "2022.7", 252, "3.11", True)
DEBIAN_13 = Platform("debian13", "Debian 13", "trixie", "2025.2", 257, "3.13", False)
PLATFORMS = (DEBIAN_12, DEBIAN_13)
BY_ID = {platform.id: platform for platform in PLATFORMS}
