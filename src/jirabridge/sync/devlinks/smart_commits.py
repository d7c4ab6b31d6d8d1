"""Smart Commits: ``PROJ-1 #comment ...``, ``#time 1w 2d 4h 30m ...``, ``#<transition> ...``.

Parsing and planning are pure. The plan for a commit is either the steps to take (each with
the ledger id that makes it happen once per commit sha) or, when the commit author is not one
Jira user, a single error and no steps: Jira itself refuses Smart Commits it cannot attribute.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from jirabridge.errors import ValidationError
from jirabridge.jira.keys import DEFAULT_DENIED_PREFIXES, find_keys
from jirabridge.sync.devlinks.events import CommitRef

__all__ = [
    "SmartCommand",
    "SmartCommandKind",
    "SmartCommitPlan",
    "SmartStep",
    "match_transition",
    "parse_duration",
    "parse_smart_commit",
    "plan_smart_commit",
]


class SmartCommandKind(StrEnum):
    """The three kinds of Smart Commit command."""

    COMMENT = "comment"
    TIME = "time"
    TRANSITION = "transition"


@dataclass(frozen=True, slots=True)
class SmartCommand:
    """One command for one issue, as written in the message."""

    issue_key: str
    kind: SmartCommandKind
    text: str
    """The comment, or for ``#time`` everything after the duration."""
    seconds: int | None = None
    transition: str | None = None
    """The transition as written, hyphens turned into spaces (``start progress``)."""


_COMMAND = re.compile(r"(?<!\S)#(?P<name>[A-Za-z][\w-]*)")
_DURATION_PART = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>[wdhm])", re.IGNORECASE)


def parse_duration(text: str, *, hours_per_day: int = 8, days_per_week: int = 5) -> int:
    """Seconds in a Jira duration such as ``1w 2d 4h 30m`` (a week is 5 days of 8 hours).

    Raises :class:`~jirabridge.errors.ValidationError` for anything else, or for zero.
    """
    parts = text.split()
    if not parts:
        raise ValidationError("a #time command needs a duration such as '2h 30m'")
    unit_seconds = {
        "w": days_per_week * hours_per_day * 3600,
        "d": hours_per_day * 3600,
        "h": 3600,
        "m": 60,
    }
    total = 0.0
    for part in parts:
        m = _DURATION_PART.fullmatch(part)
        if m is None:
            raise ValidationError(
                f"'{part}' is not a duration part: use a number then w, d, h or m (e.g. 1w 2d 4h)"
            )
        total += float(m.group("n")) * unit_seconds[m.group("unit").lower()]
    seconds = round(total)
    if seconds <= 0:
        raise ValidationError("a #time duration must be more than zero")
    return seconds


def _split_time(text: str, hours_per_day: int, days_per_week: int) -> tuple[int, str]:
    words = text.split()
    taken = 0
    while taken < len(words) and _DURATION_PART.fullmatch(words[taken]):
        taken += 1
    seconds = parse_duration(
        " ".join(words[:taken]), hours_per_day=hours_per_day, days_per_week=days_per_week
    )
    return seconds, " ".join(words[taken:])


def parse_smart_commit(
    message: str,
    *,
    projects: Collection[str] | None = None,
    denied_prefixes: Collection[str] = DEFAULT_DENIED_PREFIXES,
    hours_per_day: int = 8,
    days_per_week: int = 5,
) -> list[SmartCommand]:
    """The Smart Commit commands in a commit message, in the order written.

    Each line is read on its own: the issue keys before the first ``#command`` are the
    targets, and every command on the line applies to each of them. A command's text runs to
    the next command or the end of the line. A malformed ``#time`` raises
    :class:`~jirabridge.errors.ValidationError` naming the line.
    """
    commands: list[SmartCommand] = []
    for number, line in enumerate(message.splitlines(), start=1):
        found = list(_COMMAND.finditer(line))
        if not found:
            continue
        head = line[: found[0].start()]
        keys = list(
            dict.fromkeys(
                m.key for m in find_keys(head, projects=projects, denied_prefixes=denied_prefixes)
            )
        )
        if not keys:
            continue
        for index, m in enumerate(found):
            end = found[index + 1].start() if index + 1 < len(found) else len(line)
            name = m.group("name").lower()
            text = line[m.end() : end].strip()
            for key in keys:
                if name == "comment":
                    commands.append(SmartCommand(key, SmartCommandKind.COMMENT, text))
                elif name == "time":
                    try:
                        seconds, rest = _split_time(text, hours_per_day, days_per_week)
                    except ValidationError as exc:
                        raise ValidationError(f"line {number}: {exc}") from exc
                    commands.append(SmartCommand(key, SmartCommandKind.TIME, rest, seconds=seconds))
                else:
                    commands.append(
                        SmartCommand(
                            key,
                            SmartCommandKind.TRANSITION,
                            text,
                            transition=name.replace("-", " "),
                        )
                    )
    return commands


def match_transition(wanted: str, available: Mapping[str, str]) -> str | None:
    """The id of the transition named ``wanted`` among ``available`` (name -> id).

    Case-insensitive; an exact name wins, else a unique name starting with ``wanted``
    (Jira accepts ``#start`` for "Start Progress" when nothing else starts that way).
    """
    folded = {name.casefold(): tid for name, tid in available.items()}
    target = wanted.casefold()
    if target in folded:
        return folded[target]
    prefixed = [tid for name, tid in folded.items() if name.startswith(target)]
    return prefixed[0] if len(prefixed) == 1 else None


@dataclass(frozen=True, slots=True)
class SmartStep:
    """One write the executor makes, once: ``external_id`` is its ledger key."""

    issue_key: str
    kind: SmartCommandKind
    external_id: str
    comment: str = ""
    seconds: int | None = None
    started: datetime | None = None
    transition_id: str | None = None
    transition_name: str | None = None


@dataclass(frozen=True, slots=True)
class SmartCommitPlan:
    """What a commit's Smart Commit commands will do, and what they cannot."""

    sha: str
    author_account_id: str | None
    steps: tuple[SmartStep, ...]
    errors: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    """External ids left out because the ledger already holds them."""


def plan_smart_commit(
    commit: CommitRef,
    commands: Sequence[SmartCommand],
    *,
    users_by_email: Mapping[str, Sequence[str]],
    transitions: Mapping[str, Mapping[str, str]],
    already_done: Collection[str] = (),
    allow_transitions: bool = True,
) -> SmartCommitPlan:
    """Plan one commit's commands.

    ``users_by_email`` maps the (lower-cased) commit email to the Jira account ids Jira found
    for it: exactly one is required. ``transitions`` maps issue key to that issue's available
    transitions (name -> id). ``allow_transitions=False`` (history replay) drops transitions
    without error. ``already_done`` is the ledger's external ids, so a redelivered push writes
    nothing twice.
    """
    email = (commit.author_email or "").strip().lower()
    accounts = list(dict.fromkeys(users_by_email.get(email, ()))) if email else []
    if not commands:
        return SmartCommitPlan(commit.sha, None, (), ())
    if not email:
        return SmartCommitPlan(commit.sha, None, (), ("the commit has no author email",))
    if len(accounts) != 1:
        why = "no Jira user" if not accounts else f"{len(accounts)} Jira users"
        return SmartCommitPlan(
            commit.sha,
            None,
            (),
            (f"the commit author {email} matches {why}; Smart Commits need exactly one",),
        )
    done = set(already_done)
    steps: list[SmartStep] = []
    errors: list[str] = []
    skipped: list[str] = []
    counters: dict[tuple[str, str], int] = {}
    for command in commands:
        slot = (command.issue_key, command.kind.value)
        counters[slot] = counters.get(slot, 0) + 1
        external_id = (
            f"smart:{commit.sha}:{command.issue_key}:{command.kind.value}:{counters[slot]}"
        )
        if command.kind is SmartCommandKind.TRANSITION:
            if not allow_transitions:
                continue
            wanted = command.transition or ""
            tid = match_transition(wanted, transitions.get(command.issue_key, {}))
            if tid is None:
                errors.append(f"{command.issue_key}: no transition '{wanted}' is available")
                continue
            step = SmartStep(
                command.issue_key,
                command.kind,
                external_id,
                comment=command.text,
                transition_id=tid,
                transition_name=wanted,
            )
        else:
            step = SmartStep(
                command.issue_key,
                command.kind,
                external_id,
                comment=command.text,
                seconds=command.seconds,
                started=commit.timestamp,
            )
        if external_id in done:
            skipped.append(external_id)
        else:
            steps.append(step)
    return SmartCommitPlan(commit.sha, accounts[0], tuple(steps), tuple(errors), tuple(skipped))
