from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.media.coturn import Coturn, running_coturn


@pytest.fixture
async def coturn(tmp_path: Path) -> AsyncIterator[Coturn]:
    """A coturn started by ``start_media_children`` in a private var dir on free ports."""
    if shutil.which("turnserver") is None:
        pytest.skip("coturn not installed")
    async with running_coturn(tmp_path / "var") as server:
        yield server
