"""One seeded world for the security package: building it (demo seeding, app lifespan, logins)
is the slow part, so every world-based test module shares it.

The world runs a job engine, and DBOS allows one per process, so the world must be gone before
any other test starts its own: it is package-scoped, and every test here is put in one xdist
group (``--dist loadgroup``) so the package runs contiguously on one worker and builds it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from security.world import World, running_world


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("security-world"))


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo-seeded app, with the demo admin (owner) and mallory (a member)."""
    with running_world(
        tmp_path_factory.mktemp("security-world"),
        # Generous enough that the walks below never trip it; its own tests use their own.
        api_rate_limit_per_minute=100_000,
        api_key_rate_limit_per_minute=100_000,
        api_rate_burst=10_000,
        login_attempts_per_minute=1_000,
        login_attempts_burst=100,
    ) as built:
        yield built
