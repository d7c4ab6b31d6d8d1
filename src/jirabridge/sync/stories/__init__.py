"""Stories and epics to Jira: parse a file, plan the export, apply it, roll it back.

The flow is sans-I/O at its centre: :func:`parse_stories` turns JSON, YAML or Markdown into
:class:`StoryFile`; :func:`plan_export` (pure) turns that, an :class:`ExportProfile` and what the
write ledger already knows into an :class:`ExportPlan`; :func:`apply_export` carries out exactly
that plan through bulk create and the ledger; :func:`plan_rollback`/:func:`apply_rollback` undo it.
"""

from jirabridge.sync.stories.execute import ExportResult, ItemResult, apply_export, prior_state
from jirabridge.sync.stories.items import Epic, ItemProblem, Story, StoryFile
from jirabridge.sync.stories.parse import parse_stories
from jirabridge.sync.stories.plan import (
    ExportPlan,
    ExportProfile,
    PlannedIssue,
    PriorWrite,
    plan_export,
)
from jirabridge.sync.stories.rollback import (
    RollbackPlan,
    RollbackStep,
    apply_rollback,
    plan_rollback,
    refresh_status,
)

__all__ = [
    "Epic",
    "ExportPlan",
    "ExportProfile",
    "ExportResult",
    "ItemProblem",
    "ItemResult",
    "PlannedIssue",
    "PriorWrite",
    "RollbackPlan",
    "RollbackStep",
    "Story",
    "StoryFile",
    "apply_export",
    "apply_rollback",
    "parse_stories",
    "plan_export",
    "plan_rollback",
    "prior_state",
    "refresh_status",
]
