"""Every 400 from bulk create keeps the CreatedIssues shape the spec declares for it."""

from __future__ import annotations

import httpx

from jirabridge.sim.app import SimConfig, create_sim_app


async def test_invalid_json_to_bulk_create_is_refused_in_the_created_issues_shape() -> None:
    app = create_sim_app(SimConfig(seed=3, validate=True))
    sim = app.state.sim
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim.test",
        auth=(sim.admin_email, sim.admin_token),
    ) as client:
        response = await client.post(
            "/rest/api/3/issue/bulk",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    body = response.json()
    assert body["issues"] == []
    assert body["errors"][0]["elementErrors"]["errorMessages"] == [
        "Unexpected character in the JSON body: not valid JSON."
    ]
