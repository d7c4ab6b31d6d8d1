"""A simulated Jira site (Cloud or Data Center) and a write ledger on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from jirabridge.jira import DeploymentType, JiraClient
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.db import session_factory
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.stories import ExportProfile

BASE = "http://sim.test"


@dataclass
class Site:
    """The simulator app, a client on it, and a profile for its ACME-like first project."""

    app: Starlette
    jira: JiraClient
    profile: ExportProfile
    flavor: str

    @property
    def runtime(self) -> SimRuntime:
        runtime: SimRuntime = self.app.state.sim
        return runtime

    def stamped(self) -> dict[str, list[str]]:
        """External id -> keys of the issues carrying it (more than one is a duplicate)."""
        out: dict[str, list[str]] = {}
        for issue in self.runtime.site.issues.values():
            value = issue.properties.get("jirabridge.external-id")
            if isinstance(value, dict) and "externalId" in value:
                out.setdefault(str(value["externalId"]), []).append(issue.key)
        return out


async def _no_sleep(_: float) -> None:
    return None


def make_client(app: Starlette, flavor: str, transport: httpx.AsyncBaseTransport) -> JiraClient:
    runtime: SimRuntime = app.state.sim
    return JiraClient(
        BASE,
        auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
        deployment=DeploymentType.CLOUD if flavor == "cloud" else DeploymentType.DATA_CENTER,
        transport=transport,
        sleep=_no_sleep,
    )


@pytest.fixture(params=["cloud", "datacenter"])
async def site(request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    flavor = request.param
    app = create_sim_app(SimConfig(flavor=flavor, base_url=BASE, frozen_at=1_795_000_000.0))
    project = next(iter(app.state.sim.site.projects.values())).key
    jira = make_client(app, flavor, httpx.ASGITransport(app=app))
    profile = ExportProfile(namespace="team-1", project=project, flavor=flavor)
    yield Site(app, jira, profile, flavor)
    await jira.aclose()


@pytest.fixture
def ledger(engine: AsyncEngine) -> WriteLedger:
    return WriteLedger(session_factory(engine))
