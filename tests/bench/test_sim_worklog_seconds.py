"""The simulator takes ``timeSpentSeconds`` as a numeric string, as Jira's JSON binding does.

The `jira` library sends ``"timeSpentSeconds": "60"``; refusing it made every worklog of the
peer fail in the benchmark, a difference real Jira does not have.
"""

from __future__ import annotations

from sim.simkit import client_for, make_app

STARTED = "2026-11-19T09:00:00.000+0000"


async def test_numeric_string_seconds_are_accepted_and_text_is_not() -> None:
    # Spec validation off: the OpenAPI schema says integer, Jira itself coerces.
    app = make_app(validate=False)
    async with client_for(app) as client:
        key = next(iter(app.state.sim.site.issues.values())).key
        url = f"/rest/api/2/issue/{key}/worklog"  # the path the `jira` library uses
        r = await client.post(url, json={"started": STARTED, "timeSpentSeconds": "120"})
        assert r.status_code == 201, r.text
        assert r.json()["timeSpentSeconds"] == 120
        r = await client.post(url, json={"started": STARTED, "timeSpentSeconds": "2h"})
        assert r.status_code == 400
        assert "timeLogged" in r.json()["errors"]
