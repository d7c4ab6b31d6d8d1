"""Triage rules in YAML, checked on load: every mistake is reported with its line number.

::

    teams:
      backend:
        - {jira: 5b10ac8d82e05b22cc7d4ef5, github: octocat}
        - hubot                      # same id on both sides
    rules:
      - name: crashes go to backend
        match:                       # every key given must match (each is "any of")
          labels: [bug]
          keywords: [crash, panic]   # in title or body, case-insensitive
          paths: ["api/*"]           # fnmatch patterns over paths named in the body
          components: [API]          # the bug's components, or the guessed one
          severity: [critical]
          source: github             # or jira
        actions:
          assign: {team: backend}    # or {user: <Jira accountId or GitHub login>}
          add_labels: [triaged]
          priority: High
          comment: "Routed to backend by triage."
        stop: true                   # later rules are not tried after this one matches

The loader walks PyYAML's node tree (which keeps positions) rather than the plain data, so an
error can say *where* as well as *what*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jirabridge.errors import ValidationError

__all__ = [
    "Assignment",
    "Rule",
    "RuleActions",
    "RuleMatch",
    "RuleSet",
    "TeamMember",
    "TriageRulesError",
    "load_rules",
]


class TriageRulesError(ValidationError):
    """The rules file is not valid; ``problems`` holds ``(line, message)`` pairs (1-based)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        text = "; ".join(f"line {line}: {message}" for line, message in problems)
        super().__init__(f"invalid triage rules: {text}", details={"problems": problems})


@dataclass(frozen=True, slots=True)
class TeamMember:
    """One person on a team: their Jira account id and GitHub login."""

    jira: str
    github: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """Assign to one ``user``, or to the least busy member of ``team``."""

    user: str | None = None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """Conditions; an empty tuple means "any"."""

    labels: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class RuleActions:
    """What a matching rule does."""

    assign: Assignment | None = None
    add_labels: tuple[str, ...] = ()
    priority: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A named rule, with the line it starts on (for the dry-run and the action log)."""

    name: str
    line: int
    match: RuleMatch
    actions: RuleActions
    stop: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    """All rules, in file order, and the teams they may assign to."""

    rules: tuple[Rule, ...]
    teams: dict[str, tuple[TeamMember, ...]] = field(default_factory=dict)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Checker:
    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []

    def fail(self, node: Node, message: str) -> None:
        self.problems.append((_line(node), message))

    def mapping(self, node: Node, what: str, allowed: set[str]) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return None
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail(key_node, f"unknown key {key!r} in {what} (known: {known})")
            elif key in out:
                self.fail(key_node, f"{key!r} is given twice in {what}")
            else:
                out[key] = value
        return out

    def text(self, node: Node, what: str) -> str | None:
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            self.fail(node, f"{what} must be a non-empty string")
            return None
        return str(node.value)

    def texts(self, node: Node, what: str) -> tuple[str, ...]:
        if isinstance(node, ScalarNode):
            one = self.text(node, what)
            return (one,) if one else ()
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{what} must be a string or a list of strings")
            return ()
        return tuple(t for item in node.value if (t := self.text(item, f"each of {what}")))

    def flag(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.value not in ("true", "false"):
            self.fail(node, f"{what} must be true or false")
            return False
        return bool(node.value == "true")


def _member(check: _Checker, node: Node) -> TeamMember | None:
    if isinstance(node, ScalarNode):
        one = check.text(node, "a team member")
        return TeamMember(one, one) if one else None
    found = check.mapping(node, "a team member", {"jira", "github"})
    if found is None:
        return None
    if "jira" not in found or "github" not in found:
        check.fail(node, "a team member needs both 'jira' and 'github'")
        return None
    jira, github = check.text(found["jira"], "jira"), check.text(found["github"], "github")
    return TeamMember(jira, github) if jira and github else None


def _match(check: _Checker, node: Node) -> RuleMatch:
    keys = {"labels", "keywords", "paths", "components", "severity", "source"}
    found = check.mapping(node, "match", keys) or {}
    source = None
    if "source" in found:
        source = check.text(found["source"], "match.source")
        if source not in (None, "github", "jira"):
            check.fail(found["source"], "match.source must be 'github' or 'jira'")
    lists = {k: check.texts(found[k], f"match.{k}") for k in keys - {"source"} if k in found}
    return RuleMatch(
        labels=lists.get("labels", ()),
        keywords=tuple(k.lower() for k in lists.get("keywords", ())),
        paths=lists.get("paths", ()),
        components=lists.get("components", ()),
        severity=tuple(s.lower() for s in lists.get("severity", ())),
        source=source,
    )


def _actions(check: _Checker, node: Node, teams: dict[str, tuple[TeamMember, ...]]) -> RuleActions:
    found = check.mapping(node, "actions", {"assign", "add_labels", "priority", "comment"}) or {}
    if not found and isinstance(node, MappingNode):
        check.fail(node, "actions must do at least one thing")
    assign = None
    if "assign" in found:
        target = check.mapping(found["assign"], "assign", {"user", "team"})
        if target is not None and len(target) != 1:
            check.fail(found["assign"], "assign takes exactly one of 'user' or 'team'")
        elif target:
            if "team" in target:
                team = check.text(target["team"], "assign.team")
                if team and team not in teams:
                    check.fail(target["team"], f"team {team!r} is not defined under 'teams'")
                assign = Assignment(team=team)
            else:
                assign = Assignment(user=check.text(target["user"], "assign.user"))
    labels = check.texts(found["add_labels"], "add_labels") if "add_labels" in found else ()
    for label in labels:
        if any(ch.isspace() for ch in label):
            check.fail(found["add_labels"], f"label {label!r} contains a space (Jira refuses it)")
    return RuleActions(
        assign=assign,
        add_labels=labels,
        priority=check.text(found["priority"], "priority") if "priority" in found else None,
        comment=check.text(found["comment"], "comment") if "comment" in found else None,
    )


def load_rules(text: str) -> RuleSet:
    """Parse and check a rules file; raise :class:`TriageRulesError` listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise TriageRulesError([(line, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        # The reader's errors (control characters, bad encoding) carry no mark.
        raise TriageRulesError([(1, f"not valid YAML: {exc}")]) from None
    if root is None:
        raise TriageRulesError([(1, "the rules file is empty")])
    check = _Checker()
    top = check.mapping(root, "the rules file", {"rules", "teams"}) or {}
    teams: dict[str, tuple[TeamMember, ...]] = {}
    if "teams" in top:
        for name, members in (check.mapping(top["teams"], "teams", _AnyKey()) or {}).items():
            if not isinstance(members, SequenceNode) or not members.value:
                check.fail(members, f"team {name!r} must list at least one member")
                continue
            teams[name] = tuple(m for node in members.value if (m := _member(check, node)))
    rules: list[Rule] = []
    names: set[str] = set()
    rules_node = top.get("rules")
    if rules_node is None:
        check.fail(root, "the rules file needs a 'rules' list")
    elif not isinstance(rules_node, SequenceNode):
        check.fail(rules_node, "'rules' must be a list")
    else:
        for node in rules_node.value:
            found = check.mapping(node, "a rule", {"name", "match", "actions", "stop"})
            if found is None:
                continue
            for required in ("name", "actions"):
                if required not in found:
                    check.fail(node, f"a rule needs '{required}'")
            rule_name = check.text(found["name"], "name") if "name" in found else None
            if rule_name in names:
                check.fail(found["name"], f"rule name {rule_name!r} is used twice")
            if rule_name:
                names.add(rule_name)
            rules.append(
                Rule(
                    name=rule_name or "",
                    line=_line(node),
                    match=_match(check, found["match"]) if "match" in found else RuleMatch(),
                    actions=_actions(check, found["actions"], teams)
                    if "actions" in found
                    else RuleActions(),
                    stop=check.flag(found["stop"], "stop") if "stop" in found else False,
                )
            )
    if check.problems:
        raise TriageRulesError(sorted(check.problems))
    return RuleSet(rules=tuple(rules), teams=teams)


class _AnyKey(set[str]):
    """An allow-list that admits every key (team names are the user's own)."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str)
