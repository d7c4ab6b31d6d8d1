"""Deterministic sample data: users, projects, issues, a board with sprint history per project.

Same seed and same clock -> the same site, byte for byte. History (sprint scope changes, points
changes, completions) is written with timestamps in the past, as if the site had been in use.
"""

from __future__ import annotations

from dataclasses import dataclass

from jirabridge.sim import issues as ops
from jirabridge.sim.agile import create_sprint, move_to_sprint, set_sprint_state
from jirabridge.sim.model import Board, Issue, Project, User
from jirabridge.sim.state import SimSite

__all__ = ["SeedSpec", "make_user", "seed_site"]

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_FIRST = (
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Alan",
    "Edsger",
)
_LAST = (
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Turing",
    "Dijkstra",
)
_PROJECTS = (
    ("DEMO", "Demo"),
    ("PLAT", "Platform"),
    ("WEB", "Web"),
    ("OPS", "Operations"),
    ("DATA", "Data"),
)
_VERBS = ("Add", "Fix", "Refactor", "Document", "Speed up", "Test", "Remove", "Migrate")
_THINGS = (
    "login page",
    "export job",
    "search API",
    "billing report",
    "webhook intake",
    "sprint chart",
    "worklog sync",
    "user settings",
)
_LABELS = ("backend", "frontend", "urgent", "tech-debt", "customer")
_COMPONENTS = ("web", "api", "mobile")


@dataclass(frozen=True)
class SeedSpec:
    """How much to create."""

    projects: int = 2
    issues_per_project: int = 30
    users: int = 6
    closed_sprints: int = 3


def make_user(
    site: SimSite,
    index: int,
    *,
    email: str | None = None,
    token: str | None = None,
    admin: bool = False,
) -> User:
    """A user whose ids and secrets come from the site's seeded random source."""
    rng = site.rng
    first, last = _FIRST[index % len(_FIRST)], _LAST[(index * 3) % len(_LAST)]
    suffix = "" if index < len(_FIRST) else str(index)
    name = f"{first.lower()}{suffix}"
    user = User(
        account_id=f"{rng.getrandbits(96):024x}",
        name="admin" if admin else name,
        key=f"JIRAUSER{10000 + index}",
        email=email or ("admin@example.com" if admin else f"{name}@example.com"),
        display_name=f"{first} {last}{suffix}",
        api_token=token or f"ATATT{rng.getrandbits(128):032x}",
        password=token or f"pw-{rng.getrandbits(64):016x}",
        pats=[f"pat-{rng.getrandbits(128):032x}"],
        admin=admin,
    )
    return site.add_user(user)


def seed_site(
    site: SimSite, spec: SeedSpec, *, admin_email: str | None = None, admin_token: str | None = None
) -> None:
    """Fill an empty site: users, projects with issues, boards and sprints with history."""
    site.muted = True
    try:
        admin = make_user(site, 0, email=admin_email, token=admin_token, admin=True)
        users = [admin] + [make_user(site, i) for i in range(1, spec.users)]
        for n in range(spec.projects):
            add_project(site, n, users, spec)
    finally:
        site.muted = False


def add_project(site: SimSite, index: int, users: list[User], spec: SeedSpec) -> Project:
    """One project with issues and a scrum board whose past sprints have a history."""
    rng = site.rng
    key, name = _PROJECTS[index] if index < len(_PROJECTS) else (f"P{index}", f"Project {index}")
    lead = site.user_id(users[0])
    project = Project(id=site.next_id("project"), key=key, name=name, lead=lead)
    site.projects[project.id] = project
    for component in _COMPONENTS:
        project.components[str(site.next_id("component", 10000))] = component
    board = Board(id=site.next_id("board", 1), name=f"{key} board", project_id=project.id)
    site.boards[board.id] = board

    now = site.now_ms()
    sprint_len = 14 * _DAY_MS
    first_start = now - (spec.closed_sprints * sprint_len) - 5 * _DAY_MS
    start_created = first_start - 10 * _DAY_MS
    uid = [site.user_id(u) for u in users]

    def make(type_name: str, summary: str, when: int, **fields: object) -> Issue:
        body = {
            "fields": {
                "project": {"key": key},
                "issuetype": {"name": type_name},
                "summary": summary,
                **fields,
            }
        }
        return ops.create_issue(site, body, "2", rng.choice(uid), created_ms=when, emit=False)

    epics = []
    for e in range(2):
        fields: dict[str, object] = {"customfield_10011": f"{name} epic {e + 1}"}
        epics.append(make("Epic", f"{name} epic {e + 1}", start_created + e * _HOUR_MS, **fields))
    stories: list[Issue] = []
    for i in range(spec.issues_per_project - len(epics)):
        kind = rng.choice(("Story", "Story", "Task", "Bug"))
        summary = f"{rng.choice(_VERBS)} {rng.choice(_THINGS)} #{i + 1}"
        issue = make(
            kind,
            summary,
            start_created + (i + 2) * _HOUR_MS,
            description=f"Seeded {kind.lower()} for {name}.",
            labels=sorted(rng.sample(_LABELS, rng.randint(0, 2))),
            assignee={"name": users[rng.randrange(len(users))].name}
            if not site.is_cloud
            else {"accountId": rng.choice(uid)},
            customfield_10016=rng.choice((1, 2, 3, 5, 8)),
        )
        epic = epics[i % len(epics)]
        issue.parent_id = epic.id
        stories.append(issue)

    backlog = list(stories)
    carry: list[Issue] = []
    for s in range(spec.closed_sprints + 1):
        start = first_start + s * sprint_len
        sprint = create_sprint(
            site,
            f"{key} Sprint {s + 1}",
            board.id,
            goal=f"Sprint goal {s + 1}",
            start_ms=start,
            end_ms=start + sprint_len,
            created_ms=start - _DAY_MS,
        )
        take = min(len(backlog), 6)
        committed = carry + backlog[:take]
        backlog = backlog[take:]
        move_to_sprint(site, sprint, committed, lead, at_ms=start - _HOUR_MS)
        set_sprint_state(site, sprint, "active", at_ms=start)
        if s == spec.closed_sprints:
            # The active sprint: some work under way, nothing closed.
            for issue in committed[:2]:
                ops.set_status(site, issue, "10001", issue.assignee or lead, at_ms=start + _DAY_MS)
            break
        # Scope change mid-sprint: one issue added, one removed.
        added = backlog[:1]
        backlog = backlog[1:]
        if added:
            move_to_sprint(site, sprint, added, lead, at_ms=start + 3 * _DAY_MS)
        removed = committed[-1:]
        if removed and len(committed) > 2:
            move_to_sprint(site, None, removed, lead, at_ms=start + 5 * _DAY_MS)
            backlog.extend(removed)
        in_sprint = [i for i in committed + added if sprint.id in i.sprint_ids]
        # Re-estimate one issue during the sprint.
        if in_sprint:
            target = in_sprint[0]
            points = (target.story_points or 0) + 2
            ops.edit_issue(
                site,
                target,
                {"fields": {"customfield_10016": points}},
                "2",
                lead,
                at_ms=start + 2 * _DAY_MS,
            )
        done = in_sprint[: max(1, len(in_sprint) * 2 // 3)]
        for n, issue in enumerate(done):
            actor = issue.assignee or lead
            ops.set_status(site, issue, "10001", actor, at_ms=start + (n + 1) * _DAY_MS)
            ops.set_status(site, issue, "10002", actor, at_ms=start + (n + 4) * _DAY_MS)
        set_sprint_state(site, sprint, "closed", at_ms=start + sprint_len)
        carry = [i for i in in_sprint if i not in done]
    return project
