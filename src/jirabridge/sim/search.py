"""JQL evaluation over the simulated site: a parsed query -> matching issues, in order."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.formats import text_from_adf
from jirabridge.sim.jql import (
    And,
    Clause,
    Func,
    JqlError,
    JqlQuery,
    Node,
    Not,
    Or,
    date_function,
    parse,
    parse_date_value,
)
from jirabridge.sim.model import Issue
from jirabridge.sim.state import SimSite

__all__ = ["Searcher", "run_jql"]

_WORDS = re.compile(r"[\w*]+", re.UNICODE)
_DATE_FIELDS = {
    "created": "created_ms",
    "createddate": "created_ms",
    "updated": "updated_ms",
    "updateddate": "updated_ms",
    "resolved": "resolution_ms",
    "resolutiondate": "resolution_ms",
}
_TEXT_FIELDS = {"text", "summary", "description", "comment"}
_ALIASES = {
    "issuekey": "key",
    "id": "key",
    "type": "issuetype",
    "cf[10014]": "epic link",
    "cf[10016]": "story point estimate",
    "story points": "story point estimate",
    "cf[10020]": "sprint",
    "statuscategory": "statuscategory",
    "components": "component",
}


def _issue_number(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number) if number.isdigit() else 0)


class Searcher:
    """Compiles a parsed query against one site for one user at one instant."""

    def __init__(self, site: SimSite, current_user: str | None) -> None:
        self.site = site
        self.current_user = current_user
        self.now_ms = site.now_ms()

    # ------------------------------------------------------------------ values

    def _user_values(self, uid: str | None) -> list[str]:
        user = self.site.get_user(uid)
        if user is None:
            return []
        return [user.account_id, user.name, user.key, user.email]

    def field_values(self, issue: Issue, name: str) -> list[Any]:
        """The values a clause on ``name`` compares with (empty list = EMPTY)."""
        site = self.site
        match name:
            case "project":
                project = site.projects[issue.project_id]
                return [project.key, str(project.id), project.name]
            case "key":
                return [issue.key, str(issue.id)]
            case "issuetype":
                t = site.issue_type(issue.issuetype_id)
                return [t.name, t.id]
            case "status":
                s = site.status(issue.status_id)
                return [s.name, s.id]
            case "statuscategory":
                s = site.status(issue.status_id)
                names = {
                    "new": ("To Do", "2"),
                    "indeterminate": ("In Progress", "4"),
                    "done": ("Done", "3"),
                }
                return [s.category_key, *names[s.category_key]]
            case "assignee":
                return self._user_values(issue.assignee)
            case "reporter":
                return self._user_values(issue.reporter)
            case "creator":
                return self._user_values(issue.creator)
            case "labels":
                return list(issue.labels)
            case "component":
                parts = site.projects[issue.project_id].components
                return [v for c in issue.component_ids if c in parts for v in (parts[c], c)]
            case "parent":
                parent = site.issues.get(issue.parent_id) if issue.parent_id else None
                return [parent.key, str(parent.id)] if parent else []
            case "epic link":
                epic = site.epic_of(issue)
                return [epic.key, str(epic.id)] if epic else []
            case "sprint":
                out: list[Any] = []
                for sid in issue.sprint_ids:
                    sprint = site.sprints.get(sid)
                    if sprint is not None:
                        out.extend([str(sprint.id), sprint.name])
                return out
            case "priority":
                return [site.priority_name(issue.priority_id), issue.priority_id]
            case "resolution":
                return ["Done", "10000"] if issue.resolution_ms else []
            case "story point estimate":
                return [issue.story_points] if issue.story_points is not None else []
            case "duedate" | "due":
                return [issue.duedate] if issue.duedate else []
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

    def _text(self, issue: Issue, name: str) -> str:
        parts = []
        if name in ("summary", "text"):
            parts.append(issue.summary)
        if name in ("description", "text"):
            parts.append(text_from_adf(issue.description))
        if name in ("comment", "text"):
            parts.extend(text_from_adf(c.body) for c in issue.comments)
        return " ".join(parts).lower()

    # ------------------------------------------------------------------ compile

    def compile(self, node: Node) -> Callable[[Issue], bool]:
        """A predicate for the condition."""
        if isinstance(node, And):
            preds = [self.compile(x) for x in node.items]
            return lambda i: all(p(i) for p in preds)
        if isinstance(node, Or):
            preds = [self.compile(x) for x in node.items]
            return lambda i: any(p(i) for p in preds)
        if isinstance(node, Not):
            pred = self.compile(node.expr)
            return lambda i: not pred(i)
        return self._clause(node)

    def _resolve(self, value: str | Func | None, field: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, Func):
            name = value.name.lower()
            if name == "currentuser":
                return self._user_values(self.current_user)[:1] or ["\0nobody"]
            if name in ("opensprints", "closedsprints", "futuresprints"):
                states = {
                    "opensprints": ("active", "future"),
                    "closedsprints": ("closed",),
                    "futuresprints": ("future",),
                }[name]
                return [str(s.id) for s in self.site.sprints.values() if s.state in states]
            raise JqlError(f"Unable to find JQL function '{value.name}()'.")
        return [value]

    def _clause(self, clause: Clause) -> Callable[[Issue], bool]:
        field = clause.field.lower()
        field = _ALIASES.get(field, field)
        op = clause.op
        if field in _DATE_FIELDS:
            return self._date_clause(clause, _DATE_FIELDS[field])
        if field in _TEXT_FIELDS:
            if op not in ("~", "!~"):
                if field in ("summary", "description") and op in ("is", "is not"):
                    want_empty = op == "is"

                    def is_empty(issue: Issue) -> bool:
                        if field == "summary":
                            return not issue.summary
                        return issue.description is None

                    return lambda i: is_empty(i) == want_empty
                raise JqlError(
                    f"The operator '{op}' is not supported by the '{clause.field}' field."
                )
            raw = clause.values[0]
            if not isinstance(raw, str):
                raise JqlError(f"The field '{clause.field}' needs a text value.")
            term = raw.lower()
            phrase = term.startswith('"') or (" " in term and raw.startswith('"'))
            words = _WORDS.findall(term)

            def text_match(issue: Issue) -> bool:
                text = self._text(issue, field)
                if phrase:
                    return term.strip('"') in text
                have = _WORDS.findall(text)
                return all(
                    any(h.startswith(w[:-1]) for h in have) if w.endswith("*") else w in have
                    for w in words
                )

            return text_match if op == "~" else (lambda i: not text_match(i))
        if op in ("~", "!~"):
            raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.")
        # Probe the field once so an unknown field fails before evaluation.
        self._probe(field)
        if op in ("is", "is not"):
            want_empty = op == "is"
            return lambda i: (not self.field_values(i, field)) == want_empty
        wanted: list[str] = []
        has_empty = False
        for value in clause.values:
            if value is None:
                has_empty = True
            wanted.extend(self._resolve(value, field))
        if field == "project":
            known = {
                v.lower() for p in self.site.projects.values() for v in (p.key, str(p.id), p.name)
            }
            for w in wanted:
                if w.lower() not in known:
                    raise JqlError(f"The value '{w}' does not exist for the field 'project'.")
        if op in (">", ">=", "<", "<="):
            return self._ordered_clause(field, op, wanted)
        lowered = {w.lower() for w in wanted}

        def matches(issue: Issue) -> bool:
            values = self.field_values(issue, field)
            if not values:
                return has_empty
            return any(str(v).lower() in lowered for v in values) or any(
                isinstance(v, float) and _num(w) == v for v in values for w in wanted
            )

        if op in ("=", "in"):
            return matches
        if op in ("!=", "not in"):
            # Jira: != and NOT IN never match issues where the field is empty.
            return lambda i: (
                bool(self.field_values(i, field)) and not matches(i)
                if not has_empty
                else not matches(i)
            )
        raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.")

    def _probe(self, field: str) -> None:
        sample = next(iter(self.site.issues.values()), None)
        if sample is not None:
            self.field_values(sample, field)
        elif field not in (
            "project key issuetype status statuscategory assignee reporter creator labels "
            "component parent epic link sprint priority resolution story point estimate duedate due"
        ):
            raise JqlError(
                f"Field '{field}' does not exist or you do not have permission to view it."
            )

    def _ordered_clause(self, field: str, op: str, wanted: list[str]) -> Callable[[Issue], bool]:
        if len(wanted) != 1:
            raise JqlError(f"The operator '{op}' needs a single value.")
        target = wanted[0]
        cmp = _COMPARE[op]
        if field == "key":
            goal = _issue_number(target.upper())
            return lambda i: (
                _issue_number(i.key)[0] == goal[0] and cmp(_issue_number(i.key)[1], goal[1])
            )
        if field == "story point estimate":
            number = _num(target)
            if number is None:
                raise JqlError(f"Value '{target}' is not a number.")
            return lambda i: i.story_points is not None and cmp(i.story_points, number)
        if field in ("duedate", "due"):
            return lambda i: i.duedate is not None and cmp(i.duedate, target)
        if field == "priority":
            return lambda i: cmp(-int(i.priority_id), -int(self.field_values(i, "priority")[1]))
        raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")

    def _date_clause(self, clause: Clause, attr: str) -> Callable[[Issue], bool]:
        op = clause.op
        if op in ("is", "is not"):
            want_empty = op == "is"
            return lambda i: (getattr(i, attr) is None) == want_empty
        if op in ("~", "!~"):
            raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.")
        stamps = []
        for value in clause.values:
            if value is None:
                continue
            stamps.append(
                date_function(value, self.now_ms)
                if isinstance(value, Func)
                else parse_date_value(value, self.now_ms)
            )
        if op in ("in", "not in", "=", "!="):
            positive = op in ("in", "=")
            return lambda i: (getattr(i, attr) in stamps) == positive
        cmp = _COMPARE[op]
        target = stamps[0]
        return lambda i: getattr(i, attr) is not None and cmp(getattr(i, attr), target)

    # ------------------------------------------------------------------ order

    def sort_key(self, name: str) -> Callable[[Issue], Any]:
        """A sort key for one ORDER BY field."""
        field = _ALIASES.get(name.lower(), name.lower())
        if field == "key":
            return lambda i: _issue_number(i.key)
        if field in _DATE_FIELDS:
            attr = _DATE_FIELDS[field]
            return lambda i: getattr(i, attr) or 0
        simple: dict[str, Callable[[Issue], Any]] = {
            "rank": lambda i: i.rank,
            "priority": lambda i: -int(i.priority_id),
            "summary": lambda i: i.summary.lower(),
            "status": lambda i: i.status_id,
            "issuetype": lambda i: i.issuetype_id,
            "duedate": lambda i: i.duedate or "",
            "assignee": lambda i: self.site.user_label(i.assignee) or "",
            "story point estimate": lambda i: i.story_points or 0.0,
            "project": lambda i: self.site.projects[i.project_id].key,
        }
        if field in simple:
            return simple[field]
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

    def run(self, query: JqlQuery, issues: Iterable[Issue]) -> list[Issue]:
        """Filter and order."""
        pred = self.compile(query.where) if query.where is not None else None
        result = [i for i in issues if pred is None or pred(i)]
        order = query.order_by or ()
        if not order:
            result.sort(key=lambda i: i.created_ms * 100000 + i.id % 100000, reverse=True)
            return result
        result.sort(key=lambda i: i.id)
        for item in reversed(order):
            result.sort(key=self.sort_key(item.field), reverse=item.descending)
        return result


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def run_jql(
    site: SimSite,
    jql: str,
    current_user: str | None,
    *,
    bounded: bool = False,
    consistent: bool = False,
) -> list[Issue]:
    """Parse and run JQL against the search index (or the database when ``consistent``).

    JQL errors become 400 in Jira's shape; ``bounded`` refuses a query with no condition, as
    ``/search/jql`` does.
    """
    try:
        query = parse(jql or "")
        if bounded and query.where is None:
            raise JqlError(
                "Unbounded JQL queries are not allowed here. "
                "Please add a search restriction to your query."
            )
        source = site.issues.values() if consistent else site.searchable()
        return Searcher(site, current_user).run(query, source)
    except JqlError as exc:
        raise SimHTTPError(400, [str(exc)]) from None
