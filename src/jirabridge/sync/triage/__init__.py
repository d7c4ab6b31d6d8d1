"""Bug triage: GitHub issues and Jira bugs normalised into one report, routed by YAML rules.

:mod:`.report` normalises, :mod:`.rules` loads and checks the rules file, :mod:`.engine` plans
(the plan is the dry-run), :mod:`.executor` carries a plan out and logs each action.
"""

from __future__ import annotations

from jirabridge.sync.triage.engine import RuleVerdict, TriageAction, TriagePlan, plan_triage
from jirabridge.sync.triage.executor import ActionLogEntry, apply_triage_plan, count_open_work
from jirabridge.sync.triage.intake import triage_event
from jirabridge.sync.triage.report import BugReport, bug_from_github_issue, bug_from_jira_issue
from jirabridge.sync.triage.rules import RuleSet, TriageRulesError, load_rules

__all__ = [
    "ActionLogEntry",
    "BugReport",
    "RuleSet",
    "RuleVerdict",
    "TriageAction",
    "TriagePlan",
    "TriageRulesError",
    "apply_triage_plan",
    "bug_from_github_issue",
    "bug_from_jira_issue",
    "count_open_work",
    "load_rules",
    "plan_triage",
    "triage_event",
]
