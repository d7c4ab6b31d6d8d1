"""Fault injection: seeded rates, nothing applied on 5xx, dropped answers after applied writes."""

from __future__ import annotations

import httpx
import pytest

from jirabridge.sim.faults import FaultConfig
from jirabridge.sim.profiles import PROFILE_NAMES, get_profile

from .edge_helpers import build_site, serve

NO_LIMITS = {"burst_enabled": False, "per_issue_enabled": False}


async def statuses_for(seed: int, count: int) -> list[int]:
    site = build_site("faulty", seed=seed, ratelimit_overrides=NO_LIMITS)
    async with site.client() as client:
        return [(await client.get("/rest/api/3/myself")).status_code for _ in range(count)]


async def test_error_rates_follow_the_profile_and_the_seed() -> None:
    statuses = await statuses_for(seed=3, count=800)
    # 2% each of 800 = 16, with a binomial spread of about 4 either way.
    assert 5 <= statuses.count(500) <= 28
    assert 5 <= statuses.count(503) <= 28
    assert statuses.count(200) == 800 - statuses.count(500) - statuses.count(503)
    assert await statuses_for(seed=3, count=300) == statuses[:300]
    assert await statuses_for(seed=4, count=300) != statuses[:300]


async def test_5xx_answers_apply_nothing() -> None:
    site = build_site(
        "clean",
        ratelimit_overrides=NO_LIMITS,
        fault_overrides={"error_500_rate": 0.3, "error_503_rate": 0.3},
    )
    created = 0
    async with site.client() as client:
        for _ in range(100):
            response = await client.post("/rest/api/3/issue", json={"summary": "s"})
            if response.status_code == 201:
                created += 1
            else:
                assert response.status_code in (500, 503)
                assert response.json()["errorMessages"]
                if response.status_code == 503:
                    assert response.headers["retry-after"] == "1"
    assert 0 < created < 100
    assert len(site.issues) == created
    counters = site.edges.faults.counters
    assert counters["error_500"] + counters["error_503"] == 100 - created


async def test_dropped_connection_through_asgi_transport_after_the_write_is_stored() -> None:
    site = build_site("clean", fault_overrides={"drop_after_write_rate": 1.0})
    async with site.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/rest/api/3/issue", json={"summary": "kept"})
        # Reads are never dropped, and they show the write was applied.
        assert (await client.get("/rest/api/3/issue/PROJ-1")).json()["fields"]["summary"] == (
            "kept"
        )
    assert site.edges.faults.counters == {"dropped_after_write": 1}


async def test_dropped_connection_under_uvicorn_after_the_write_is_stored() -> None:
    site = build_site("clean", fault_overrides={"drop_after_write_rate": 1.0})
    async with serve(site.app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post("/rest/api/3/issue/PROJ-1/worklog", json={"timeSpentSeconds": 60})
        assert site.worklogs == [{"issue": "PROJ-1", "timeSpentSeconds": 60}]
        # The server is still serving: the next request gets an answer.
        assert (await client.get("/rest/api/3/myself")).status_code == 200


async def test_faulty_profile_drops_about_one_write_in_a_hundred() -> None:
    site = build_site("faulty", seed=11, ratelimit_overrides=NO_LIMITS)
    answered = dropped = 0
    async with site.client() as client:
        for _ in range(600):
            try:
                response = await client.post("/rest/api/3/issue", json={"summary": "s"})
            except httpx.RemoteProtocolError:
                dropped += 1
                continue
            answered += response.status_code == 201
    assert 1 <= dropped <= 15
    # Every applied write is stored exactly once: answered ones plus dropped ones.
    assert len(site.issues) == answered + dropped


async def test_latency_is_fixed_plus_jitter() -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    site = build_site(
        "clean", sleep=record, fault_overrides={"latency_ms": 20.0, "jitter_ms": 10.0}
    )
    async with site.client() as client:
        for _ in range(50):
            await client.get("/rest/api/3/myself")
        await client.get("/_sim/faults")  # inspection paths get no latency
    assert len(delays) == 50
    assert all(0.020 <= d <= 0.030 for d in delays)
    assert max(delays) - min(delays) > 0.005


async def test_429_storm_on_demand_and_at_random() -> None:
    site = build_site("clean")
    async with site.client() as client:
        started = await client.post("/_sim/faults", json={"storm": 5})
        assert started.json()["stormUntil"] is not None
        storm = await client.get("/rest/api/3/myself")
        assert storm.status_code == 429
        assert storm.headers["retry-after"] == "5"
        assert storm.headers["ratelimit-reason"] == "jira-burst-based"
        site.clock.advance(5)
        assert (await client.get("/rest/api/3/myself")).status_code == 200

        await client.put("/_sim/faults", json={"storm_rate": 0.05, "storm_seconds": 3})
        statuses = [(await client.get("/rest/api/3/myself")).status_code for _ in range(200)]
        # Once a storm starts on a frozen clock it never ends.
        first = statuses.index(429)
        assert set(statuses[first:]) == {429}
        assert set(statuses[:first]) <= {200}


async def test_faults_endpoint_validates_and_reports() -> None:
    site = build_site("clean")
    async with site.client() as client:
        for bad in (
            {"error_500_rate": 2},
            {"nope": 1},
            {"profile": "chaos"},
            {"search_lag_seconds": [3, 1]},
            {"ratelimit": {"quota_pool": "galaxy"}},
            [1, 2],
        ):
            response = await client.put("/_sim/faults", json=bad)
            assert response.status_code == 400, bad
            assert response.json()["errorMessages"]
        ok = await client.put("/_sim/faults", json={"profile": "faulty", "seed": 5})
        body = ok.json()
        assert body["profile"] == "faulty"
        assert body["seed"] == 5
        assert body["config"]["drop_after_write_rate"] == 0.01
        assert (await client.get("/_sim/faults")).json() == body


def test_profiles_are_the_briefs() -> None:
    assert PROFILE_NAMES == ("clean", "limited", "faulty")
    clean, limited, faulty = (get_profile(n) for n in PROFILE_NAMES)
    assert clean.faults == FaultConfig(latency_ms=20.0)
    assert not clean.ratelimit.burst_enabled
    assert not clean.ratelimit.per_issue_enabled
    assert limited.faults == clean.faults
    assert limited.ratelimit.burst_rps["GET"] == 100.0
    assert limited.ratelimit.burst_rps["POST"] == 100.0
    assert limited.ratelimit.per_issue_windows == ((20, 2.0), (100, 30.0))
    assert faulty.ratelimit == limited.ratelimit
    assert faulty.faults.error_500_rate == 0.02
    assert faulty.faults.error_503_rate == 0.02
    assert faulty.faults.drop_after_write_rate == 0.01
    assert faulty.faults.search_lag_seconds == (1.0, 3.0)
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("chaos")


def test_search_lag_is_seeded_and_in_range() -> None:
    first = build_site("faulty", seed=9).edges.faults
    second = build_site("faulty", seed=9).edges.faults
    lags = [first.search_lag_seconds() for _ in range(50)]
    assert lags == [second.search_lag_seconds() for _ in range(50)]
    assert all(1.0 <= lag <= 3.0 for lag in lags)
    assert build_site("clean").edges.faults.search_lag_seconds() == 0.0
