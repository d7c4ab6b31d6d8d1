"""One normalised bug report from a GitHub issue or a Jira bug, with guessed severity/component.

Triage rules only ever see a :class:`BugReport`, so the same rule routes a bug whichever side
it was filed on.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jirabridge.errors import ValidationError
from jirabridge.jira.adf import adf_to_text

__all__ = [
    "BugReport",
    "bug_from_github_issue",
    "bug_from_jira_issue",
    "guess_component",
    "guess_severity",
]


@dataclass(frozen=True, slots=True)
class BugReport:
    """A bug as triage sees it. ``source`` is ``github`` or ``jira``; ``ref`` its id there."""

    source: str
    ref: str
    title: str
    body: str
    reporter: str | None
    labels: tuple[str, ...]
    components: tuple[str, ...]
    severity: str
    component_guess: str | None
    paths: tuple[str, ...]
    links: tuple[str, ...]


# Ordered most severe first: the first list with a hit decides.
_SEVERITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("critical", ("crash", "data loss", "security", "outage", "corrupt", "vulnerability")),
    ("major", ("error", "fails", "failure", "broken", "exception", "cannot", "can't")),
    ("minor", ("typo", "spelling", "cosmetic", "wording", "alignment")),
)
_SEVERITY_LABELS = {"critical", "major", "minor", "blocker", "trivial"}
_PATH = re.compile(r"(?<![\w/])((?:[\w.-]+/)+[\w.-]+\.\w+)")
_URL = re.compile(r"https?://[^\s)>\]]+")


def guess_severity(title: str, body: str, labels: Collection[str] = ()) -> str:
    """A severity from an explicit label, else from tell-tale words; ``normal`` otherwise."""
    for label in labels:
        if label.lower() in _SEVERITY_LABELS:
            return label.lower()
    text = f"{title}\n{body}".lower()
    for severity, words in _SEVERITY_WORDS:
        if any(word in text for word in words):
            return severity
    return "normal"


def guess_component(paths: Collection[str], components: Collection[str] = ()) -> str | None:
    """The component named on the bug, else the top folder of the first source path mentioned."""
    for component in components:
        return component
    for path in paths:
        parts = [p for p in path.split("/") if p not in ("src", "lib", "app", ".")]
        if len(parts) > 1:
            return parts[0]
    return None


def _build(
    source: str,
    ref: str,
    title: str,
    body: str,
    reporter: str | None,
    labels: tuple[str, ...],
    components: tuple[str, ...],
    link: str | None,
) -> BugReport:
    paths = tuple(dict.fromkeys(m.group(1) for m in _PATH.finditer(body)))
    links = tuple(dict.fromkeys([*([link] if link else []), *_URL.findall(body)]))
    return BugReport(
        source=source,
        ref=ref,
        title=title.strip(),
        body=body,
        reporter=reporter,
        labels=labels,
        components=components,
        severity=guess_severity(title, body, labels),
        component_guess=guess_component(paths, components),
        paths=paths,
        links=links,
    )


def bug_from_github_issue(payload: Mapping[str, Any], *, label: str | None) -> BugReport | None:
    """The bug in an ``issues`` event, or None when it is not a new bug with ``label``.

    ``label=None`` takes every newly opened issue.
    """
    if payload.get("action") not in ("opened", "labeled"):
        return None
    issue = payload.get("issue")
    repo = (payload.get("repository") or {}).get("full_name")
    if not isinstance(issue, Mapping) or not isinstance(repo, str):
        raise ValidationError("the GitHub issues event has no issue or repository")
    if "pull_request" in issue:
        return None
    labels = tuple(str(x.get("name")) for x in issue.get("labels") or [] if x.get("name"))
    if label is not None and label not in labels:
        return None
    user = issue.get("user") or {}
    return _build(
        "github",
        f"{repo}#{issue['number']}",
        str(issue.get("title") or ""),
        str(issue.get("body") or ""),
        user.get("login"),
        labels,
        (),
        issue.get("html_url"),
    )


def bug_from_jira_issue(
    payload: Mapping[str, Any], *, issue_types: Collection[str] = ("Bug",)
) -> BugReport | None:
    """The bug in a ``jira:issue_created`` webhook, or None for other events and issue types."""
    if payload.get("webhookEvent") != "jira:issue_created":
        return None
    issue = payload.get("issue")
    if not isinstance(issue, Mapping) or not isinstance(issue.get("fields"), Mapping):
        raise ValidationError("the Jira webhook has no issue fields")
    fields = issue["fields"]
    type_name = (fields.get("issuetype") or {}).get("name")
    if type_name not in issue_types:
        return None
    description = fields.get("description")
    text = adf_to_text(description) if isinstance(description, Mapping) else description
    body = str(text or "")
    reporter = fields.get("reporter") or {}
    self_url = str(issue.get("self") or "")
    base = self_url.split("/rest/")[0] if "/rest/" in self_url else None
    return _build(
        "jira",
        str(issue.get("key")),
        str(fields.get("summary") or ""),
        body,
        reporter.get("accountId") or reporter.get("name"),
        tuple(str(x) for x in fields.get("labels") or []),
        tuple(str(c.get("name")) for c in fields.get("components") or [] if c.get("name")),
        f"{base}/browse/{issue.get('key')}" if base else None,
    )
