"""Jira's three rate limits in the simulator: burst, per-issue writes and the points quota."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from jirabridge.sim.ratelimit import endpoint_template, issue_in_path, request_cost

from .edge_helpers import START, build_site
from .test_oauth import exchange, get_code

ISSUE = {"summary": "x", "project": "PROJ"}


async def test_burst_limit_per_endpoint_and_method_with_headers() -> None:
    site = build_site("limited", ratelimit_overrides={"burst_rps": {"GET": 5.0, "POST": 3.0}})
    async with site.client() as client:
        for i in range(5):
            ok = await client.get(f"/rest/api/3/issue/PROJ-{i + 1}")
            assert ok.status_code == 404  # the site answered: the limiter let it through
            assert ok.headers["x-ratelimit-limit"] == "5"
            assert ok.headers["x-ratelimit-remaining"] == str(4 - i)
        limited = await client.get("/rest/api/3/issue/PROJ-99")
        assert limited.status_code == 429
        assert limited.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}
        assert limited.headers["ratelimit-reason"] == "jira-burst-based"
        assert limited.headers["retry-after"] == "1"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert limited.headers["x-ratelimit-limit"] == "5"
        reset = datetime.strptime(limited.headers["x-ratelimit-reset"], "%Y-%m-%dT%H:%M:%SZ")
        assert reset.replace(tzinfo=UTC).timestamp() >= START

        # Another endpoint, and another method on the same path, have their own buckets.
        assert (await client.get("/rest/api/3/myself")).status_code == 200
        assert (await client.put("/rest/api/3/issue/PROJ-1", json={})).status_code == 204

        # The bucket refills at the steady rate: 0.2 s on the clock frees one GET.
        site.clock.advance(0.2)
        assert (await client.get("/rest/api/3/issue/PROJ-1")).status_code == 404
        assert (await client.get("/rest/api/3/issue/PROJ-1")).status_code == 429

        stats = (await client.get("/_sim/ratelimit")).json()
        assert stats["limitedByReason"] == {"jira-burst-based": 2}
        assert stats["byEndpoint"]["GET /rest/api/3/issue/{id}"] == {"allowed": 6, "limited": 2}
        assert stats["allowed"] == 8
        assert stats["config"]["burst_rps"]["GET"] == 5.0


async def test_per_issue_write_limits_both_windows() -> None:
    site = build_site("limited", ratelimit_overrides={"burst_enabled": False})
    async with site.client() as client:
        for _ in range(20):
            assert (await client.put("/rest/api/3/issue/PROJ-1", json={})).status_code == 204
        limited = await client.put("/rest/api/3/issue/PROJ-1", json={})
        assert limited.status_code == 429
        assert limited.headers["ratelimit-reason"] == "jira-per-issue-on-write"
        assert limited.headers["retry-after"] == "2"
        assert limited.headers["x-ratelimit-limit"] == "20"
        # Other issues and reads of the same issue go on normally.
        assert (await client.put("/rest/api/3/issue/PROJ-2", json={})).status_code == 204
        assert (await client.get("/rest/api/3/issue/PROJ-1")).status_code == 404
        worklog = {"timeSpentSeconds": 60}
        assert (
            await client.post("/rest/api/3/issue/PROJ-1/worklog", json=worklog)
        ).status_code == 429

        # 20 per 2 s: after 2 s the short window is free; the 30 s window allows 100.
        for _ in range(4):
            site.clock.advance(2.0)
            for _ in range(20):
                assert (await client.put("/rest/api/3/issue/PROJ-1", json={})).status_code == 204
        site.clock.advance(2.0)
        long_window = await client.put("/rest/api/3/issue/PROJ-1", json={})
        assert long_window.status_code == 429
        assert long_window.headers["x-ratelimit-limit"] == "100"
        # The oldest of the 100 writes leaves the 30 s window 30 s after it was made.
        assert long_window.headers["retry-after"] == "20"
        site.clock.advance(20.0)
        assert (await client.put("/rest/api/3/issue/PROJ-1", json={})).status_code == 204


async def test_points_quota_for_oauth_apps_resets_at_the_utc_hour() -> None:
    site = build_site(
        "limited",
        ratelimit_overrides={
            "burst_enabled": False,
            "quota_enabled": True,
            "quota_points_per_hour": 10,
        },
        access_token_ttl=7200.0,
    )
    async with site.client() as client:
        tokens = await exchange(client, await get_code(client, consent="auto"))
        cloud = (
            await client.get(
                "/oauth/token/accessible-resources",
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
        ).json()[0]["id"]
        gw = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=site.app),
            base_url=f"http://sim.test/ex/jira/{cloud}",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        async with gw:
            # GET issue = 2 points; /myself (identity) = 3; so 2+2+3 = 7, then 2 more = 9.
            first = await gw.get("/rest/api/3/issue/PROJ-1")
            assert first.headers["x-ratelimit-nearlimit"] == "false"
            await gw.get("/rest/api/3/issue/PROJ-1")
            await gw.get("/rest/api/3/myself")
            near = await gw.get("/rest/api/3/issue/PROJ-1")
            assert near.headers["x-ratelimit-nearlimit"] == "true"  # 1 of 10 left < 20%
            refused = await gw.get("/rest/api/3/issue/PROJ-1")
            assert refused.status_code == 429
            assert refused.headers["ratelimit-reason"] == "jira-quota-tenant-based"
            assert refused.headers["x-ratelimit-limit"] == "10"
            hour_end = (int(START // 3600) + 1) * 3600
            assert refused.headers["retry-after"] == str(int(hour_end - START))
            reset = datetime.fromtimestamp(hour_end, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert refused.headers["x-ratelimit-reset"] == reset
            # Writes cost 1 flat, so one still fits.
            assert (await gw.put("/rest/api/3/issue/PROJ-1", json={})).status_code == 204

            site.clock.advance(hour_end - START)
            assert (await gw.get("/rest/api/3/issue/PROJ-1")).status_code == 404

        # Basic-auth traffic (no OAuth principal) is not charged against the quota.
        for _ in range(12):
            assert (await client.get("/rest/api/3/issue/PROJ-1")).status_code == 404


async def test_profiles_switch_limits_at_run_time() -> None:
    site = build_site("clean")
    async with site.client() as client:
        for _ in range(25):
            assert (await client.put("/rest/api/3/issue/PROJ-1", json={})).status_code == 204
        changed = await client.put("/_sim/faults", json={"profile": "limited", "latency_ms": 0})
        assert changed.json()["profile"] == "limited"
        assert changed.json()["ratelimit"]["per_issue_enabled"] is True
        statuses = [
            (await client.put("/rest/api/3/issue/PROJ-9", json={})).status_code for _ in range(21)
        ]
        assert statuses.count(429) == 1
        assert (await client.post("/_sim/ratelimit/reset")).status_code == 204
        assert (await client.get("/_sim/ratelimit")).json()["allowed"] == 0


def test_endpoint_templates_issue_keys_and_costs() -> None:
    assert endpoint_template("/rest/api/3/issue/PROJ-12/worklog/10001") == (
        "/rest/api/3/issue/{id}/worklog/{id}"
    )
    assert endpoint_template("/rest/api/3/user/5b10ac8d82e05b22cc7d4ef5") == (
        "/rest/api/3/user/{id}"
    )
    assert endpoint_template("/rest/api/3/search/jql") == "/rest/api/3/search/jql"
    assert issue_in_path("/rest/api/3/issue/proj-12/comment") == "PROJ-12"
    assert issue_in_path("/rest/agile/1.0/issue/10042") == "10042"
    assert issue_in_path("/rest/api/3/issue/bulk") is None
    assert issue_in_path("/rest/api/3/issue") is None
    assert request_cost("POST", "/rest/api/3/issue/PROJ-1/worklog") == 1
    assert request_cost("GET", "/rest/api/3/issue/PROJ-1") == 2
    assert request_cost("GET", "/rest/api/3/user/search") == 3
    assert request_cost("POST", "/rest/api/3/search/jql") == 2
    bulk = b'{"issueUpdates": [{}, {}, {}]}'
    assert request_cost("POST", "/rest/api/3/issue/bulk", bulk) == 3
    assert request_cost("POST", "/rest/api/3/issue/bulk", b"not json") == 1


async def test_bulk_create_costs_a_point_per_issue_and_body_reaches_the_site() -> None:
    site = build_site(
        "limited",
        ratelimit_overrides={
            "burst_enabled": False,
            "quota_enabled": True,
            "quota_points_per_hour": 5,
        },
    )
    async with site.client() as client:
        tokens = await exchange(client, await get_code(client, consent="auto"))
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        base = "/ex/jira/11111111-aaaa-4bbb-8ccc-000000000001"
        # The stand-in has no bulk route (404), but the quota charged 4 points on the way.
        bulk = {"issueUpdates": [ISSUE] * 4}
        first = await client.post(f"{base}/rest/api/3/issue/bulk", json=bulk, headers=headers)
        assert first.status_code in (404, 405)
        again = await client.post(f"{base}/rest/api/3/issue/bulk", json=bulk, headers=headers)
        assert again.status_code == 429
        created = await client.post(f"{base}/rest/api/3/issue", json=ISSUE, headers=headers)
        assert created.status_code == 201
        assert site.issues["PROJ-1"] == ISSUE
