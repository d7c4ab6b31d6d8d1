"""Server info, version detection, projects, fields, createmeta, and the connection verdicts."""

from __future__ import annotations

import httpx
import pytest

from jirabridge.errors import TransportError
from jirabridge.http import FakeClock
from jirabridge.jira import ConnectionVerdict, DeploymentType, JiraClient

from support.jira_fakes import FakeJira, spec_example
from support.jira_spec_validation import HOST
from support.processes import free_port

CM = "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes"


def _client(fake: FakeJira, **options: object) -> JiraClient:
    return JiraClient(
        HOST,
        auth=httpx.BasicAuth("u", "p"),
        transport=httpx.MockTransport(fake),
        clock=FakeClock(),
        **options,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("deployment", "version"), [("Cloud", 3), ("Server", 2), ("DataCenter", 2)]
)
async def test_version_is_picked_from_server_info(
    fake: FakeJira, deployment: str, version: int
) -> None:
    info = spec_example("/rest/api/3/serverInfo", "get", "200")
    info["deploymentType"] = deployment
    fake.on("GET", "/rest/api/2/serverInfo", info)
    fake.on("GET", "/rest/api/(2|3)/myself", spec_example("/rest/api/3/myself", "get", "200"))
    async with _client(fake) as client:
        await client.myself()
        await client.myself()
        assert await client.api_version() == version
    assert [s.path for s in fake.sent] == [
        "/rest/api/2/serverInfo",
        f"/rest/api/{version}/myself",
        f"/rest/api/{version}/myself",
    ]


async def test_explicit_version_overrides_detection(fake: FakeJira) -> None:
    fake.on("GET", "/rest/api/2/myself", {"accountId": "a"})
    async with _client(fake, deployment=DeploymentType.CLOUD, api_version=2) as client:
        me = await client.myself()
    assert me.account_id == "a"
    assert [s.path for s in fake.sent] == ["/rest/api/2/myself"]


async def test_projects_fields_and_createmeta(cloud: JiraClient, fake: FakeJira) -> None:
    projects = spec_example("/rest/api/3/project/search", "get", "200")
    last = dict(projects, isLast=True, startAt=2)
    fake.on("GET", "/rest/api/3/project/search", projects, last)
    fake.on("GET", "/rest/api/3/field", spec_example("/rest/api/3/field", "get", "200"))
    fake.on("GET", "/rest/api/3/issue/createmeta/ED/issuetypes", spec_example(CM, "get", "200"))
    fake.on(
        "GET",
        "/rest/api/3/issue/createmeta/ED/issuetypes/10001",
        spec_example(CM + "/{issueTypeId}", "get", "200"),
    )
    got = await cloud.projects()
    assert len(got) == 2 * len(projects["values"])
    assert fake.sent[1].params["startAt"] == str(len(projects["values"]))
    fields = await cloud.fields()
    assert any(f.id == "description" and not f.custom for f in fields)
    types = await cloud.create_issue_types("ED")
    assert types
    assert all(t.id and t.name for t in types)
    create_fields = await cloud.create_fields("ED", "10001")
    assignee = next(f for f in create_fields if f.field_id == "assignee")
    assert assignee.operations == ["set"]
    example_fields = spec_example(CM + "/{issueTypeId}", "get", "200")["fields"]
    expected = next(f for f in example_fields if f["fieldId"] == "assignee")
    assert assignee.required is expected["required"]


async def test_dc_createmeta_reads_values(dc: JiraClient, fake: FakeJira) -> None:
    fake.on(
        "GET",
        "/rest/api/2/issue/createmeta/ED/issuetypes",
        {"startAt": 0, "total": 1, "values": [{"id": "1", "name": "Bug"}]},
    )
    fake.on("GET", "/rest/api/2/project", [{"id": "1", "key": "ED", "name": "Ed"}])
    assert [t.name for t in await dc.create_issue_types("ED")] == ["Bug"]
    assert [p.key for p in await dc.projects()] == ["ED"]


@pytest.mark.parametrize(
    ("server", "me", "verdict"),
    [
        ("info", "me", ConnectionVerdict.OK),
        ("info", httpx.Response(401), ConnectionVerdict.BAD_CREDENTIALS),
        (httpx.Response(401), None, ConnectionVerdict.BAD_CREDENTIALS),
        ("info", httpx.Response(403), ConnectionVerdict.NO_PERMISSION),
        (httpx.Response(404, text="<html>nope</html>"), None, ConnectionVerdict.NOT_JIRA),
        (httpx.Response(200, text="<html>a wiki</html>"), None, ConnectionVerdict.NOT_JIRA),
        (httpx.Response(200, json={"hello": "world"}), None, ConnectionVerdict.NOT_JIRA),
        (httpx.Response(503), None, ConnectionVerdict.UNREACHABLE),
        ("drop", None, ConnectionVerdict.UNREACHABLE),
    ],
)
async def test_connection_verdicts(
    fake: FakeJira, server: object, me: object, verdict: ConnectionVerdict
) -> None:
    fake.validate = False

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    info = spec_example("/rest/api/3/serverInfo", "get", "200")
    info["deploymentType"] = "Cloud"
    answers = {"info": info, "me": spec_example("/rest/api/3/myself", "get", "200"), "drop": drop}
    fake.on(
        "GET",
        "/rest/api/2/serverInfo",
        answers.get(server, server) if isinstance(server, str) else server,
    )
    if me is not None:
        fake.on("GET", "/rest/api/3/myself", answers["me"] if me == "me" else me)
    async with _client(fake) as client:
        check = await client.test_connection()
    assert check.verdict is verdict
    assert fake.sent[0].path == "/rest/api/2/serverInfo"
    assert len({s.path for s in fake.sent}) <= 2
    assert check.message
    assert "p" not in check.message.split()
    assert "Basic" not in check.message
    if verdict is ConnectionVerdict.OK:
        assert check.ok
        assert check.user is not None
        assert check.server is not None
        assert "Mia Krystof" in check.message


async def test_an_unreachable_site_is_diagnosed_at_once_without_retries(fake: FakeJira) -> None:
    """One short-timeout attempt: no backoff chain before the verdict (it took ~25 s)."""
    fake.validate = False
    connect_timeouts: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        connect_timeouts.append(request.extensions["timeout"]["connect"])
        raise httpx.ConnectError("refused", request=request)

    fake.on("GET", "/rest/api/2/serverInfo", refuse)
    clock = FakeClock()
    client = JiraClient(
        HOST, auth=httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(fake), clock=clock
    )
    async with client:
        check = await client.test_connection()
        assert check.verdict is ConnectionVerdict.UNREACHABLE
        assert connect_timeouts == [3.0]
        assert clock.sleeps == []
        # Ordinary calls still get the retry chain: only the probe is short.
        with pytest.raises(TransportError):
            await client.server_info()
    assert len(connect_timeouts) > 2
    assert clock.sleeps


async def test_a_closed_loopback_port_is_unreachable_within_seconds() -> None:
    port = free_port()
    clock = FakeClock()
    async with JiraClient(
        f"http://127.0.0.1:{port}", auth=httpx.BasicAuth("u", "p"), clock=clock
    ) as client:
        check = await client.test_connection()
    assert check.verdict is ConnectionVerdict.UNREACHABLE
    assert clock.sleeps == []
