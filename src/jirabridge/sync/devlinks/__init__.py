"""GitHub and Jira together: issue keys in pull requests and commits, remote links, Smart Commits.

Everything here follows the sans-I/O rule: :mod:`.events` turns GitHub payloads into plain
records, :mod:`.links` and :mod:`.smart_commits` plan what Jira should get (pure functions,
tested without network or database), and :mod:`.executor` carries out exactly that plan.
"""

from __future__ import annotations

from jirabridge.sync.devlinks.events import (
    CommitRef,
    PullRequestRef,
    PullRequestState,
    commits_from_push,
    pull_request_from_event,
)
from jirabridge.sync.devlinks.links import (
    CommentAction,
    IssueLink,
    LinkPlan,
    RemoteLinkAction,
    links_for_commit,
    links_for_pull_request,
    plan_pull_request_links,
    pull_request_global_id,
)
from jirabridge.sync.devlinks.smart_commits import (
    SmartCommand,
    SmartCommandKind,
    SmartCommitPlan,
    SmartStep,
    parse_duration,
    parse_smart_commit,
    plan_smart_commit,
)

__all__ = [
    "CommentAction",
    "CommitRef",
    "IssueLink",
    "LinkPlan",
    "PullRequestRef",
    "PullRequestState",
    "RemoteLinkAction",
    "SmartCommand",
    "SmartCommandKind",
    "SmartCommitPlan",
    "SmartStep",
    "commits_from_push",
    "links_for_commit",
    "links_for_pull_request",
    "parse_duration",
    "parse_smart_commit",
    "plan_pull_request_links",
    "plan_smart_commit",
    "pull_request_from_event",
    "pull_request_global_id",
]
