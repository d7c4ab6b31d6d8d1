"""One seeded world per test process: building it (demo seeding, app lifespan, logins) is the
slow part, so every world-based test module shares it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from security.world import World, running_world


@pytest.fixture(scope="session")
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
