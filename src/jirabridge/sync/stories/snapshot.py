"""An export plan as JSON, and its id: how "apply carries out exactly that plan" is kept.

The preview shows a plan and its :func:`plan_id` (a hash of everything the plan says: the
profile, every issue with its final fields and action, every problem). Export re-plans from
the same inputs and refuses when the id differs, then stores :func:`plan_to_json` with the
export; the durable workflow (and a resumed one after a crash) carries out that stored plan,
never a newer one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jirabridge.errors import ValidationError
from jirabridge.sync.stories.items import ItemProblem
from jirabridge.sync.stories.plan import ExportPlan, ExportProfile, PlannedIssue

__all__ = ["plan_from_json", "plan_id", "plan_to_json"]

_VERSION = 1


def plan_to_json(plan: ExportPlan) -> dict[str, Any]:
    """Everything needed to carry the plan out later, JSON-ready."""
    return {
        "version": _VERSION,
        "profile": plan.profile.model_dump(mode="json"),
        "issues": [
            {
                "item_id": i.item_id,
                "external_id": i.external_id,
                "level": i.level,
                "action": i.action,
                "fields": dict(i.fields),
                "fingerprint": i.fingerprint,
                "parent_item": i.parent_item,
                "key": i.key,
                "preview": i.preview,
            }
            for i in plan.issues
        ],
        "problems": [
            {"message": p.message, "item_id": p.item_id, "line": p.line} for p in plan.problems
        ],
    }


def plan_from_json(data: dict[str, Any]) -> ExportPlan:
    """The plan :func:`plan_to_json` stored."""
    if data.get("version") != _VERSION:
        raise ValidationError("the stored export plan has an unknown version")
    return ExportPlan(
        profile=ExportProfile.model_validate(data["profile"]),
        issues=[PlannedIssue(**raw) for raw in data["issues"]],
        problems=[ItemProblem(**raw) for raw in data["problems"]],
    )


def plan_id(plan: ExportPlan) -> str:
    """A stable hash of the plan: equal plans, equal ids; any difference, another id."""
    blob = json.dumps(plan_to_json(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
