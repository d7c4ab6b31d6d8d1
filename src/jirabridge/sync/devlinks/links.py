"""Plan the Jira side of a pull request or commit: which issues it names, and which links.

A pull request names issues in its title, branch and body; a commit in its message. Each issue
named gets one remote link whose ``globalId`` is derived from the pull request, so re-sending
updates the same link instead of adding a second, and a link that already reads right is left
alone. An optional comment goes out once per issue and milestone (opened, merged, closed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from jirabridge.jira.keys import DEFAULT_DENIED_PREFIXES, find_keys_in
from jirabridge.sync.devlinks.events import CommitRef, PullRequestRef, PullRequestState

__all__ = [
    "CommentAction",
    "IssueLink",
    "LinkPlan",
    "RemoteLinkAction",
    "RemoteLinkSnapshot",
    "links_for_commit",
    "links_for_pull_request",
    "milestone_for_action",
    "plan_pull_request_links",
    "pull_request_global_id",
]

#: The places a pull request can name an issue, in the order they are searched.
PULL_REQUEST_SOURCES = ("title", "branch", "body")


@dataclass(frozen=True, slots=True)
class IssueLink:
    """One issue named by one pull request or commit, with every place it was named."""

    issue_key: str
    repo: str
    kind: str
    """``"pull_request"`` or ``"commit"``."""
    ref: str
    """The pull request number or the commit sha."""
    found_in: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoteLinkSnapshot:
    """What a remote link on an issue currently says (read from Jira)."""

    url: str
    title: str
    summary: str | None


@dataclass(frozen=True, slots=True)
class RemoteLinkAction:
    """Create or update one remote link (idempotent through ``global_id``)."""

    issue_key: str
    global_id: str
    url: str
    title: str
    summary: str


@dataclass(frozen=True, slots=True)
class CommentAction:
    """Add one comment, once: ``external_id`` is its ledger key."""

    issue_key: str
    external_id: str
    body: str


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """Everything a pull request event should change in Jira, and what it leaves alone."""

    links: tuple[IssueLink, ...]
    remote_links: tuple[RemoteLinkAction, ...] = ()
    comments: tuple[CommentAction, ...] = ()
    up_to_date: tuple[str, ...] = field(default=())
    """Issue keys whose remote link already reads right."""

    @property
    def empty(self) -> bool:
        """True when nothing would be written."""
        return not self.remote_links and not self.comments


def _group(
    matches: list[tuple[str, str]], *, repo: str, kind: str, ref: str
) -> tuple[IssueLink, ...]:
    places: dict[str, list[str]] = {}
    for key, source in matches:
        seen = places.setdefault(key, [])
        if source not in seen:
            seen.append(source)
    return tuple(
        IssueLink(issue_key=key, repo=repo, kind=kind, ref=ref, found_in=tuple(sources))
        for key, sources in places.items()
    )


def links_for_pull_request(
    pr: PullRequestRef,
    *,
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
) -> tuple[IssueLink, ...]:
    """The issues a pull request names, each once, with where it was found.

    ``projects`` is the connection's project keys (an allow-list); ``denied_prefixes`` the
    identifiers that look like keys but are not (CVE, SHA, UTF, ISO...).
    """
    matches = find_keys_in(
        {"title": pr.title, "branch": pr.branch, "body": pr.body},
        projects=projects,
        denied_prefixes=denied_prefixes,
    )
    return _group(
        [(m.key, m.source) for m in matches], repo=pr.repo, kind="pull_request", ref=str(pr.number)
    )


def links_for_commit(
    commit: CommitRef,
    *,
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
) -> tuple[IssueLink, ...]:
    """The issues a commit message names, each once."""
    matches = find_keys_in(
        {"commit_message": commit.message}, projects=projects, denied_prefixes=denied_prefixes
    )
    return _group(
        [(m.key, m.source) for m in matches], repo=commit.repo, kind="commit", ref=commit.sha
    )


def pull_request_global_id(repo: str, number: int) -> str:
    """The remote link ``globalId`` of a pull request: stable, so Jira updates in place."""
    return f"jirabridge:github:pr:{repo}#{number}"


def milestone_for_action(action: str, state: PullRequestState) -> str | None:
    """Which comment-worthy milestone a ``pull_request`` action is, if any.

    ``opened``/``reopened`` open, ``closed`` is merged or closed by the state; edits and pushes
    (``edited``, ``synchronize``) only refresh the link.
    """
    if action in ("opened", "reopened"):
        return "opened"
    if action == "closed":
        return "merged" if state is PullRequestState.MERGED else "closed"
    return None


def _link_text(pr: PullRequestRef) -> tuple[str, str]:
    title = f"{pr.repo}#{pr.number}: {pr.title}"
    summary = f"Pull request {pr.state.value}, branch {pr.branch}"
    return title, summary


def plan_pull_request_links(
    pr: PullRequestRef,
    *,
    action: str,
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
    existing: Mapping[str, RemoteLinkSnapshot] | None = None,
    comment_on: Collection[str] = (),
    already_commented: Collection[str] = (),
) -> LinkPlan:
    """Plan the remote links and comments for one ``pull_request`` event.

    ``existing`` maps issue key to the remote link with this pull request's ``globalId`` as
    Jira has it now; an identical link is not re-sent. ``comment_on`` lists the milestones
    (``opened``, ``merged``, ``closed``) that also get a comment; ``already_commented`` the
    comment external ids the ledger already holds, so a redelivered event comments once.
    """
    links = links_for_pull_request(pr, projects=projects, denied_prefixes=denied_prefixes)
    current = existing or {}
    title, summary = _link_text(pr)
    global_id = pull_request_global_id(pr.repo, pr.number)
    milestone = milestone_for_action(action, pr.state)
    done = set(already_commented)
    remote: list[RemoteLinkAction] = []
    comments: list[CommentAction] = []
    same: list[str] = []
    for link in links:
        have = current.get(link.issue_key)
        if have == RemoteLinkSnapshot(url=pr.url, title=title, summary=summary):
            same.append(link.issue_key)
        else:
            remote.append(
                RemoteLinkAction(
                    issue_key=link.issue_key,
                    global_id=global_id,
                    url=pr.url,
                    title=title,
                    summary=summary,
                )
            )
        if milestone is not None and milestone in comment_on:
            external_id = f"pr:{pr.repo}#{pr.number}:{link.issue_key}:{milestone}"
            if external_id not in done:
                comments.append(
                    CommentAction(
                        issue_key=link.issue_key,
                        external_id=external_id,
                        body=f"Pull request {pr.repo}#{pr.number} {milestone}: {pr.url}",
                    )
                )
    return LinkPlan(
        links=links, remote_links=tuple(remote), comments=tuple(comments), up_to_date=tuple(same)
    )
