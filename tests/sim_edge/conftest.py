"""Fixtures of the simulator-edge tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .edge_helpers import StandInSite, build_site


@pytest.fixture
async def site() -> AsyncIterator[StandInSite]:
    built = build_site()
    yield built
    await built.edges.webhooks.aclose()
