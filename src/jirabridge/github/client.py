"""An async GitHub REST client on the shared HTTP core.

Covers what Jirabridge needs from GitHub: issues (get, list, create, edit, assign, labels,
comments), repository contributors, pull requests and their commits, repository webhooks and
the rate-limit status. Repositories are named ``"owner/name"``. Every request sends
``Accept: application/vnd.github+json`` and pins ``X-GitHub-Api-Version: 2022-11-28``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from jirabridge.errors import ApiNotFoundError, ConfigError, ValidationError
from jirabridge.github.models import (
    Comment,
    Commit,
    Contributor,
    Hook,
    Issue,
    Label,
    PullRequest,
    RateLimit,
)
from jirabridge.github.pagination import Paginator
from jirabridge.http import (
    BearerAuth,
    Clock,
    GovernorLimits,
    GovernorStore,
    HttpClient,
    RetryPolicy,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "GITHUB_HEADERS",
    "GitHubClient",
]

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"

#: Headers every GitHub request carries; pass them to an ``HttpClient`` given as ``http=``.
GITHUB_HEADERS: Mapping[str, str] = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": API_VERSION,
}

# GitHub owner names are alphanumerics and hyphens; repository names add "." and "_". Checking
# them keeps a caller's string from walking the URL path ("../", "?", "#").
_REPO = re.compile(r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9._-]{1,100})")

T = TypeVar("T")

IssueState = Literal["open", "closed", "all"]


def _repo_path(repo: str) -> str:
    m = _REPO.fullmatch(repo)
    if m is None or m.group("name") in {".", ".."}:
        raise ValidationError(
            "a repository must be given as 'owner/name'", details={"repository": repo}
        )
    return f"/repos/{m.group('owner')}/{m.group('name')}"


def _positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(f"{what} must be a positive integer", details={what: value})
    return value


def _names(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        # A bare string would be sent as a list of its characters.
        raise ValidationError(f"{what} must be a list of names, not a single string")
    out = list(values)
    if any(not isinstance(v, str) or not v.strip() for v in out):
        raise ValidationError(f"{what} must be non-empty strings")
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class GitHubClient:
    """Async client for the GitHub REST API.

    Build it with a token (``GitHubClient(token=...)``), an ``httpx.Auth`` (e.g.
    :class:`jirabridge.http.GitHubAppAuth`), a prepared :class:`~jirabridge.http.HttpClient`
    (``http=``), or from the environment with :meth:`from_env`. Requests are paced by
    :meth:`GovernorLimits.github <jirabridge.http.GovernorLimits.github>` unless ``limits`` says
    otherwise; ``governor_store`` shares that budget between processes; ``clock`` and ``retry``
    are for tests and tuning. ``transport`` injects a test double. Use as
    ``async with GitHubClient(...) as gh:`` or call :meth:`aclose`.

    List methods return a :class:`~jirabridge.github.pagination.Paginator`, consumed with
    ``async for``; other methods are coroutines. Errors come from :mod:`jirabridge.errors`
    (e.g. ``ApiNotFoundError`` for a missing issue, ``RateLimitedError`` when GitHub throttles).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        http: HttpClient | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        per_page: int = 100,
        limits: GovernorLimits | None = None,
        governor_store: GovernorStore | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= per_page <= 100:
            raise ConfigError("per_page must be between 1 and 100 (GitHub's maximum)")
        self._per_page = per_page
        if http is not None:
            # A prepared pipeline (shared governor, custom auth): it must send the GitHub
            # headers itself, so only the credential-free knobs above apply.
            if token is not None or auth is not None or transport is not None:
                raise ConfigError("pass token/auth/transport to the HttpClient given as http=")
            self._http = http
            self._owns_http = False
            return
        if (token is None) == (auth is None):
            raise ConfigError("GitHubClient needs exactly one of token= or auth=")
        self._owns_http = True
        self._http = HttpClient(
            base_url,
            auth=auth if auth is not None else BearerAuth(token or ""),
            transport=transport,
            headers=GITHUB_HEADERS,
            timeout=timeout,
            limits=limits if limits is not None else GovernorLimits.github(),
            governor_store=governor_store,
            retry=retry,
            clock=clock,
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> GitHubClient:
        """Build a client from ``GITHUB_TOKEN`` (required) and ``GITHUB_API_URL`` (optional).

        ``GITHUB_API_URL`` points at GitHub Enterprise Server (``https://host/api/v3``); GitHub
        Actions sets it too. ``env`` defaults to ``os.environ``.
        """
        source = os.environ if env is None else env
        token = (source.get("GITHUB_TOKEN") or "").strip()
        if not token:
            raise ConfigError(
                "GITHUB_TOKEN is not set: create a token with access to the repositories "
                "and export it as GITHUB_TOKEN"
            )
        base_url = (source.get("GITHUB_API_URL") or "").strip() or DEFAULT_BASE_URL
        if not base_url.startswith(("https://", "http://")):
            raise ConfigError("GITHUB_API_URL must be an http(s) URL")
        return cls(token=token, base_url=base_url, transport=transport)

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._http.base_url

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r})"

    # -- plumbing ---------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self._http.request(
            method, path, params=params, json=json, idempotent=idempotent
        )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _paginate(
        self, path: str, parse: Callable[[Any], T], params: Mapping[str, Any] | None = None
    ) -> Paginator[T]:
        params = {**(params or {}), "per_page": self._per_page}
        return Paginator(self._http, path, parse, params=params)

    # -- issues -----------------------------------------------------------------------------

    async def get_issue(self, repo: str, number: int) -> Issue:
        """``GET /repos/{owner}/{repo}/issues/{number}``."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}"
        return Issue.model_validate(await self._json("GET", path))

    def list_issues(
        self,
        repo: str,
        *,
        state: IssueState = "open",
        labels: Sequence[str] | None = None,
        assignee: str | None = None,
        creator: str | None = None,
        since: datetime | None = None,
    ) -> Paginator[Issue]:
        """Issues of a repository, newest first. Pull requests are included, as GitHub does."""
        params = {
            "state": state,
            "labels": ",".join(_names(labels, "labels")) if labels else None,
            "assignee": assignee,
            "creator": creator,
            "since": _iso(since),
        }
        return self._paginate(f"{_repo_path(repo)}/issues", Issue.model_validate, params)

    async def create_issue(
        self,
        repo: str,
        title: str,
        *,
        body: str | None = None,
        assignees: Sequence[str] = (),
        labels: Sequence[str] = (),
        milestone: int | None = None,
    ) -> Issue:
        """Create an issue. Not retried blindly: a lost answer surfaces as a TransportError."""
        if not title.strip():
            raise ValidationError("an issue needs a non-empty title")
        payload: dict[str, Any] = {"title": title}
        if body is not None:
            payload["body"] = body
        if assignees:
            payload["assignees"] = _names(assignees, "assignees")
        if labels:
            payload["labels"] = _names(labels, "labels")
        if milestone is not None:
            payload["milestone"] = _positive(milestone, "milestone")
        data = await self._json(
            "POST", f"{_repo_path(repo)}/issues", json=payload, idempotent=False
        )
        return Issue.model_validate(data)

    async def edit_issue(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: Literal["open", "closed"] | None = None,
        state_reason: Literal["completed", "not_planned", "reopened"] | None = None,
        assignees: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> Issue:
        """Change the given fields of an issue (``PATCH``); ``None`` leaves a field alone.

        ``assignees``/``labels`` replace the whole set (pass ``[]`` to clear).
        """
        payload: dict[str, Any] = {}
        if title is not None:
            if not title.strip():
                raise ValidationError("an issue needs a non-empty title")
            payload["title"] = title
        if body is not None:
            payload["body"] = body
        if state is not None:
            payload["state"] = state
        if state_reason is not None:
            payload["state_reason"] = state_reason
        if assignees is not None:
            payload["assignees"] = _names(assignees, "assignees")
        if labels is not None:
            payload["labels"] = _names(labels, "labels")
        if not payload:
            raise ValidationError("edit_issue needs at least one field to change")
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}"
        # Setting fields to values is idempotent, so a PATCH may be repeated safely.
        return Issue.model_validate(await self._json("PATCH", path, json=payload, idempotent=True))

    async def assign(self, repo: str, number: int, assignees: Sequence[str]) -> Issue:
        """Add assignees to an issue (people already assigned stay)."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/assignees"
        payload = {"assignees": _names(assignees, "assignees")}
        # Adding someone who is already assigned changes nothing: safe to repeat.
        return Issue.model_validate(await self._json("POST", path, json=payload, idempotent=True))

    async def unassign(self, repo: str, number: int, assignees: Sequence[str]) -> Issue:
        """Remove assignees from an issue."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/assignees"
        payload = {"assignees": _names(assignees, "assignees")}
        return Issue.model_validate(await self._json("DELETE", path, json=payload))

    # -- labels -----------------------------------------------------------------------------

    def list_issue_labels(self, repo: str, number: int) -> Paginator[Label]:
        """Labels on one issue."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/labels"
        return self._paginate(path, Label.model_validate)

    async def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> list[Label]:
        """Add labels to an issue; returns the issue's labels afterwards."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/labels"
        data = await self._json(
            "POST", path, json={"labels": _names(labels, "labels")}, idempotent=True
        )
        return [Label.model_validate(x) for x in data or []]

    async def set_labels(self, repo: str, number: int, labels: Sequence[str]) -> list[Label]:
        """Replace all labels of an issue; returns the issue's labels afterwards."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/labels"
        data = await self._json("PUT", path, json={"labels": _names(labels, "labels")})
        return [Label.model_validate(x) for x in data or []]

    async def remove_label(
        self, repo: str, number: int, name: str, *, missing_ok: bool = True
    ) -> list[Label]:
        """Remove one label from an issue; returns the issue's labels afterwards.

        GitHub answers 404 when the label is not on the issue. With ``missing_ok`` (the
        default) that counts as done, so a repeated removal is harmless; the issue's labels
        are then read back (a missing issue still raises ``ApiNotFoundError``).
        """
        (label,) = _names([name], "label")
        base = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/labels"
        try:
            data = await self._json("DELETE", f"{base}/{quote(label, safe='')}")
        except ApiNotFoundError:
            if not missing_ok:
                raise
            return await self.list_issue_labels(repo, number).collect()
        return [Label.model_validate(x) for x in data or []]

    # -- comments ---------------------------------------------------------------------------

    def list_comments(
        self, repo: str, number: int, *, since: datetime | None = None
    ) -> Paginator[Comment]:
        """Comments on an issue or pull request, oldest first."""
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/comments"
        return self._paginate(path, Comment.model_validate, {"since": _iso(since)})

    async def create_comment(self, repo: str, number: int, body: str) -> Comment:
        """Comment on an issue or pull request. Not retried blindly."""
        if not body.strip():
            raise ValidationError("a comment needs a non-empty body")
        path = f"{_repo_path(repo)}/issues/{_positive(number, 'number')}/comments"
        data = await self._json("POST", path, json={"body": body}, idempotent=False)
        return Comment.model_validate(data)

    # -- repository -------------------------------------------------------------------------

    def list_contributors(self, repo: str, *, anon: bool = False) -> Paginator[Contributor]:
        """Contributors by number of commits; ``anon`` includes commits without an account."""
        params = {"anon": "true" if anon else None}
        return self._paginate(
            f"{_repo_path(repo)}/contributors", Contributor.model_validate, params
        )

    # -- pull requests ----------------------------------------------------------------------

    def list_pull_requests(
        self,
        repo: str,
        *,
        state: IssueState = "open",
        head: str | None = None,
        base: str | None = None,
    ) -> Paginator[PullRequest]:
        """Pull requests of a repository; ``head`` is ``user:branch``, ``base`` a branch."""
        params = {"state": state, "head": head, "base": base}
        return self._paginate(f"{_repo_path(repo)}/pulls", PullRequest.model_validate, params)

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        """``GET /repos/{owner}/{repo}/pulls/{number}``."""
        path = f"{_repo_path(repo)}/pulls/{_positive(number, 'number')}"
        return PullRequest.model_validate(await self._json("GET", path))

    def list_pull_request_commits(self, repo: str, number: int) -> Paginator[Commit]:
        """Commits of a pull request, oldest first (GitHub lists at most 250)."""
        path = f"{_repo_path(repo)}/pulls/{_positive(number, 'number')}/commits"
        return self._paginate(path, Commit.model_validate)

    # -- webhooks ---------------------------------------------------------------------------

    def list_hooks(self, repo: str) -> Paginator[Hook]:
        """Webhooks of a repository."""
        return self._paginate(f"{_repo_path(repo)}/hooks", Hook.model_validate)

    async def create_hook(
        self,
        repo: str,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[str] = ("push",),
        content_type: Literal["json", "form"] = "json",
        active: bool = True,
        insecure_ssl: bool = False,
    ) -> Hook:
        """Create a repository webhook delivering to ``url``.

        Pass a ``secret`` so deliveries can be verified with
        :func:`jirabridge.github.webhooks.verify_github_delivery`. Written exactly once: if the
        answer is lost, the repository's hooks are searched for one with this URL before the
        create is repeated.
        """
        if not url.startswith(("https://", "http://")):
            raise ValidationError("a webhook URL must be http(s)")
        config: dict[str, Any] = {
            "url": url,
            "content_type": content_type,
            "insecure_ssl": "1" if insecure_ssl else "0",
        }
        if secret is not None:
            config["secret"] = secret
        payload = {
            "name": "web",
            "active": active,
            "events": _names(events, "events"),
            "config": config,
        }

        async def already_created() -> Hook | None:
            async for hook in self.list_hooks(repo):
                if hook.config.url == url:
                    return hook
            return None

        return await self._http.write_once(
            "POST",
            f"{_repo_path(repo)}/hooks",
            json=payload,
            parse=lambda response: Hook.model_validate(response.json()),
            reconcile=already_created,
        )

    async def delete_hook(self, repo: str, hook_id: int) -> None:
        """Delete a repository webhook."""
        await self._json("DELETE", f"{_repo_path(repo)}/hooks/{_positive(hook_id, 'hook_id')}")

    # -- rate limit -------------------------------------------------------------------------

    async def rate_limit(self) -> RateLimit:
        """``GET /rate_limit``. This call does not count against the limit."""
        return RateLimit.model_validate(await self._json("GET", "/rate_limit"))

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool (not when the ``HttpClient`` was passed in as ``http=``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
