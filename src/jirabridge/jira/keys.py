"""Find Jira issue keys in free text: PR titles, branch names, commit messages.

Jira validates a key with ``^\\p{L}[\\p{L}\\p{Digit}_]{1,255}-\\p{Digit}{1,255}$``: a letter, one
or more letters, ASCII digits or underscores, a hyphen, then ASCII digits (Java's ``\\p{Digit}``
is ASCII unless Unicode classes are switched on). A naive ``[A-Z]+-\\d+`` search turns
``UTF-8``, ``SHA-256``, ``CVE-2024-1234`` and ``release-2024-01`` into keys and misses
``MY_PROJ-7`` or ``ÄRZTE-3``. This module applies Jira's rule to each token it finds and then
a few refusals of its own, and records why each candidate was kept or dropped, so a later
``keys explain`` command can show its reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_DENIED_PREFIXES",
    "KeyCandidate",
    "KeyDecision",
    "KeyMatch",
    "explain_keys",
    "extract_keys",
    "find_keys",
    "find_keys_in",
    "is_issue_key",
]

# Python's ``re`` has no \p{L}; ``[^\W\d_]`` is "a word character that is neither a digit nor an
# underscore", i.e. a Unicode letter (plus a few numeric letters such as Roman numerals, which
# the str.isalpha() check below removes).
_LETTER = r"[^\W\d_]"
_BODY = r"(?:[^\W\d_]|[0-9_])"

_FULL_KEY = re.compile(rf"{_LETTER}{_BODY}{{1,255}}-[0-9]{{1,255}}")

# A candidate starts where no word character precedes it, and its number must not run into a
# letter or digit (``PROJ-12abc`` is not a key). A trailing ``-<digit>`` is captured so that
# date and version shapes (``release-2024-01``) can be refused.
_CANDIDATE = re.compile(
    rf"(?<!\w)(?P<project>{_LETTER}{_BODY}{{1,255}})-(?P<number>[0-9]{{1,255}})"
    rf"(?![^\W_])(?P<tail>-[0-9])?"
)

#: Prefixes of standard identifiers that look like keys: encodings, hashes, advisories, specs.
DEFAULT_DENIED_PREFIXES: frozenset[str] = frozenset(
    {
        "AES",
        "CVE",
        "CWE",
        "ECMA",
        "GHSA",
        "IEC",
        "IEEE",
        "ISO",
        "MD",
        "PEP",
        "RFC",
        "SHA",
        "UCS",
        "UTF",
    }
)


class KeyDecision(StrEnum):
    """Why a candidate was kept or dropped."""

    ACCEPTED = "accepted"
    ACCEPTED_ALLOWED_PROJECT = "accepted: project is in the allow-list"
    DENIED_PREFIX = "rejected: a standard identifier (encoding, hash, advisory or spec)"
    DATE_OR_VERSION = "rejected: followed by another -number, so a date or version"
    NOT_UPPERCASE = "rejected: project part is not upper case"
    NOT_IN_ALLOW_LIST = "rejected: project is not in the allow-list"
    NOT_LETTERS = "rejected: project part must be a letter, then letters, digits or _"


@dataclass(frozen=True, slots=True)
class KeyCandidate:
    """A token shaped like an issue key, with the decision taken on it.

    ``start`` and ``end`` are offsets into the searched text; ``source`` names that text
    (``"title"``, ``"branch"``, ``"commit"``...).
    """

    text: str
    key: str
    source: str
    start: int
    end: int
    decision: KeyDecision

    @property
    def accepted(self) -> bool:
        """True when the candidate became an issue key."""
        return self.decision in (KeyDecision.ACCEPTED, KeyDecision.ACCEPTED_ALLOWED_PROJECT)


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """An issue key found in text: the normalised key, where it was, and why it counts."""

    key: str
    source: str
    start: int
    end: int
    reason: KeyDecision

    @property
    def project(self) -> str:
        """The project part of the key (before the last hyphen)."""
        return self.key.rpartition("-")[0]

    @property
    def number(self) -> int:
        """The issue number."""
        return int(self.key.rpartition("-")[2])


def _jira_project_chars(project: str) -> bool:
    # The regex letter class also admits numeric letters (Roman numerals, fractions); Jira's
    # \p{L} does not.
    return project[0].isalpha() and all(ch.isalpha() or ch in _ASCII_BODY for ch in project)


_ASCII_BODY = frozenset("0123456789_")


def is_issue_key(value: str) -> bool:
    """Return True when ``value`` as a whole satisfies Jira's issue-key rule."""
    if _FULL_KEY.fullmatch(value) is None:
        return False
    return _jira_project_chars(value.rpartition("-")[0])


def _normalise_projects(projects: Collection[str] | None) -> frozenset[str] | None:
    if projects is None:
        return None
    return frozenset(p.upper() for p in projects)


def _decide(
    project: str,
    has_tail: bool,
    *,
    allowed: frozenset[str] | None,
    denied: frozenset[str],
    require_uppercase: bool,
) -> KeyDecision:
    if not _jira_project_chars(project):
        return KeyDecision.NOT_LETTERS
    upper = project.upper()
    if allowed is not None:
        # An explicit allow-list is the caller's knowledge of real projects: it outranks every
        # heuristic below, so a project really called "SHA" still works when listed.
        if upper in allowed and (project == upper or not require_uppercase):
            return KeyDecision.ACCEPTED_ALLOWED_PROJECT
        if upper not in allowed:
            return KeyDecision.NOT_IN_ALLOW_LIST
    if require_uppercase and project != upper:
        return KeyDecision.NOT_UPPERCASE
    if upper in denied:
        return KeyDecision.DENIED_PREFIX
    if has_tail:
        return KeyDecision.DATE_OR_VERSION
    return KeyDecision.ACCEPTED


def explain_keys(
    text: str,
    *,
    source: str = "text",
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
    require_uppercase: bool = True,
) -> list[KeyCandidate]:
    """Return every key-shaped token in ``text`` with the decision taken on it.

    ``projects`` is an optional allow-list of project keys (case-insensitive); when given, only
    keys of those projects are accepted, and the deny heuristics do not apply to them.
    ``denied_prefixes`` lists project parts that are standard identifiers, not projects.
    With ``require_uppercase=False``, ``proj-12`` is accepted and normalised to ``PROJ-12``.
    """
    allowed = _normalise_projects(projects)
    denied = frozenset(p.upper() for p in denied_prefixes)
    candidates: list[KeyCandidate] = []
    for m in _CANDIDATE.finditer(text):
        project, number = m.group("project"), m.group("number")
        decision = _decide(
            project,
            m.group("tail") is not None,
            allowed=allowed,
            denied=denied,
            require_uppercase=require_uppercase,
        )
        candidates.append(
            KeyCandidate(
                text=f"{project}-{number}",
                key=f"{project.upper()}-{number}",
                source=source,
                start=m.start("project"),
                end=m.end("number"),
                decision=decision,
            )
        )
    return candidates


def find_keys(
    text: str,
    *,
    source: str = "text",
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
    require_uppercase: bool = True,
) -> list[KeyMatch]:
    """Return the issue keys in ``text``, in order, each with its position and reason.

    Takes the same options as :func:`explain_keys`; a key that occurs twice is returned twice.
    """
    return [
        KeyMatch(key=c.key, source=c.source, start=c.start, end=c.end, reason=c.decision)
        for c in explain_keys(
            text,
            source=source,
            projects=projects,
            denied_prefixes=denied_prefixes,
            require_uppercase=require_uppercase,
        )
        if c.accepted
    ]


def find_keys_in(
    sources: Mapping[str, str | None] | Iterable[tuple[str, str | None]],
    *,
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
    require_uppercase: bool = True,
) -> list[KeyMatch]:
    """Search several named texts, e.g. ``{"title": ..., "branch": ..., "commit": ...}``.

    ``None`` texts are skipped. Matches come back source by source, in the order given.
    """
    items = sources.items() if isinstance(sources, Mapping) else sources
    found: list[KeyMatch] = []
    for name, text in items:
        if text:
            found.extend(
                find_keys(
                    text,
                    source=name,
                    projects=projects,
                    denied_prefixes=denied_prefixes,
                    require_uppercase=require_uppercase,
                )
            )
    return found


def extract_keys(
    text: str,
    *,
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
    require_uppercase: bool = True,
) -> list[str]:
    """Return the distinct issue keys in ``text`` in order of first appearance."""
    seen: dict[str, None] = {}
    for m in find_keys(
        text,
        projects=projects,
        denied_prefixes=denied_prefixes,
        require_uppercase=require_uppercase,
    ):
        seen.setdefault(m.key, None)
    return list(seen)
