"""GitHub webhook payloads to plain records: the pull request or commits an event is about.

Only the fields linking and Smart Commits need are kept, so planners never see raw JSON and a
payload missing one of them fails here, once, with a clear message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from jirabridge.errors import ValidationError

__all__ = [
    "CommitRef",
    "PullRequestRef",
    "PullRequestState",
    "commits_from_push",
    "pull_request_from_event",
]


class PullRequestState(StrEnum):
    """Where a pull request stands, as shown on the Jira remote link."""

    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PullRequestRef:
    """A pull request as far as linking cares."""

    repo: str
    number: int
    title: str
    body: str
    branch: str
    url: str
    state: PullRequestState
    author: str | None = None


@dataclass(frozen=True, slots=True)
class CommitRef:
    """A commit as far as linking and Smart Commits care."""

    repo: str
    sha: str
    message: str
    url: str
    author_email: str | None
    author_name: str | None
    timestamp: datetime | None


def _get(obj: Mapping[str, Any], name: str, what: str) -> Any:
    if not isinstance(obj, Mapping) or name not in obj:
        raise ValidationError(f"the GitHub {what} has no '{name}' field")
    return obj[name]


def _repo_name(payload: Mapping[str, Any]) -> str:
    repo = _get(payload, "repository", "event")
    name = _get(repo, "full_name", "repository")
    if not isinstance(name, str) or "/" not in name:
        raise ValidationError("the GitHub repository full_name must look like 'owner/name'")
    return name


def pull_request_from_event(payload: Mapping[str, Any]) -> PullRequestRef:
    """Read the pull request out of a ``pull_request`` event payload."""
    pr = _get(payload, "pull_request", "pull_request event")
    merged = bool(pr.get("merged")) or pr.get("merged_at") is not None
    if merged:
        state = PullRequestState.MERGED
    elif pr.get("state") == "closed":
        state = PullRequestState.CLOSED
    else:
        state = PullRequestState.OPEN
    user = pr.get("user") or {}
    return PullRequestRef(
        repo=_repo_name(payload),
        number=int(_get(pr, "number", "pull request")),
        title=str(_get(pr, "title", "pull request")),
        body=str(pr.get("body") or ""),
        branch=str(_get(_get(pr, "head", "pull request"), "ref", "pull request head")),
        url=str(_get(pr, "html_url", "pull request")),
        state=state,
        author=user.get("login") if isinstance(user, Mapping) else None,
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"the commit timestamp {value!r} is not an ISO 8601 date") from exc


def commits_from_push(payload: Mapping[str, Any]) -> list[CommitRef]:
    """The commits of a ``push`` event, oldest first (GitHub's order)."""
    repo = _repo_name(payload)
    commits = _get(payload, "commits", "push event")
    if not isinstance(commits, list):
        raise ValidationError("the GitHub push event's 'commits' must be a list")
    found: list[CommitRef] = []
    for item in commits:
        author = item.get("author") or {}
        found.append(
            CommitRef(
                repo=repo,
                sha=str(_get(item, "id", "commit")),
                message=str(_get(item, "message", "commit")),
                url=str(item.get("url") or f"https://github.com/{repo}/commit/{item['id']}"),
                author_email=author.get("email"),
                author_name=author.get("name"),
                timestamp=_timestamp(item.get("timestamp")),
            )
        )
    return found
