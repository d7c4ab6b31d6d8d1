import asyncio

import pytest

import jirabridge.http as http_core
from jirabridge.http.clock import FakeClock, SystemClock


def test_public_names_are_exported_and_sorted() -> None:
    assert sorted(http_core.__all__, key=str.lower) == sorted(set(http_core.__all__), key=str.lower)
    for name in http_core.__all__:
        assert getattr(http_core, name) is not None


async def test_fake_clock_moves_only_when_asked() -> None:
    clock = FakeClock(start=100.0)
    await clock.sleep(2.5)
    await clock.sleep(0)
    clock.advance(1)
    assert clock.time() == clock.monotonic() == 103.5
    assert clock.sleeps == [2.5]
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


async def test_system_clock_skips_non_positive_sleeps() -> None:
    clock = SystemClock()
    before = clock.monotonic()
    await asyncio.wait_for(clock.sleep(-5), timeout=1)
    assert clock.monotonic() >= before
