"""Typed views of the GitHub REST resources the client uses.

Only the fields Jirabridge reads are declared; the rest of GitHub's (large) answers is ignored,
so a new field upstream never breaks parsing. Models are frozen: they describe a remote state
at one moment, and changing one locally would not change GitHub.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Comment",
    "Commit",
    "CommitAuthor",
    "Contributor",
    "GitRef",
    "Hook",
    "HookConfig",
    "Issue",
    "Label",
    "PullRequest",
    "RateLimit",
    "RateLimitResource",
    "User",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class User(_Model):
    """A GitHub account (person, bot or organisation)."""

    login: str
    id: int
    type: str | None = None
    html_url: str | None = None


class Label(_Model):
    """An issue label."""

    name: str
    id: int | None = None
    color: str | None = None
    description: str | None = None


class Issue(_Model):
    """An issue. GitHub also lists pull requests as issues; see :attr:`is_pull_request`."""

    id: int
    number: int
    title: str
    body: str | None = None
    state: str
    state_reason: str | None = None
    user: User | None = None
    labels: tuple[Label, ...] = ()
    assignees: tuple[User, ...] = ()
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    pull_request: dict[str, Any] | None = Field(default=None, repr=False)

    @property
    def is_pull_request(self) -> bool:
        """True when this "issue" is a pull request (the issues API returns both)."""
        return self.pull_request is not None

    @property
    def label_names(self) -> tuple[str, ...]:
        """The names of the labels, in GitHub's order."""
        return tuple(label.name for label in self.labels)


class Comment(_Model):
    """A comment on an issue or pull request conversation."""

    id: int
    body: str | None = None
    user: User | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Contributor(_Model):
    """A repository contributor. Anonymous contributors have no login, only name and email."""

    contributions: int
    login: str | None = None
    id: int | None = None
    type: str | None = None
    name: str | None = None
    email: str | None = None


class GitRef(_Model):
    """The head or base of a pull request."""

    ref: str
    sha: str
    label: str | None = None


class PullRequest(_Model):
    """A pull request."""

    id: int
    number: int
    title: str
    body: str | None = None
    state: str
    draft: bool = False
    user: User | None = None
    head: GitRef
    base: GitRef
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    merged_at: datetime | None = None

    @property
    def merged(self) -> bool:
        """True once the pull request has been merged."""
        return self.merged_at is not None


class CommitAuthor(_Model):
    """The git author or committer recorded in a commit."""

    name: str | None = None
    email: str | None = None
    date: datetime | None = None


class _GitCommit(_Model):
    message: str
    author: CommitAuthor | None = None
    committer: CommitAuthor | None = None


class Commit(_Model):
    """A commit, as listed for a pull request."""

    sha: str
    commit: _GitCommit = Field(repr=False)
    author: User | None = None
    """The GitHub account matched to the git author, when GitHub could match one."""
    html_url: str | None = None

    @property
    def message(self) -> str:
        """The full commit message."""
        return self.commit.message

    @property
    def git_author(self) -> CommitAuthor | None:
        """Name, email and date as recorded in git."""
        return self.commit.author


class HookConfig(_Model):
    """Delivery settings of a repository webhook. The secret is never kept in the model."""

    url: str | None = None
    content_type: str | None = None
    insecure_ssl: str | None = None


class Hook(_Model):
    """A repository webhook."""

    id: int
    name: str = "web"
    active: bool = True
    events: tuple[str, ...] = ()
    config: HookConfig = HookConfig()
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RateLimitResource(_Model):
    """One bucket of GitHub's rate limit (``core``, ``search``, ``graphql``...)."""

    limit: int
    remaining: int
    reset: int
    """Epoch seconds when the bucket refills."""
    used: int = 0

    @property
    def reset_at(self) -> datetime:
        """:attr:`reset` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.reset, tz=UTC)


class RateLimit(_Model):
    """``GET /rate_limit``: every bucket, and ``core`` (the REST API budget) at hand."""

    resources: dict[str, RateLimitResource]

    @property
    def core(self) -> RateLimitResource:
        """The REST API bucket."""
        return self.resources["core"]
