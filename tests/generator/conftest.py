from __future__ import annotations

from pathlib import Path

import pytest

from support.generator_image import Image, make_image


@pytest.fixture
def image(tmp_path: Path) -> Image:
    return make_image(tmp_path)
