"""A stateful GitHub REST double behind ``httpx.MockTransport``.

It routes by method and path, keeps issues, comments, labels and hooks in memory (so a create
can be read back), paginates with real ``Link`` headers, checks the bearer token and records
every request so tests can assert exactly what was sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from jirabridge.github import GitHubClient
from jirabridge.http import FakeClock

TOKEN = "ghp_testtoken0123456789"
API = "https://api.github.com"
REPO = "octo/hello"

Handler = Callable[[httpx.Request, re.Match[str]], httpx.Response]


def _user(login: str, uid: int) -> dict[str, Any]:
    return {"login": login, "id": uid, "type": "User", "html_url": f"https://github.com/{login}"}


@dataclass
class FakeGitHub:
    """In-memory state of one repository ``octo/hello`` plus the request log."""

    token: str = TOKEN
    requests: list[httpx.Request] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    pull_commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    contributors: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1000
    #: The next request on this (method, path) fails before it is applied: the exception is
    #: raised, or the response returned.
    fail_once: dict[tuple[str, str], Exception | httpx.Response] = field(default_factory=dict)
    #: The next request on this (method, path) is applied, then its answer is lost.
    drop_after_apply: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for i, login in enumerate(["octocat", "hubot", "monalisa"], start=1):
            self.users[login] = _user(login, i)
        self.contributors = [
            {**self.users["octocat"], "contributions": 32},
            {**self.users["hubot"], "contributions": 7},
            {"type": "Anonymous", "name": "Ghost", "email": "g@x.y", "contributions": 1},
        ]
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/rate_limit"), self._rate_limit),
            ("GET", re.compile(r"/repos/octo/hello/issues"), self._list_issues),
            ("POST", re.compile(r"/repos/octo/hello/issues"), self._create_issue),
            ("GET", re.compile(r"/repos/octo/hello/issues/(\d+)"), self._get_issue),
            ("PATCH", re.compile(r"/repos/octo/hello/issues/(\d+)"), self._edit_issue),
            ("POST", re.compile(r"/repos/octo/hello/issues/(\d+)/assignees"), self._assign),
            ("DELETE", re.compile(r"/repos/octo/hello/issues/(\d+)/assignees"), self._unassign),
            ("GET", re.compile(r"/repos/octo/hello/issues/(\d+)/labels"), self._labels),
            ("POST", re.compile(r"/repos/octo/hello/issues/(\d+)/labels"), self._add_labels),
            ("PUT", re.compile(r"/repos/octo/hello/issues/(\d+)/labels"), self._set_labels),
            (
                "DELETE",
                re.compile(r"/repos/octo/hello/issues/(\d+)/labels/([^/]+)"),
                self._remove_label,
            ),
            ("GET", re.compile(r"/repos/octo/hello/issues/(\d+)/comments"), self._comments),
            ("POST", re.compile(r"/repos/octo/hello/issues/(\d+)/comments"), self._comment),
            ("GET", re.compile(r"/repos/octo/hello/contributors"), self._contributors),
            ("GET", re.compile(r"/repos/octo/hello/pulls"), self._list_pulls),
            ("GET", re.compile(r"/repos/octo/hello/pulls/(\d+)"), self._get_pull),
            ("GET", re.compile(r"/repos/octo/hello/pulls/(\d+)/commits"), self._commits),
            ("GET", re.compile(r"/repos/octo/hello/hooks"), self._list_hooks),
            ("POST", re.compile(r"/repos/octo/hello/hooks"), self._create_hook),
            ("DELETE", re.compile(r"/repos/octo/hello/hooks/(\d+)"), self._delete_hook),
        ]

    # -- transport --------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if key in self.fail_once:
            failure = self.fail_once.pop(key)
            if isinstance(failure, httpx.Response):
                return failure
            raise failure
        response = self._route(request)
        if key in self.drop_after_apply:
            self.drop_after_apply.discard(key)
            raise httpx.ReadError("connection dropped after the write was applied")
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Requires authentication")
        # Route on the raw path so that an encoded "/" inside a segment stays inside it.
        raw_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        for method, pattern, route in self.routes:
            m = pattern.fullmatch(raw_path)
            if m and method == request.method:
                return route(request, m)
        return self._error(404, "Not Found")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json={"message": message})

    @staticmethod
    def _body(request: httpx.Request) -> Any:
        return json.loads(request.content)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _page(self, request: httpx.Request, items: list[Any]) -> httpx.Response:
        per_page = int(request.url.params.get("per_page", "30"))
        page = int(request.url.params.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = request.url.copy_set_param("page", str(page + 1))
            last = request.url.copy_set_param("page", str(-(-len(items) // per_page)))
            headers["Link"] = f'<{nxt}>; rel="next", <{last}>; rel="last"'
        return httpx.Response(200, json=chunk, headers=headers)

    def add_issue(self, title: str, **fields: Any) -> dict[str, Any]:
        number = len(self.issues) + len(self.pulls) + 1
        issue = {
            "id": self._new_id(),
            "number": number,
            "title": title,
            "body": None,
            "state": "open",
            "state_reason": None,
            "user": self.users["octocat"],
            "labels": [],
            "assignees": [],
            "html_url": f"https://github.com/octo/hello/issues/{number}",
            "created_at": "2026-11-01T10:00:00Z",
            "updated_at": "2026-11-01T10:00:00Z",
            "closed_at": None,
            **fields,
        }
        self.issues[number] = issue
        return issue

    def add_pull(self, title: str, branch: str, commits: list[str]) -> dict[str, Any]:
        number = len(self.issues) + len(self.pulls) + 1
        pull = {
            "id": self._new_id(),
            "number": number,
            "title": title,
            "body": "Fixes things",
            "state": "open",
            "draft": False,
            "user": self.users["hubot"],
            "head": {"ref": branch, "sha": "a" * 40, "label": f"octo:{branch}"},
            "base": {"ref": "main", "sha": "b" * 40, "label": "octo:main"},
            "html_url": f"https://github.com/octo/hello/pull/{number}",
            "created_at": "2026-11-02T10:00:00Z",
            "updated_at": "2026-11-02T10:00:00Z",
            "closed_at": None,
            "merged_at": None,
        }
        self.pulls[number] = pull
        git_person = {"name": "Hu Bot", "email": "hubot@x.y", "date": "2026-11-02T09:00:00Z"}
        self.pull_commits[number] = [
            {
                "sha": f"{i:040x}",
                "commit": {
                    "message": message,
                    "author": git_person,
                    "committer": git_person,
                },
                "author": self.users["hubot"],
                "html_url": f"https://github.com/octo/hello/commit/{i:040x}",
            }
            for i, message in enumerate(commits, start=1)
        ]
        return pull

    def _issue_or_404(self, m: re.Match[str]) -> dict[str, Any] | None:
        return self.issues.get(int(m.group(1)))

    def _label(self, name: str) -> dict[str, Any]:
        return {"id": abs(hash(name)) % 10**6, "name": name, "color": "ededed", "description": None}

    # -- routes -----------------------------------------------------------------------------

    def _rate_limit(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        core = {"limit": 5000, "remaining": 4990, "reset": 1_800_000_000, "used": 10}
        search = {"limit": 30, "remaining": 30, "reset": 1_800_000_060, "used": 0}
        return httpx.Response(
            200, json={"resources": {"core": core, "search": search}, "rate": core}
        )

    def _list_issues(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        state = request.url.params.get("state", "open")
        items = [i for i in reversed(self.issues.values()) if state == "all" or i["state"] == state]
        if "labels" in request.url.params:
            wanted = set(request.url.params["labels"].split(","))
            items = [i for i in items if wanted <= {lb["name"] for lb in i["labels"]}]
        return self._page(request, items)

    def _create_issue(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        body = self._body(request)
        if not body.get("title"):
            return self._error(422, "Validation Failed")
        issue = self.add_issue(
            body["title"],
            body=body.get("body"),
            labels=[self._label(n) for n in body.get("labels", [])],
            assignees=[self.users[a] for a in body.get("assignees", [])],
        )
        return httpx.Response(201, json=issue)

    def _get_issue(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        return httpx.Response(200, json=issue) if issue else self._error(404, "Not Found")

    def _edit_issue(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        if issue is None:
            return self._error(404, "Not Found")
        body = self._body(request)
        for key in ("title", "body", "state", "state_reason"):
            if key in body:
                issue[key] = body[key]
        if "labels" in body:
            issue["labels"] = [self._label(n) for n in body["labels"]]
        if "assignees" in body:
            issue["assignees"] = [self.users[a] for a in body["assignees"]]
        return httpx.Response(200, json=issue)

    def _assign(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        if issue is None:
            return self._error(404, "Not Found")
        current = {a["login"] for a in issue["assignees"]}
        for login in self._body(request)["assignees"]:
            if login in self.users and login not in current:
                issue["assignees"].append(self.users[login])
        return httpx.Response(201, json=issue)

    def _unassign(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        if issue is None:
            return self._error(404, "Not Found")
        gone = set(self._body(request)["assignees"])
        issue["assignees"] = [a for a in issue["assignees"] if a["login"] not in gone]
        return httpx.Response(200, json=issue)

    def _labels(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        if issue is None:
            return self._error(404, "Not Found")
        return self._page(request, issue["labels"])

    def _add_labels(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        if issue is None:
            return self._error(404, "Not Found")
        names = [lb["name"] for lb in issue["labels"]]
        for name in self._body(request)["labels"]:
            if name not in names:
                issue["labels"].append(self._label(name))
                names.append(name)
        return httpx.Response(200, json=issue["labels"])

    def _set_labels(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        if issue is None:
            return self._error(404, "Not Found")
        issue["labels"] = [self._label(n) for n in self._body(request)["labels"]]
        return httpx.Response(200, json=issue["labels"])

    def _remove_label(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        issue = self._issue_or_404(m)
        name = unquote(m.group(2))
        if issue is None or name not in {lb["name"] for lb in issue["labels"]}:
            return self._error(404, "Label does not exist")
        issue["labels"] = [lb for lb in issue["labels"] if lb["name"] != name]
        return httpx.Response(200, json=issue["labels"])

    def _comments(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        if self._issue_or_404(m) is None:
            return self._error(404, "Not Found")
        return self._page(request, self.comments.get(int(m.group(1)), []))

    def _comment(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        if self._issue_or_404(m) is None:
            return self._error(404, "Not Found")
        cid = self._new_id()
        comment = {
            "id": cid,
            "body": self._body(request)["body"],
            "user": self.users["octocat"],
            "html_url": f"https://github.com/octo/hello/issues/{m.group(1)}#issuecomment-{cid}",
            "created_at": "2026-11-03T10:00:00Z",
            "updated_at": "2026-11-03T10:00:00Z",
        }
        self.comments.setdefault(int(m.group(1)), []).append(comment)
        return httpx.Response(201, json=comment)

    def _contributors(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        anon = request.url.params.get("anon") in {"1", "true"}
        items = [c for c in self.contributors if anon or c.get("login")]
        return self._page(request, items)

    def _list_pulls(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        state = request.url.params.get("state", "open")
        items = [p for p in self.pulls.values() if state == "all" or p["state"] == state]
        return self._page(request, items)

    def _get_pull(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        pull = self.pulls.get(int(m.group(1)))
        return httpx.Response(200, json=pull) if pull else self._error(404, "Not Found")

    def _commits(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        if int(m.group(1)) not in self.pulls:
            return self._error(404, "Not Found")
        return self._page(request, self.pull_commits[int(m.group(1))])

    def _list_hooks(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        return self._page(request, list(self.hooks.values()))

    def _create_hook(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        body = self._body(request)
        config = dict(body["config"])
        if "secret" in config:
            config["secret"] = "********"
        hook = {
            "id": self._new_id(),
            "name": "web",
            "active": body.get("active", True),
            "events": body.get("events", ["push"]),
            "config": config,
            "created_at": "2026-11-04T10:00:00Z",
            "updated_at": "2026-11-04T10:00:00Z",
        }
        self.hooks[hook["id"]] = hook
        return httpx.Response(201, json=hook)

    def _delete_hook(self, request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        if self.hooks.pop(int(m.group(1)), None) is None:
            return self._error(404, "Not Found")
        return httpx.Response(204)


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
def clock() -> FakeClock:
    # GitHub's limits pace reads; a fake clock keeps pacing and retries from sleeping for real.
    return FakeClock()


@pytest.fixture
async def gh(fake: FakeGitHub, clock: FakeClock) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(token=TOKEN, transport=fake.transport(), clock=clock) as client:
        yield client
