"""Query-parameter rules taken from the specs, so the simulator refuses what Jira refuses.

Only the cheap part of the spec is used here (parameter types, ranges and enums), loaded once
per process; full request and response validation lives in :mod:`jirabridge.sim.spec`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jirabridge.sim.errors import SimHTTPError

__all__ = ["ParamRule", "check_query", "rules_for"]

_SPEC_DIR = Path(__file__).parent / "specs"
_FILES = {
    "platform": "jira-cloud-platform-v3.openapi.json",
    "software": "jira-software-cloud.openapi.json",
}
_INT_RANGE = {"int32": 2**31, "int64": 2**63}
_INT_RE = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class ParamRule:
    """What one query parameter may hold."""

    type: str | None
    format: str | None
    minimum: float | None
    maximum: float | None
    enum: tuple[str, ...] | None
    many: bool = False
    max_length: int | None = None

    def problem(self, value: str) -> bool:
        """Whether ``value`` breaks the rule."""
        if self.type == "integer":
            if not _INT_RE.match(value):
                return True
            number = int(value)
            limit = _INT_RANGE.get(self.format or "int64", 2**63)
            if not -limit <= number < limit:
                return True
            if self.minimum is not None and number < self.minimum:
                return True
            return self.maximum is not None and number > self.maximum
        if self.max_length is not None and len(value) > self.max_length:
            return True
        if self.type == "boolean":
            return value not in ("true", "false")
        if self.enum is not None:
            return any(part not in self.enum for part in value.split(","))
        return False


@functools.cache
def _docs() -> dict[str, dict[str, Any]]:
    return {name: json.loads((_SPEC_DIR / f).read_text()) for name, f in _FILES.items()}


def rules_for(spec: str, path: str, method: str) -> dict[str, ParamRule]:
    """Rules for the query parameters of one spec operation (empty when it has none)."""
    op = _docs()[spec]["paths"].get(path, {}).get(method.lower(), {})
    rules: dict[str, ParamRule] = {}
    for param in op.get("parameters", []):
        if param.get("in") != "query":
            continue
        schema = param.get("schema", {})
        if schema.get("type") == "array" and schema.get("items", {}).get("type") == "integer":
            schema = {**schema["items"], "array": True}
        enum = schema.get("enum") or (
            schema.get("items", {}) if schema.get("type") == "array" else {}
        ).get("enum")
        kind = schema.get("type")
        if kind not in ("integer", "boolean") and enum is None and "maxLength" not in schema:
            continue
        rules[param["name"]] = ParamRule(
            type=kind,
            format=schema.get("format"),
            minimum=schema.get("minimum"),
            maximum=schema.get("maximum"),
            enum=tuple(str(e) for e in enum) if enum is not None else None,
            many=bool(schema.get("array")),
            max_length=schema.get("maxLength"),
        )
    return rules


def check_query(rules: dict[str, ParamRule], query: Any) -> None:
    """400 in Jira's shape for the first parameter that breaks its rule."""
    for name, rule in rules.items():
        for raw in query.getlist(name):
            values = raw.split(",") if rule.many else [raw]
            for value in values:
                if rule.problem(value):
                    raise SimHTTPError(
                        400, [f"The value '{value}' is invalid for parameter '{name}'."]
                    )
