"""Conformance: Atlassian's OpenAPI specs loaded once, and a middleware that checks traffic.

The platform (v3) and software (agile) specs ship with the package. Four query-parameter enums
in the platform spec declare ``""`` as their default, which no validator accepts; those are
patched in memory at load time (the files stay as published). Jira writes date-times as
``2026-11-20T09:00:00.000+0000`` (no colon in the offset), which strict RFC 3339 refuses, so the
format checker is taught Jira's form rather than changing what the simulator writes.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jsonschema import FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import (  # type: ignore[import-untyped]
    ValidationError as SchemaError,
)
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jirabridge.sim.errors import SimConformanceError
from jirabridge.sim.formats import JIRA_DATETIME_RE

__all__ = [
    "BodyChecker",
    "Operation",
    "SpecName",
    "SpecSet",
    "ValidatingMiddleware",
    "jira_date_time",
    "load_specs",
    "spec_document",
]

#: The two specs: Jira platform REST v3 and Jira Software (Agile 1.0).
SpecName = Literal["platform", "software"]

#: Lists the problems of a request body against the spec (empty when it conforms).
BodyChecker = Callable[[Any], list[str]]

_SPEC_DIR = Path(__file__).parent / "specs"
_FILES = {
    "platform": "jira-cloud-platform-v3.openapi.json",
    "software": "jira-software-cloud.openapi.json",
}


def _patch_empty_enum_defaults(node: Any) -> int:
    """Drop ``default: ""`` where ``""`` is not among the enum values; returns how many."""
    fixed = 0
    if isinstance(node, dict):
        if "enum" in node and node.get("default") == "" and "" not in node["enum"]:
            del node["default"]
            fixed += 1
        for value in node.values():
            fixed += _patch_empty_enum_defaults(value)
    elif isinstance(node, list):
        for value in node:
            fixed += _patch_empty_enum_defaults(value)
    return fixed


def jira_date_time(value: object) -> bool:
    """The ``date-time`` format as Jira writes and accepts it (``+0000`` or RFC 3339).

    The spec marks worklog ``started`` and friends ``format: date-time`` (RFC 3339, a colon in
    the offset) while its own prose and the live API use ``+0000``. Non-strings pass: the
    format only constrains strings.
    """
    if not isinstance(value, str):
        return True
    if JIRA_DATETIME_RE.match(value):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(oas30_format_checker)
    checker.checks("date-time")(jira_date_time)
    return checker


@dataclass(frozen=True)
class Operation:
    """One spec operation: where its schemas live in the spec document."""

    spec: str
    path: str
    method: str
    pointer: str
    raw: dict[str, Any]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class SpecSet:
    """Both specs, a reference registry, and compiled validators cached per schema pointer."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        #: How many bad enum defaults each document had patched at load (platform: 4).
        self.patched: dict[str, int] = {}
        registry: Registry[Any] = Registry()
        for name, filename in _FILES.items():
            doc = json.loads((_SPEC_DIR / filename).read_text())
            self.patched[name] = _patch_empty_enum_defaults(doc)
            self.docs[name] = doc
            registry = registry.with_resource(f"urn:jira:{name}", DRAFT4.create_resource(doc))
        self.registry = registry.crawl()
        self.checker = _format_checker()
        self._cache: dict[tuple[str, bool], Any] = {}

    def operation(self, spec: str, path: str, method: str) -> Operation | None:
        """The operation for a spec path template and method, if the spec has it."""
        raw = self.docs[spec]["paths"].get(path, {}).get(method.lower())
        if raw is None:
            return None
        pointer = f"urn:jira:{spec}#/paths/{_escape(path)}/{method.lower()}"
        return Operation(spec, path, method.lower(), pointer, raw)

    def validator(self, pointer: str, *, write: bool) -> Any:
        """A compiled validator for the schema at ``pointer`` (cached)."""
        key = (pointer, write)
        if key not in self._cache:
            cls = OAS30WriteValidator if write else OAS30ReadValidator
            self._cache[key] = cls(
                {"$ref": pointer}, registry=self.registry, format_checker=self.checker
            )
        return self._cache[key]

    def request_errors(self, op: Operation, query: dict[str, list[str]], body: Any) -> list[str]:
        """Problems with a request the simulator accepted."""
        problems: list[str] = []
        for index, param in enumerate(op.raw.get("parameters", [])):
            if param.get("in") != "query":
                continue
            name = param["name"]
            values = query.get(name)
            if values is None:
                if param.get("required"):
                    problems.append(f"query parameter {name!r} is required")
                continue
            schema = param.get("schema", {})
            items = schema.get("items", {})
            scalar_items = items.get("type") in ("string", "integer", "number", "boolean")
            if schema.get("type") == "object" or (
                schema.get("type") == "array" and not scalar_items
            ):
                # Form-encoded object parameters cannot be rebuilt from a query string, and the
                # software spec declares plain comma lists (board sprint ``state``) this way.
                continue
            pointer = f"{op.pointer}/parameters/{index}/schema"
            if schema.get("type") == "array":
                # Repeated (id=1&id=2) or comma-separated (fields=a,b) are both Jira's forms;
                # each item is checked (Jira drops duplicates and blanks rather than refusing).
                v = self.validator(f"{pointer}/items", write=True)
                for item in (p for value in values for p in value.split(",") if p):
                    coerced = _coerce(item, items)
                    problems += [f"query {name}: {e.message}" for e in _errors(v, coerced)]
                continue
            v = self.validator(pointer, write=True)
            for value in values:
                coerced = _coerce(value, schema)
                problems += [f"query {name}: {e.message}" for e in _errors(v, coerced)]
        problems += self.body_errors(op, body)
        return problems

    def body_errors(self, op: Operation, body: Any) -> list[str]:
        """Problems with a JSON request body (none when the operation takes no JSON body)."""
        content = op.raw.get("requestBody", {}).get("content", {})
        if body is None or "application/json" not in content:
            return []
        v = self.validator(f"{op.pointer}/requestBody/content/application~1json/schema", write=True)
        return [f"body {list(e.absolute_path)}: {e.message}" for e in _errors(v, body)]

    def body_checker(self, spec: str, path: str, method: str) -> BodyChecker | None:
        """A function listing what is wrong with a body for this operation, if it takes one."""
        op = self.operation(spec, path, method)
        if op is None or "application/json" not in op.raw.get("requestBody", {}).get("content", {}):
            return None
        return functools.partial(self.body_errors, op)

    def response_errors(self, op: Operation, status: int, body: Any) -> list[str]:
        """Problems with a response: undeclared status, or a body that breaks its schema."""
        responses = op.raw.get("responses", {})
        key = (
            str(status)
            if str(status) in responses
            else ("default" if "default" in responses else None)
        )
        if key is None:
            # The specs list only the common error statuses; any other 4xx must still be in
            # Jira's error shape. An undeclared success or server error is a real mismatch.
            if 400 <= status < 500:
                return _error_shape_problems(body)
            return [f"status {status} is not declared for {op.method.upper()} {op.path}"]
        content = responses[key].get("content", {})
        if (
            body is None
            or "application/json" not in content
            or "schema" not in content["application/json"]
        ):
            return []
        v = self.validator(
            f"{op.pointer}/responses/{key}/content/application~1json/schema", write=False
        )
        return [f"response {list(e.absolute_path)}: {e.message}" for e in _errors(v, body)]


def _error_shape_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"errorMessages", "errors"}:
        return [f"error body is not Jira's errorMessages/errors shape: {body!r:.200}"]
    messages, errors = body["errorMessages"], body["errors"]
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        return ["errorMessages must be a list of strings"]
    if not isinstance(errors, dict) or not all(isinstance(v, str) for v in errors.values()):
        return ["errors must map field names to strings"]
    if not messages and not errors:
        return ["an error body must say what is wrong"]
    return []


def _errors(validator: Any, instance: Any) -> Iterator[SchemaError]:
    yield from validator.iter_errors(instance)


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


@functools.cache
def load_specs() -> SpecSet:
    """The process-wide :class:`SpecSet` (the specs are big: load and compile once)."""
    return SpecSet()


def spec_document(name: SpecName) -> dict[str, Any]:
    """One spec as loaded and patched here: the only loader (tests validate with it too).

    Shared by the whole process: deep-copy it before changing anything.
    """
    return load_specs().docs[name]


class ValidatingMiddleware:
    """Checks every request the simulator accepts and every response it returns (2xx and 4xx)
    for an implemented spec operation; a mismatch raises :class:`SimConformanceError`.

    Error answers are checked too, against the statuses the operation declares. Routes without
    a spec operation (v2, ``/_sim``) pass through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.specs = load_specs()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        sent: list[Message] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def buffer(message: Message) -> None:
            sent.append(message)

        await self.app(scope, recording_receive, buffer)
        route = scope.get("sim_route")
        if route is not None and route.spec is not None and route.spec_path is not None:
            self._check(scope, route.spec, route.spec_path, b"".join(chunks), sent)
        for message in sent:
            await send(message)

    def _check(
        self, scope: Scope, spec: str, path: str, raw_request: bytes, sent: list[Message]
    ) -> None:
        op = self.specs.operation(spec, path, scope["method"])
        if op is None:
            raise SimConformanceError(
                f"{scope['method']} {path} is served but not in the {spec} spec"
            )
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        raw_response = b"".join(
            m.get("body", b"") for m in sent if m["type"] == "http.response.body"
        )
        problems: list[str] = []
        if 200 <= status < 300:
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
            body = json.loads(raw_request) if raw_request.strip() else None
            problems += self.specs.request_errors(op, query, body)
        response_body = json.loads(raw_response) if raw_response.strip() else None
        problems += self.specs.response_errors(op, status, response_body)
        if problems:
            raise SimConformanceError(
                f"{scope['method']} {scope['path']} -> {status} breaks the {spec} spec "
                f"({op.method.upper()} {op.path}): " + "; ".join(problems[:10])
            )
