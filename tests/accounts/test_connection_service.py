"""ConnectionService against the simulator: test before save, scoping, swapped ciphertexts,
key rotation, OAuth clients that refresh through ensure_valid_token."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.errors import NotFoundError, SecretDecryptionError, ValidationError
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.connections import (
    ConnectionChanges,
    ConnectionInput,
    ConnectionService,
    ConnectionTestFailed,
    rotate_all_secrets,
)
from jirabridge.service.url_safety import UnsafeUrlError
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.account_models import ConnectionKind
from jirabridge.store.accounts import UserRepository, get_connection_unscoped
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.report_cache import connection_cache_site
from jirabridge.store.report_cache_models import ReportCacheBoardRow, ReportCacheIssueRow
from jirabridge.store.secrets import SecretBox, generate_key

Sessions = async_sessionmaker[AsyncSession]
SIM_URL = "http://sim.test"
KEY_1 = generate_key()
KEY_2 = generate_key()


async def resolve(host: str, port: int) -> Sequence[str]:
    return {"sim.test": ["127.0.0.1"], "public.example": ["93.184.216.34"]}[host]


@pytest.fixture
def sim() -> Starlette:
    return create_sim_app(SimConfig(base_url=SIM_URL))


def sim_runtime(app: Starlette) -> SimRuntime:
    runtime: SimRuntime = app.state.sim
    return runtime


def service_for(sessions: Sessions, sim: Starlette, box: SecretBox) -> ConnectionService:
    secrets = ConnectionSecrets(box)
    clients = JiraClientFactory(secrets, transport=httpx.ASGITransport(app=sim))
    return ConnectionService(sessions, secrets, clients, allow_private_urls=True, resolver=resolve)


async def users(sessions: Sessions, *emails: str) -> list[str]:
    async with write_transaction(sessions) as s:
        return [(await UserRepository(s).create(email=e, password_hash=None)).id for e in emails]


def cloud_input(sim: Starlette, *, token: str | None = None) -> ConnectionInput:
    runtime = sim_runtime(sim)
    return ConnectionInput(
        name="Sim",
        kind=ConnectionKind.CLOUD_TOKEN,
        base_url=SIM_URL,
        email=runtime.admin_email,
        secret=token if token is not None else runtime.admin_token,
    )


async def test_create_tests_then_saves_site_info(acc_sessions: Sessions, sim: Starlette) -> None:
    (alice,) = await users(acc_sessions, "a@x.io")
    service = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    row, outcome = await service.create(alice, cloud_input(sim))
    assert outcome is not None
    assert outcome.ok, outcome.message
    saved = await service.get(alice, row.id)
    assert saved.last_test_ok is True
    assert saved.deployment_type == "Cloud"
    assert saved.server_version
    assert saved.secret_ciphertext is not None
    assert sim_runtime(sim).admin_token not in saved.secret_ciphertext
    assert (await service.test(alice, row.id)).ok


async def test_failing_test_saves_nothing_unless_forced(
    acc_sessions: Sessions, sim: Starlette
) -> None:
    (alice,) = await users(acc_sessions, "a@x.io")
    service = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    with pytest.raises(ConnectionTestFailed, match="nothing was saved") as info:
        await service.create(alice, cloud_input(sim, token="wrong-token"))
    assert "wrong-token" not in str(info.value)
    assert await service.list(alice) == []
    row, outcome = await service.create(alice, cloud_input(sim, token="wrong-token"), force=True)
    assert outcome is not None
    assert not outcome.ok
    assert (await service.get(alice, row.id)).last_test_ok is False


async def test_bad_input_refused_before_any_network(acc_sessions: Sessions, sim: Starlette) -> None:
    (alice,) = await users(acc_sessions, "a@x.io")
    service = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    good = cloud_input(sim)
    for bad, match in [
        (ConnectionInput("", good.kind, SIM_URL, "t", good.email), "name"),
        (ConnectionInput("n", good.kind, SIM_URL, "", good.email), "token"),
        (ConnectionInput("n", good.kind, SIM_URL, "t", None), "e-mail"),
        (ConnectionInput("n", ConnectionKind.OAUTH, SIM_URL, "t"), "OAuth"),
    ]:
        with pytest.raises(ValidationError, match=match):
            await service.create(alice, bad)
    strict = ConnectionService(
        acc_sessions,
        ConnectionSecrets(SecretBox([KEY_1])),
        JiraClientFactory(ConnectionSecrets(SecretBox([KEY_1]))),
        resolver=resolve,
    )
    with pytest.raises(UnsafeUrlError, match="loopback"):
        await strict.create(alice, good)


async def test_other_user_gets_not_found_everywhere(acc_sessions: Sessions, sim: Starlette) -> None:
    alice, mallory = await users(acc_sessions, "a@x.io", "m@x.io")
    service = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    row, _ = await service.create(alice, cloud_input(sim))
    assert await service.list(mallory) == []
    for call in (
        service.get(mallory, row.id),
        service.test(mallory, row.id),
        service.update(mallory, row.id, ConnectionChanges(name="mine now")),
        service.delete(mallory, row.id),
        service.disconnect(mallory, row.id),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert (await service.get(alice, row.id)).name == "Sim"


async def test_swapped_ciphertext_is_refused(acc_sessions: Sessions, sim: Starlette) -> None:
    alice, bob = await users(acc_sessions, "a@x.io", "b@x.io")
    service = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    a_row, _ = await service.create(alice, cloud_input(sim))
    b_row, _ = await service.create(bob, cloud_input(sim, token="bobs-token"), force=True)
    # Someone with database access copies Alice's ciphertext into Bob's row.
    async with write_transaction(acc_sessions) as s:
        await s.execute(
            text("UPDATE jira_connections SET secret_ciphertext = :c WHERE id = :id"),
            {"c": a_row.secret_ciphertext, "id": b_row.id},
        )
    outcome = await service.test(bob, b_row.id)
    assert not outcome.ok
    assert "another row" in outcome.message
    async with read_transaction(acc_sessions) as s:
        row = await get_connection_unscoped(s, b_row.id)
    with pytest.raises(SecretDecryptionError):
        ConnectionSecrets(SecretBox([KEY_1])).secret(row)


async def test_rotation_keeps_every_connection_working(
    acc_sessions: Sessions, sim: Starlette
) -> None:
    alice, bob = await users(acc_sessions, "a@x.io", "b@x.io")
    old = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    rows = [(await old.create(u, cloud_input(sim)))[0] for u in (alice, bob, alice)]
    both = SecretBox([KEY_2, KEY_1])
    rotated = await rotate_all_secrets(acc_sessions, ConnectionSecrets(both))
    assert rotated == 3
    # Only the new key from now on: every connection still tests fine.
    new_only = service_for(acc_sessions, sim, SecretBox([KEY_2]))
    for row, owner in zip(rows, (alice, bob, alice), strict=True):
        assert (await new_only.test(owner, row.id)).ok
    # Running it again has nothing left to do.
    assert await rotate_all_secrets(acc_sessions, ConnectionSecrets(both)) == 0


async def test_update_and_delete(acc_sessions: Sessions, sim: Starlette) -> None:
    (alice,) = await users(acc_sessions, "a@x.io")
    service = service_for(acc_sessions, sim, SecretBox([KEY_1]))
    row, _ = await service.create(alice, cloud_input(sim, token="bad"), force=True)
    await service.update(
        alice, row.id, ConnectionChanges(name="Renamed", secret=sim_runtime(sim).admin_token)
    )
    assert (await service.test(alice, row.id)).ok
    assert (await service.get(alice, row.id)).name == "Renamed"
    with pytest.raises(UnsafeUrlError):
        await service.update(alice, row.id, ConnectionChanges(base_url="ftp://x"))
    await _cache_board(acc_sessions, connection_cache_site(row.id))
    await _cache_board(acc_sessions, "connection-other")
    await service.delete(alice, row.id)
    with pytest.raises(NotFoundError):
        await service.get(alice, row.id)
    # The sprint-report data read through it goes too; another connection's stays.
    async with read_transaction(acc_sessions) as s:
        assert list(await s.scalars(select(ReportCacheBoardRow.site))) == ["connection-other"]
        assert [i.issue_key for i in await s.scalars(select(ReportCacheIssueRow))] == ["R-2"]


async def _cache_board(sessions: Sessions, site: str) -> None:
    async with write_transaction(sessions) as s:
        board = ReportCacheBoardRow(site=site, board_id=1, meta={})
        s.add(board)
        await s.flush()
        key = "R-2" if site == "connection-other" else "R-1"
        s.add(ReportCacheIssueRow(board_row_id=board.id, issue_key=key, raw={}))
