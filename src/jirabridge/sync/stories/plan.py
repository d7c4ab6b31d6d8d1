"""The export planner: a pure function from a stories file, a profile and the ledger's memory
to the list of issues to create or update, with their final fields, and every problem.

No network, no database: :func:`plan_export` is what the dry-run prints and exactly what
:func:`~jirabridge.sync.stories.execute.apply_export` carries out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jirabridge.jira.adf import (
    acceptance_criteria_adf,
    acceptance_criteria_wiki,
    adf_to_text,
    markdown_to_adf,
)
from jirabridge.sync.stories.items import Epic, ItemProblem, Story, StoryFile

__all__ = [
    "Action",
    "ExportPlan",
    "ExportProfile",
    "Level",
    "PlannedIssue",
    "PriorWrite",
    "external_id_for",
    "plan_export",
]

Level = Literal["epic", "story"]
Action = Literal["create", "update", "unchanged"]


class ExportProfile(BaseModel):
    """A reusable mapping from items to Jira fields on one site and project.

    ``namespace`` scopes our item ids (e.g. the owner and profile name): the stamped external id
    is ``namespace/item_id``, so two teams' ``S1`` never meet. On Data Center stories link to
    their epic through ``epic_link_field`` and epics need ``epic_name_field``; on Cloud the
    ``parent`` field does it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:-]+$")
    project: str = Field(min_length=1)
    flavor: Literal["cloud", "datacenter"] = "cloud"
    epic_type: str = "Epic"
    story_type: str = "Story"
    story_points_field: str | None = "customfield_10016"
    epic_link_field: str = "customfield_10014"
    epic_name_field: str | None = "customfield_10011"
    criteria_style: Literal["tasks", "bullets"] = "tasks"
    #: Our priority name -> the site's priority name; unmapped names pass through.
    priority_map: dict[str, str] = {}
    #: Values for fields the site requires that items do not carry, by field id.
    extra_fields: dict[str, Any] = {}
    #: A label added to every exported issue (handy for finding and rolling back).
    label: str | None = "jirabridge-export"


@dataclass(frozen=True)
class PriorWrite:
    """What the ledger remembers of an item: the Jira issue and the fingerprint last written."""

    item_id: str
    key: str | None
    fingerprint: str
    state: str
    operation: str


@dataclass(frozen=True)
class PlannedIssue:
    """One issue to create or update, with the fields it will have in Jira."""

    item_id: str
    external_id: str
    level: Level
    action: Action
    fields: Mapping[str, Any]
    fingerprint: str
    #: The epic's item id (stories); resolved to an issue key at apply time.
    parent_item: str | None = None
    #: The existing issue (updates and unchanged items).
    key: str | None = None
    #: The description as it will read in Jira (plain text).
    preview: str = ""


@dataclass
class ExportPlan:
    """Every issue to write, epics first, and every problem found; nothing is written."""

    profile: ExportProfile
    issues: list[PlannedIssue] = field(default_factory=list)
    problems: list[ItemProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plan can be applied (no problems)."""
        return not self.problems

    def counts(self) -> dict[str, int]:
        """How many issues per action."""
        out = {"create": 0, "update": 0, "unchanged": 0}
        for issue in self.issues:
            out[issue.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the dry-run's output)."""
        return {
            "project": self.profile.project,
            "counts": self.counts(),
            "issues": [
                {
                    "item": i.item_id,
                    "level": i.level,
                    "action": i.action,
                    "key": i.key,
                    "parent": i.parent_item,
                    "summary": i.fields.get("summary"),
                    "fields": dict(i.fields),
                    "description": i.preview,
                }
                for i in self.issues
            ],
            "problems": [
                {"item": p.item_id, "line": p.line, "message": p.message} for p in self.problems
            ],
        }


def external_id_for(profile: ExportProfile, item_id: str) -> str:
    """The id stamped on the issue and keyed in the ledger for ``item_id``."""
    return f"{profile.namespace}/{item_id}"


def _fingerprint(fields: Mapping[str, Any], parent_item: str | None) -> str:
    blob = json.dumps({"f": fields, "p": parent_item}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _story_prose(story: Story) -> str:
    parts = [p for p in (story.story.strip(), story.description.strip()) if p]
    return "\n\n".join(parts)


def _description(prose: str, criteria: Sequence[str], profile: ExportProfile) -> tuple[Any, str]:
    """The description field value and how it reads."""
    if profile.flavor == "datacenter":
        text = prose
        if criteria:
            wiki = acceptance_criteria_wiki(list(criteria))
            text = f"{text}\n\n{wiki}" if text else wiki
        return text, text
    doc: dict[str, Any] = (
        markdown_to_adf(prose) if prose else {"type": "doc", "version": 1, "content": []}
    )
    if criteria:
        extra = acceptance_criteria_adf(list(criteria), style=profile.criteria_style)
        extra_content: list[Any] = extra.get("content") or []
        content: list[Any] = [*(doc.get("content") or []), *extra_content]
        doc = {**doc, "content": content}
    return doc, adf_to_text(doc)


def _common(item: Epic | Story, issue_type: str, profile: ExportProfile) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": {"key": profile.project},
        "issuetype": {"name": issue_type},
        "summary": item.title,
    }
    labels = list(item.labels)
    if profile.label and profile.label not in labels:
        labels.append(profile.label)
    if labels:
        fields["labels"] = labels
    if item.priority:
        fields["priority"] = {"name": profile.priority_map.get(item.priority, item.priority)}
    if item.components:
        fields["components"] = [{"name": c} for c in item.components]
    for field_id, value in profile.extra_fields.items():
        fields.setdefault(field_id, value)
    return fields


def _decide(
    external_id: str, fingerprint: str, prior: PriorWrite | None
) -> tuple[Action, str | None]:
    if prior is None or prior.key is None:
        return "create", None
    if prior.operation == "delete" and prior.state == "confirmed":
        # Rolled back earlier: the old issue is gone, so this is a fresh create.
        return "create", None
    if prior.state == "confirmed" and prior.fingerprint == fingerprint:
        return "unchanged", prior.key
    return "update", prior.key


def plan_export(
    stories: StoryFile,
    profile: ExportProfile,
    prior: Mapping[str, PriorWrite] | None = None,
    *,
    required_fields: Mapping[str, Sequence[str]] | None = None,
) -> ExportPlan:
    """Plan the export of ``stories`` with ``profile``.

    ``prior`` is what the ledger knows, by item id (see
    :func:`~jirabridge.sync.stories.execute.prior_state`). ``required_fields`` lists, per issue
    type name, the field ids the site's createmeta marks required: any the plan cannot fill is
    reported as a problem for every item of that type, so the caller can ask for them.
    """
    prior = prior or {}
    plan = ExportPlan(profile=profile, problems=list(stories.problems))
    required = required_fields or {}
    for epic in stories.epics:
        fields = _common(epic, profile.epic_type, profile)
        value, preview = _description(epic.description.strip(), (), profile)
        if epic.description.strip():
            fields["description"] = value
        if profile.flavor == "datacenter" and profile.epic_name_field:
            fields[profile.epic_name_field] = epic.title
        _add(plan, epic.id, "epic", fields, None, preview, prior, required, stories)
    for story in stories.stories:
        fields = _common(story, profile.story_type, profile)
        value, preview = _description(_story_prose(story), story.acceptance_criteria, profile)
        if preview:
            fields["description"] = value
        if story.points is not None:
            if profile.story_points_field:
                fields[profile.story_points_field] = story.points
            else:
                plan.problems.append(
                    ItemProblem(
                        "has story points but the profile maps no story points field",
                        story.id,
                        stories.lines.get(story.id),
                    )
                )
        _add(plan, story.id, "story", fields, story.epic, preview, prior, required, stories)
    return plan


def _add(
    plan: ExportPlan,
    item_id: str,
    level: Level,
    fields: dict[str, Any],
    parent_item: str | None,
    preview: str,
    prior: Mapping[str, PriorWrite],
    required: Mapping[str, Sequence[str]],
    stories: StoryFile,
) -> None:
    profile = plan.profile
    type_name = profile.epic_type if level == "epic" else profile.story_type
    link_fields = {"parent", profile.epic_link_field}
    for field_id in required.get(type_name, ()):
        if field_id not in fields and field_id not in link_fields:
            plan.problems.append(
                ItemProblem(
                    f"the site requires field {field_id!r} for {type_name}: "
                    "give it a value in the profile's extra_fields",
                    item_id,
                    stories.lines.get(item_id),
                )
            )
    external_id = external_id_for(profile, item_id)
    fingerprint = _fingerprint(fields, parent_item)
    action, key = _decide(external_id, fingerprint, prior.get(item_id))
    plan.issues.append(
        PlannedIssue(
            item_id=item_id,
            external_id=external_id,
            level=level,
            action=action,
            fields=fields,
            fingerprint=fingerprint,
            parent_item=parent_item,
            key=key,
            preview=preview,
        )
    )
