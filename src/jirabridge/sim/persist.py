"""``--state FILE``: the site saved as JSON on shutdown and loaded at start."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jirabridge.sim.model import (
    Board,
    ChangeGroup,
    ChangeItem,
    Comment,
    Issue,
    IssueLink,
    Project,
    RemoteLink,
    Sprint,
    User,
    Worklog,
)

if TYPE_CHECKING:
    from jirabridge.sim.app import SimRuntime

__all__ = ["load", "save"]

_FORMAT = 1


def save(runtime: SimRuntime, path: Path) -> None:
    """Write the site atomically (temp file then rename)."""
    site = runtime.site
    data = {
        "format": _FORMAT,
        "flavor": site.flavor,
        "counters": site.counters(),
        "clockOffset": runtime.clock._offset,
        "users": [dataclasses.asdict(u) for u in site.users.values()],
        "projects": [dataclasses.asdict(p) for p in site.projects.values()],
        "issues": [dataclasses.asdict(i) for i in site.issues.values()],
        "links": [dataclasses.asdict(x) for x in site.links.values()],
        "boards": [dataclasses.asdict(b) for b in site.boards.values()],
        "sprints": [dataclasses.asdict(s) for s in site.sprints.values()],
        "deletedWorklogs": site.deleted_worklogs,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _issue(raw: dict[str, Any]) -> Issue:
    raw = dict(raw)
    raw["changelog"] = [
        ChangeGroup(**{**g, "items": [ChangeItem(**it) for it in g["items"]]})
        for g in raw["changelog"]
    ]
    raw["comments"] = [Comment(**c) for c in raw["comments"]]
    raw["worklogs"] = [Worklog(**w) for w in raw["worklogs"]]
    raw["remote_links"] = [RemoteLink(**r) for r in raw["remote_links"]]
    return Issue(**raw)


def load(runtime: SimRuntime, path: Path) -> None:
    """Replace the site's records with the saved ones; a file of another flavour is refused."""
    data = json.loads(path.read_text())
    site = runtime.site
    if data.get("format") != _FORMAT or data.get("flavor") != site.flavor:
        raise ValueError(f"{path} holds a {data.get('flavor')} site in format {data.get('format')}")
    site.clear()
    for u in data["users"]:
        site.add_user(User(**u))
    site.projects = {p["id"]: Project(**p) for p in data["projects"]}
    site.issues = {i["id"]: _issue(i) for i in data["issues"]}
    site.links = {x["id"]: IssueLink(**x) for x in data["links"]}
    site.boards = {b["id"]: Board(**b) for b in data["boards"]}
    site.sprints = {s["id"]: Sprint(**s) for s in data["sprints"]}
    site.deleted_worklogs = [(int(a), int(b)) for a, b in data["deletedWorklogs"]]
    site.restore_counters(data["counters"])
    runtime.clock.advance(max(0.0, float(data.get("clockOffset", 0.0)) - runtime.clock._offset))
    site.rebuild_derived()
