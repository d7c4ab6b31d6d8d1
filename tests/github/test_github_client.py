"""The GitHub client against the stateful double: exact requests, parsing, pagination."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from jirabridge.errors import (
    ApiError,
    ApiNotFoundError,
    AuthenticationError,
    ConfigError,
    ConnectionFailedError,
    ServerError,
    ValidationError,
)
from jirabridge.github import GITHUB_HEADERS, GitHubClient, Issue, Paginator
from jirabridge.http import BearerAuth, FakeClock, HttpClient

if TYPE_CHECKING:
    from conftest import FakeGitHub

TOKEN = "ghp_testtoken0123456789"
REPO = "octo/hello"


def _json(request: httpx.Request) -> object:
    return json.loads(request.content)


# -- headers, auth, configuration -----------------------------------------------------------


async def test_every_request_carries_github_headers(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("First")
    await gh.get_issue(REPO, 1)
    (request,) = fake.requests
    assert request.method == "GET"
    assert str(request.url) == "https://api.github.com/repos/octo/hello/issues/1"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_bad_token_is_an_authentication_error(fake: FakeGitHub) -> None:
    async with GitHubClient(token="wrong", transport=fake.transport(), clock=FakeClock()) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.rate_limit()
    assert info.value.status == 401
    assert "wrong" not in str(info.value)


def test_from_env_reads_the_token_and_optional_api_url(fake: FakeGitHub) -> None:
    client = GitHubClient.from_env({"GITHUB_TOKEN": TOKEN}, transport=fake.transport())
    assert client.base_url == "https://api.github.com"
    ghe = GitHubClient.from_env(
        {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "https://ghe.example.com/api/v3"}
    )
    assert ghe.base_url == "https://ghe.example.com/api/v3"
    assert TOKEN not in repr(client)


@pytest.mark.parametrize("env", [{}, {"GITHUB_TOKEN": ""}, {"GITHUB_TOKEN": "   "}])
def test_from_env_without_token_is_a_clear_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        GitHubClient.from_env(env)


def test_from_env_refuses_a_non_http_api_url() -> None:
    with pytest.raises(ConfigError, match="GITHUB_API_URL"):
        GitHubClient.from_env({"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "file:///etc"})


def test_constructor_needs_exactly_one_credential() -> None:
    with pytest.raises(ConfigError):
        GitHubClient()
    with pytest.raises(ConfigError):
        GitHubClient(token=TOKEN, auth=BearerAuth(TOKEN))
    with pytest.raises(ConfigError):
        GitHubClient(token=TOKEN, per_page=101)
    with pytest.raises(ConfigError):
        GitHubClient(token="  ")


async def test_a_prepared_http_client_is_used_and_left_open(fake: FakeGitHub) -> None:
    http = HttpClient(
        "https://api.github.com",
        auth=BearerAuth(TOKEN),
        transport=fake.transport(),
        headers=GITHUB_HEADERS,
        clock=FakeClock(),
    )
    async with GitHubClient(http=http) as client:
        await client.rate_limit()
    # Still usable: the GitHub client did not close what it did not open.
    await http.request("GET", "/rate_limit")
    await http.aclose()
    assert [r.headers["x-github-api-version"] for r in fake.requests] == ["2022-11-28"] * 2
    with pytest.raises(ConfigError):
        GitHubClient(http=http, token=TOKEN)


async def test_enterprise_base_path_is_kept(fake: FakeGitHub) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        core = {"limit": 1, "remaining": 1, "reset": 0}
        return httpx.Response(200, json={"resources": {"core": core}})

    async with GitHubClient(
        token=TOKEN,
        base_url="https://ghe.example.com/api/v3",
        transport=httpx.MockTransport(handler),
        clock=FakeClock(),
    ) as client:
        await client.rate_limit()
    assert [str(u) for u in seen] == ["https://ghe.example.com/api/v3/rate_limit"]


@pytest.mark.parametrize(
    "repo", ["octo", "octo/hello/extra", "../x/y", "octo/..", "o o/x", "a/b?c", "-x/y"]
)
async def test_bad_repository_names_are_refused_before_any_request(
    gh: GitHubClient, fake: FakeGitHub, repo: str
) -> None:
    with pytest.raises(ValidationError, match="owner/name"):
        await gh.get_issue(repo, 1)
    assert fake.requests == []


async def test_bad_numbers_are_refused(gh: GitHubClient, fake: FakeGitHub) -> None:
    with pytest.raises(ValidationError, match="number"):
        await gh.get_issue(REPO, 0)
    assert fake.requests == []


# -- issues ---------------------------------------------------------------------------------


async def test_create_then_get_issue(gh: GitHubClient, fake: FakeGitHub) -> None:
    created = await gh.create_issue(
        REPO, "Login fails", body="Steps...", labels=["bug"], assignees=["hubot"]
    )
    assert isinstance(created, Issue)
    post = fake.requests[-1]
    assert (post.method, post.url.path) == ("POST", "/repos/octo/hello/issues")
    assert _json(post) == {
        "title": "Login fails",
        "body": "Steps...",
        "labels": ["bug"],
        "assignees": ["hubot"],
    }
    fetched = await gh.get_issue(REPO, created.number)
    assert fetched == created
    assert fetched.label_names == ("bug",)
    assert [a.login for a in fetched.assignees] == ["hubot"]
    assert fetched.created_at == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert not fetched.is_pull_request


async def test_create_issue_sends_only_what_was_given(gh: GitHubClient, fake: FakeGitHub) -> None:
    await gh.create_issue(REPO, "Bare")
    assert _json(fake.requests[-1]) == {"title": "Bare"}


async def test_create_issue_is_not_retried_after_a_dropped_answer(
    gh: GitHubClient, fake: FakeGitHub
) -> None:
    fake.fail_once[("POST", "/repos/octo/hello/issues")] = httpx.ReadError("dropped")
    with pytest.raises(ConnectionFailedError):
        await gh.create_issue(REPO, "Once")
    assert [r.method for r in fake.requests] == ["POST"]


async def test_validation_of_issue_input(gh: GitHubClient, fake: FakeGitHub) -> None:
    with pytest.raises(ValidationError, match="title"):
        await gh.create_issue(REPO, "  ")
    with pytest.raises(ValidationError, match="single string"):
        await gh.create_issue(REPO, "x", labels="bug")
    with pytest.raises(ValidationError, match="at least one field"):
        await gh.edit_issue(REPO, 1)
    assert fake.requests == []


async def test_missing_issue_is_api_not_found(gh: GitHubClient) -> None:
    with pytest.raises(ApiNotFoundError) as info:
        await gh.get_issue(REPO, 99)
    assert info.value.status == 404


async def test_edit_issue_patches_only_given_fields(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("Old", body="keep me")
    edited = await gh.edit_issue(REPO, 1, title="New", state="closed", state_reason="completed")
    patch = fake.requests[-1]
    assert (patch.method, patch.url.path) == ("PATCH", "/repos/octo/hello/issues/1")
    assert _json(patch) == {"title": "New", "state": "closed", "state_reason": "completed"}
    assert (edited.title, edited.state, edited.body) == ("New", "closed", "keep me")
    cleared = await gh.edit_issue(REPO, 1, labels=[], assignees=[])
    assert _json(fake.requests[-1]) == {"labels": [], "assignees": []}
    assert cleared.labels == ()


async def test_list_issues_follows_link_pagination(fake: FakeGitHub) -> None:
    for i in range(7):
        fake.add_issue(f"Issue {i}")
    async with GitHubClient(
        token=TOKEN, transport=fake.transport(), per_page=3, clock=FakeClock()
    ) as client:
        titles = [i.title async for i in client.list_issues(REPO, state="all")]
    assert titles == [f"Issue {i}" for i in reversed(range(7))]
    urls = [str(r.url) for r in fake.requests]
    assert urls == [
        "https://api.github.com/repos/octo/hello/issues?state=all&per_page=3",
        "https://api.github.com/repos/octo/hello/issues?state=all&per_page=3&page=2",
        "https://api.github.com/repos/octo/hello/issues?state=all&per_page=3&page=3",
    ]


async def test_list_issues_filters_and_pages(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("a", labels=[{"name": "bug"}, {"name": "ui"}])
    fake.add_issue("b", labels=[{"name": "bug"}])
    fake.add_issue("c", state="closed")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    pages = [page async for page in gh.list_issues(REPO, labels=["bug", "ui"], since=since).pages()]
    assert [[i.title for i in p] for p in pages] == [["a"]]
    params = fake.requests[-1].url.params
    assert params["labels"] == "bug,ui"
    assert params["since"] == "2026-01-01T00:00:00+00:00"
    assert params["state"] == "open"
    assert "assignee" not in params


async def test_paginator_is_lazy_and_restartable(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("one")
    paginator = gh.list_issues(REPO)
    assert fake.requests == []
    assert [i.title for i in await paginator.collect()] == ["one"]
    assert [i.title for i in await paginator.collect()] == ["one"]
    assert len(fake.requests) == 2


async def test_next_link_to_another_host_is_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json=[],
            headers={"Link": '<https://evil.example.com/steal?page=2>; rel="next"'},
        )

    sent: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    async with GitHubClient(
        token=TOKEN, transport=httpx.MockTransport(recording), clock=FakeClock()
    ) as client:
        with pytest.raises(ApiError, match="another origin"):
            await client.list_issues(REPO).collect()
    assert [r.url.host for r in sent] == ["api.github.com"]


# -- assignees and labels -------------------------------------------------------------------


async def test_assign_and_unassign(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("x")
    issue = await gh.assign(REPO, 1, ["hubot", "monalisa"])
    post = fake.requests[-1]
    assert (post.method, post.url.path) == ("POST", "/repos/octo/hello/issues/1/assignees")
    assert _json(post) == {"assignees": ["hubot", "monalisa"]}
    assert [a.login for a in issue.assignees] == ["hubot", "monalisa"]
    issue = await gh.unassign(REPO, 1, ["hubot"])
    delete = fake.requests[-1]
    assert (delete.method, _json(delete)) == ("DELETE", {"assignees": ["hubot"]})
    assert [a.login for a in issue.assignees] == ["monalisa"]


async def test_labels_add_set_remove(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("x")
    labels = await gh.add_labels(REPO, 1, ["bug", "needs triage"])
    assert [lb.name for lb in labels] == ["bug", "needs triage"]
    assert _json(fake.requests[-1]) == {"labels": ["bug", "needs triage"]}

    labels = await gh.remove_label(REPO, 1, "needs triage")
    delete = fake.requests[-1]
    assert delete.method == "DELETE"
    # The space is percent-encoded in the path, not sent raw.
    assert delete.url.raw_path == b"/repos/octo/hello/issues/1/labels/needs%20triage"
    assert [lb.name for lb in labels] == ["bug"]

    labels = await gh.set_labels(REPO, 1, ["p1"])
    put = fake.requests[-1]
    assert (put.method, _json(put)) == ("PUT", {"labels": ["p1"]})
    assert [lb.name for lb in (await gh.get_issue(REPO, 1)).labels] == ["p1"]


async def test_removing_an_absent_label_is_harmless_unless_asked(
    gh: GitHubClient, fake: FakeGitHub
) -> None:
    fake.add_issue("x", labels=[{"name": "bug"}])
    labels = await gh.remove_label(REPO, 1, "not-there")
    assert [lb.name for lb in labels] == ["bug"]
    assert [r.method for r in fake.requests] == ["DELETE", "GET"]
    with pytest.raises(ApiNotFoundError):
        await gh.remove_label(REPO, 1, "not-there", missing_ok=False)
    with pytest.raises(ApiNotFoundError):
        await gh.remove_label(REPO, 42, "bug")


async def test_label_names_with_slashes_stay_in_one_segment(
    gh: GitHubClient, fake: FakeGitHub
) -> None:
    fake.add_issue("x", labels=[{"name": "area/ui"}])
    assert await gh.remove_label(REPO, 1, "area/ui") == []
    assert fake.requests[-1].url.raw_path.endswith(b"/labels/area%2Fui")


# -- comments, contributors -----------------------------------------------------------------


async def test_comment_then_list(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("x")
    comment = await gh.create_comment(REPO, 1, "Linked to PROJ-12")
    post = fake.requests[-1]
    assert (post.method, post.url.path) == ("POST", "/repos/octo/hello/issues/1/comments")
    assert _json(post) == {"body": "Linked to PROJ-12"}
    listed = await gh.list_comments(REPO, 1).collect()
    assert listed == [comment]
    assert listed[0].user is not None
    assert listed[0].user.login == "octocat"
    with pytest.raises(ValidationError):
        await gh.create_comment(REPO, 1, "")


async def test_contributors(gh: GitHubClient, fake: FakeGitHub) -> None:
    named = await gh.list_contributors(REPO).collect()
    assert [(c.login, c.contributions) for c in named] == [("octocat", 32), ("hubot", 7)]
    assert "anon" not in fake.requests[-1].url.params
    everyone = await gh.list_contributors(REPO, anon=True).collect()
    assert everyone[-1].login is None
    assert everyone[-1].name == "Ghost"
    assert fake.requests[-1].url.params["anon"] == "true"


async def test_empty_contributors_answer_204() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    async with GitHubClient(token=TOKEN, transport=transport, clock=FakeClock()) as client:
        assert await client.list_contributors(REPO).collect() == []


# -- pull requests --------------------------------------------------------------------------


async def test_pull_requests_and_commits(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_pull("PROJ-7: login", "feature/PROJ-7-login", ["PROJ-7 start", "PROJ-7 finish"])
    pulls = await gh.list_pull_requests(REPO, state="all", base="main").collect()
    assert fake.requests[-1].url.params["base"] == "main"
    assert [(p.number, p.head.ref, p.merged) for p in pulls] == [(1, "feature/PROJ-7-login", False)]
    pull = await gh.get_pull_request(REPO, 1)
    assert pull == pulls[0]
    commits = await gh.list_pull_request_commits(REPO, 1).collect()
    assert [c.message for c in commits] == ["PROJ-7 start", "PROJ-7 finish"]
    assert commits[0].git_author is not None
    assert commits[0].git_author.email == "hubot@x.y"
    assert fake.requests[-1].url.path == "/repos/octo/hello/pulls/1/commits"


# -- webhooks -------------------------------------------------------------------------------


async def test_create_list_delete_hook(gh: GitHubClient, fake: FakeGitHub) -> None:
    hook = await gh.create_hook(
        REPO, url="https://bridge.example.com/hooks/github", secret="s3cret", events=["issues"]
    )
    post = fake.requests[-1]
    assert (post.method, post.url.path) == ("POST", "/repos/octo/hello/hooks")
    assert _json(post) == {
        "name": "web",
        "active": True,
        "events": ["issues"],
        "config": {
            "url": "https://bridge.example.com/hooks/github",
            "content_type": "json",
            "insecure_ssl": "0",
            "secret": "s3cret",
        },
    }
    assert "s3cret" not in repr(hook)
    assert [h.id for h in await gh.list_hooks(REPO).collect()] == [hook.id]
    await gh.delete_hook(REPO, hook.id)
    delete = fake.requests[-1]
    assert (delete.method, delete.url.path) == ("DELETE", f"/repos/octo/hello/hooks/{hook.id}")
    assert await gh.list_hooks(REPO).collect() == []
    with pytest.raises(ApiNotFoundError):
        await gh.delete_hook(REPO, hook.id)
    with pytest.raises(ValidationError):
        await gh.create_hook(REPO, url="ftp://x")


# -- rate limit -----------------------------------------------------------------------------


async def test_rate_limit_status(gh: GitHubClient, fake: FakeGitHub) -> None:
    status = await gh.rate_limit()
    assert fake.requests[-1].url.path == "/rate_limit"
    assert (status.core.limit, status.core.remaining, status.core.used) == (5000, 4990, 10)
    assert status.core.reset_at == datetime.fromtimestamp(1_800_000_000, tz=UTC)
    assert status.resources["search"].limit == 30


async def test_max_pages_stops_early(fake: FakeGitHub) -> None:
    for i in range(5):
        fake.add_issue(f"Issue {i}")
    async with GitHubClient(
        token=TOKEN, transport=fake.transport(), per_page=2, clock=FakeClock()
    ) as client:
        paginator = Paginator(
            client._http,
            "/repos/octo/hello/issues",
            Issue.model_validate,
            params={"per_page": 2},
            max_pages=2,
        )
        assert len(await paginator.collect()) == 4
    assert len(fake.requests) == 2


async def test_create_hook_is_written_once_when_the_answer_is_lost(
    gh: GitHubClient, fake: FakeGitHub
) -> None:
    fake.drop_after_apply.add(("POST", "/repos/octo/hello/hooks"))
    url = "https://bridge.example.com/hooks/github"
    hook = await gh.create_hook(REPO, url=url, secret="s3cret")
    assert hook.config.url == url
    assert list(fake.hooks) == [hook.id]
    # One POST, then the reconcile read; never a second POST.
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("POST", "/repos/octo/hello/hooks"),
        ("GET", "/repos/octo/hello/hooks"),
    ]


async def test_create_hook_is_repeated_when_the_reconcile_finds_nothing(
    gh: GitHubClient, fake: FakeGitHub, clock: FakeClock
) -> None:
    fake.fail_once[("POST", "/repos/octo/hello/hooks")] = httpx.ConnectError("refused")
    hook = await gh.create_hook(REPO, url="https://bridge.example.com/h")
    assert list(fake.hooks) == [hook.id]
    assert [r.method for r in fake.requests] == ["POST", "GET", "POST"]
    assert len(clock.sleeps) == 1  # the backoff before the second POST, on the fake clock


async def test_reads_are_retried_on_503_without_real_sleeps(
    gh: GitHubClient, fake: FakeGitHub, clock: FakeClock
) -> None:
    fake.add_issue("x")
    fake.fail_once[("GET", "/repos/octo/hello/issues/1")] = httpx.Response(503)
    assert (await gh.get_issue(REPO, 1)).title == "x"
    assert len(fake.requests) == 2
    assert clock.sleeps  # waited on the fake clock


async def test_comment_post_is_not_repeated_after_a_503(gh: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_issue("x")
    fake.fail_once[("POST", "/repos/octo/hello/issues/1/comments")] = httpx.Response(503)
    with pytest.raises(ServerError):
        await gh.create_comment(REPO, 1, "hello")
    assert [r.method for r in fake.requests] == ["POST"]
