"""Rolling an export back: a pure planner over what we wrote and what Jira holds now, and an
executor that deletes, transitions or labels exactly the issues that plan names.

An issue edited in Jira since the export (its summary or labels no longer what we wrote) or
no longer carrying our stamp is refused unless ``force``: rollback must not destroy other
people's work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from jirabridge.errors import ApiError, ApiNotFoundError, ValidationError
from jirabridge.jira import EXTERNAL_ID_PROPERTY, Issue, JiraClient
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import WriteOperation
from jirabridge.sync.stories.execute import LEDGER_KIND, ExportResult
from jirabridge.sync.stories.plan import ExportPlan

__all__ = [
    "RollbackMode",
    "RollbackPlan",
    "RollbackStep",
    "apply_rollback",
    "fetch_current",
    "plan_rollback",
    "refresh_status",
]

RollbackMode = Literal["delete", "transition", "label"]
StepAction = Literal["delete", "transition", "label", "skip", "refuse"]

#: The label put on issues by a ``label`` rollback.
ROLLED_BACK_LABEL = "jirabridge-rolled-back"


@dataclass(frozen=True)
class RollbackStep:
    """What rollback does to one issue, and why when it does nothing."""

    item_id: str
    external_id: str
    key: str
    action: StepAction
    reason: str = ""


@dataclass
class RollbackPlan:
    """Every step, stories before epics (an epic goes after its children)."""

    mode: RollbackMode
    steps: list[RollbackStep] = field(default_factory=list)
    #: For ``transition``: the status name to move issues to.
    to_status: str | None = None

    def counts(self) -> dict[str, int]:
        """How many steps per action."""
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.action] = out.get(step.action, 0) + 1
        return out


def _as_written(fields: Mapping[str, object]) -> tuple[object, list[str]]:
    labels = fields.get("labels")
    return fields.get("summary"), sorted(labels) if isinstance(labels, list) else []


def _stamp(issue: Issue) -> str | None:
    value = (issue.properties or {}).get(EXTERNAL_ID_PROPERTY)
    if isinstance(value, Mapping):
        found = value.get("externalId")
        return str(found) if found is not None else None
    return None


def plan_rollback(
    plan: ExportPlan,
    result: ExportResult,
    current: Mapping[str, Issue | None],
    *,
    mode: RollbackMode = "delete",
    force: bool = False,
    to_status: str | None = None,
) -> RollbackPlan:
    """Plan undoing the issues ``result`` *created* (updates are not undone).

    ``current`` maps issue keys to the issue as Jira holds it now (``None``: already gone),
    read with :func:`fetch_current`.
    """
    if mode == "transition" and not to_status:
        raise ValidationError("a transition rollback needs the status to move issues to")
    planned = {i.item_id: i for i in plan.issues}
    steps: list[RollbackStep] = []
    created = [r for r in result.results if r.status == "created" and r.key]
    # Stories first: an epic is removed after what hangs from it.
    created.sort(key=lambda r: 0 if r.level == "story" else 1)
    for item in created:
        assert item.key is not None
        issue_plan = planned.get(item.item_id)
        if issue_plan is None:
            continue
        now = current.get(item.key)
        base = {"item_id": item.item_id, "external_id": issue_plan.external_id, "key": item.key}
        if now is None:
            steps.append(RollbackStep(**base, action="skip", reason="already gone from Jira"))
            continue
        if _stamp(now) != issue_plan.external_id:
            steps.append(
                RollbackStep(**base, action="refuse", reason="the issue does not carry our stamp")
            )
            continue
        summary, labels = _as_written(issue_plan.fields)
        edited = now.summary != summary or sorted(now.fields.get("labels") or []) != labels
        if edited and not force:
            steps.append(
                RollbackStep(
                    **base, action="refuse", reason="edited in Jira since the export (use force)"
                )
            )
            continue
        steps.append(RollbackStep(**base, action=mode, reason="edited; forced" if edited else ""))
    return RollbackPlan(mode=mode, steps=steps, to_status=to_status)


async def fetch_current(jira: JiraClient, keys: Sequence[str]) -> dict[str, Issue | None]:
    """Read each issue consistently (never through lagging search), with our stamp."""
    out: dict[str, Issue | None] = {}
    for key in keys:
        try:
            out[key] = await jira.get_issue(
                key, fields=["summary", "labels", "status"], properties=[EXTERNAL_ID_PROPERTY]
            )
        except ApiNotFoundError:
            out[key] = None
    return out


async def apply_rollback(
    rollback: RollbackPlan, *, jira: JiraClient, ledger: WriteLedger, site: str
) -> dict[str, str]:
    """Carry out ``rollback``; returns item id -> what happened (``done`` or the error)."""
    outcome: dict[str, str] = {}
    for step in rollback.steps:
        if step.action in ("skip", "refuse"):
            outcome[step.item_id] = step.action
            continue
        key = LedgerKey(site, LEDGER_KIND, step.external_id)
        operation = WriteOperation.DELETE if step.action == "delete" else WriteOperation.UPDATE
        await ledger.replan(key, fingerprint=f"rollback-{step.action}", operation=operation)
        await ledger.mark_sent(key)
        try:
            if step.action == "delete":
                # Gone already is what we wanted.
                with contextlib.suppress(ApiNotFoundError):
                    await jira.delete_issue(step.key)
            elif step.action == "label":
                await jira.add_labels(step.key, ROLLED_BACK_LABEL)
            else:
                await _transition(jira, step.key, rollback.to_status or "")
        except ApiError as exc:
            await ledger.mark_failed(key, exc.message)
            outcome[step.item_id] = f"failed: {exc.message}"
            continue
        await ledger.confirm(key, step.key)
        outcome[step.item_id] = "done"
    return outcome


async def _transition(jira: JiraClient, key: str, status: str) -> None:
    for transition in await jira.transitions(key):
        target = transition.to.name if transition.to is not None else transition.name
        if target.lower() == status.lower() or transition.name.lower() == status.lower():
            await jira.transition_issue(key, transition.id)
            return
    raise ValidationError(f"{key} has no transition to {status!r}")


async def refresh_status(jira: JiraClient, keys: Sequence[str]) -> dict[str, str | None]:
    """The current Jira status name of each exported issue (``None``: gone from Jira).

    The manual refresh behind the "status" column until webhooks/polling keep it current.
    """
    current = await fetch_current(jira, keys)
    out: dict[str, str | None] = {}
    for key, issue in current.items():
        status = issue.status if issue is not None else None
        out[key] = status.name if status is not None else None
    return out
