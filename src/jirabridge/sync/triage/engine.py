"""Apply triage rules to one bug report: a pure plan of actions, also used as the dry-run.

Rules are tried in file order. Every matching rule contributes its actions, except that the
first assignment and the first priority win (later ones are recorded as overridden), and a
rule with ``stop: true`` ends the walk. A team assignment picks the member with the least open
work (GitHub and Jira counted together), ties broken by the team's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from jirabridge.sync.triage.report import BugReport
from jirabridge.sync.triage.rules import Rule, RuleSet

__all__ = ["RuleVerdict", "TriageAction", "TriagePlan", "plan_triage", "rule_matches"]


@dataclass(frozen=True, slots=True)
class TriageAction:
    """One thing to do to the bug: ``assign``, ``add_labels``, ``set_priority`` or ``comment``."""

    rule: str
    kind: str
    value: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """Whether a rule matched, and why (or why not)."""

    rule: str
    line: int
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True)
class TriagePlan:
    """What the rules would do to one bug."""

    bug: BugReport
    verdicts: tuple[RuleVerdict, ...]
    actions: tuple[TriageAction, ...]

    def describe(self) -> str:
        """The dry-run text: each rule's verdict, then each action."""
        lines = [f"{self.bug.source} {self.bug.ref}: {self.bug.title}"]
        for v in self.verdicts:
            mark = "matches" if v.matched else "skipped"
            lines.append(f"  rule {v.rule!r} (line {v.line}) {mark}: {v.reason}")
        for a in self.actions:
            extra = f" ({a.note})" if a.note else ""
            lines.append(f"  -> {a.kind} {a.value}{extra} [rule {a.rule!r}]")
        if not self.actions:
            lines.append("  -> nothing to do")
        return "\n".join(lines)


def rule_matches(rule: Rule, bug: BugReport) -> tuple[bool, str]:
    """Whether ``rule`` matches ``bug``, with the reason in words."""
    m = rule.match
    reasons: list[str] = []
    if m.source is not None:
        if bug.source != m.source:
            return False, f"source is {bug.source}, not {m.source}"
        reasons.append(f"source {m.source}")
    if m.labels:
        hit = [label for label in m.labels if label in bug.labels]
        if not hit:
            return False, f"none of the labels {list(m.labels)}"
        reasons.append(f"label {hit[0]}")
    if m.keywords:
        text = f"{bug.title}\n{bug.body}".lower()
        words = [k for k in m.keywords if k in text]
        if not words:
            return False, f"none of the keywords {list(m.keywords)}"
        reasons.append(f"keyword {words[0]!r}")
    if m.paths:
        paths = [p for p in bug.paths if any(fnmatchcase(p, pat) for pat in m.paths)]
        if not paths:
            return False, f"no path matches {list(m.paths)}"
        reasons.append(f"path {paths[0]}")
    if m.components:
        have = {*bug.components, *([bug.component_guess] if bug.component_guess else [])}
        hit = [c for c in m.components if c in have]
        if not hit:
            return False, f"component is none of {list(m.components)}"
        reasons.append(f"component {hit[0]}")
    if m.severity:
        if bug.severity not in m.severity:
            return False, f"severity {bug.severity} is not in {list(m.severity)}"
        reasons.append(f"severity {bug.severity}")
    return True, ", ".join(reasons) or "matches every bug"


def _least_busy(
    ruleset: RuleSet, team: str, bug: BugReport, workload: Mapping[str, int]
) -> tuple[str, str]:
    members = ruleset.teams[team]
    # min() keeps the first of equals, so ties go to the earlier member in the file.
    chosen = min(members, key=lambda member: workload.get(member.jira, 0))
    target = chosen.github if bug.source == "github" else chosen.jira
    return target, f"team {team}, least open work: {workload.get(chosen.jira, 0)}"


def plan_triage(bug: BugReport, ruleset: RuleSet, workload: Mapping[str, int]) -> TriagePlan:
    """Plan the actions for ``bug``. ``workload`` maps Jira account id to open items."""
    verdicts: list[RuleVerdict] = []
    actions: list[TriageAction] = []
    assigned = prioritised = False
    labels: set[str] = set(bug.labels)
    for rule in ruleset.rules:
        matched, reason = rule_matches(rule, bug)
        verdicts.append(RuleVerdict(rule.name, rule.line, matched, reason))
        if not matched:
            continue
        a = rule.actions
        if a.assign is not None:
            if assigned:
                actions.append(TriageAction(rule.name, "skip", "assign", "an earlier rule assigns"))
            elif a.assign.team is not None:
                target, note = _least_busy(ruleset, a.assign.team, bug, workload)
                actions.append(TriageAction(rule.name, "assign", target, note))
                assigned = True
            elif a.assign.user is not None:
                actions.append(TriageAction(rule.name, "assign", a.assign.user))
                assigned = True
        new = [label for label in a.add_labels if label not in labels]
        labels.update(new)
        if new:
            actions.append(TriageAction(rule.name, "add_labels", ",".join(new)))
        if a.priority is not None:
            if prioritised:
                actions.append(
                    TriageAction(rule.name, "skip", "set_priority", "an earlier rule sets it")
                )
            else:
                actions.append(TriageAction(rule.name, "set_priority", a.priority))
                prioritised = True
        if a.comment is not None:
            actions.append(TriageAction(rule.name, "comment", a.comment))
        if rule.stop:
            break
    return TriagePlan(bug, tuple(verdicts), tuple(actions))
