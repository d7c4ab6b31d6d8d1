"""Read epics and stories from JSON, YAML or Markdown, with a problem per bad item.

JSON and YAML share one shape (docs/stories-format.md)::

    epics:
      - id: E1
        title: Checkout
        description: Paying for the basket.
        stories:
          - id: S1
            title: Pay by card
            story: As a shopper I want to pay by card so that I can check out quickly
            acceptance_criteria: [Visa and Mastercard accepted, Declines are explained]
            priority: High
            labels: [payments]
            points: 3
            components: [web]
    stories: []        # stories outside any epic (each may name its ``epic`` by id)

Markdown: ``# Epic: Title {#E1}`` starts an epic, ``## Story: Title {#S1}`` a story in it; the
paragraphs below are the description (or the story text for a story); ``Priority:``,
``Labels:``, ``Points:``, ``Components:`` lines set those fields; the list under
``### Acceptance criteria`` holds the criteria.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import ValidationError as PydanticValidationError

from jirabridge.errors import ValidationError
from jirabridge.sync.stories.items import Epic, ItemProblem, Story, StoryFile

__all__ = ["StoryFormat", "detect_format", "parse_stories"]

StoryFormat = Literal["json", "yaml", "markdown"]

_LINE_KEY = "__line__"
_MAX_BYTES = 5_000_000


def detect_format(filename: str) -> StoryFormat:
    """The format a file name says: ``.json``, ``.yaml``/``.yml`` or ``.md``/``.markdown``."""
    lower = filename.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith((".md", ".markdown")):
        return "markdown"
    raise ValidationError(f"cannot tell the format of {filename!r}: use .json, .yaml, .yml or .md")


def parse_stories(text: str, fmt: StoryFormat) -> StoryFile:
    """Read ``text`` in ``fmt``. Problems are collected per item, never raised.

    Only a file that cannot be read at all (bad syntax, wrong top-level shape) yields a single
    problem with the line where reading stopped.
    """
    if len(text.encode()) > _MAX_BYTES:
        return StoryFile(problems=[ItemProblem(f"file is larger than {_MAX_BYTES} bytes")])
    if fmt == "markdown":
        return _from_markdown(text)
    if fmt == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return StoryFile(problems=[ItemProblem(f"not valid JSON: {exc.msg}", line=exc.lineno)])
    elif fmt != "yaml":
        raise ValidationError(f"unknown stories format {fmt!r}")
    try:
        # JSON is read through the YAML loader too: it is how we learn each item's line.
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return StoryFile(problems=[ItemProblem(f"not valid {fmt.upper()}: {exc}", line=line)])
    return _from_data(data)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping (1-based)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _pydantic_message(exc: PydanticValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        out.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return out


def _from_data(data: Any) -> StoryFile:
    result = StoryFile()
    if not isinstance(data, Mapping):
        result.problems.append(ItemProblem("the file must hold a mapping with 'epics'/'stories'"))
        return result
    unknown = set(data) - {"epics", "stories", _LINE_KEY}
    if unknown:
        result.problems.append(
            ItemProblem(f"unknown top-level keys: {', '.join(sorted(map(str, unknown)))}", line=1)
        )
    epics = data.get("epics") or []
    loose = data.get("stories") or []
    if not isinstance(epics, list) or not isinstance(loose, list):
        result.problems.append(ItemProblem("'epics' and 'stories' must be lists"))
        return result
    for raw in epics:
        if not isinstance(raw, Mapping):
            result.problems.append(ItemProblem("an epic must be a mapping"))
            continue
        fields = {k: v for k, v in raw.items() if k not in (_LINE_KEY, "stories")}
        epic = _build(Epic, fields, raw.get(_LINE_KEY), result)
        children = raw.get("stories") or []
        if not isinstance(children, list):
            result.problems.append(
                ItemProblem("'stories' must be a list", fields.get("id"), raw.get(_LINE_KEY))
            )
            continue
        for child in children:
            if isinstance(child, Mapping) and epic is not None and "epic" not in child:
                child = {**child, "epic": epic.id}
            _add_story(child, result)
    for raw in loose:
        _add_story(raw, result)
    _cross_check(result)
    return result


def _add_story(raw: Any, result: StoryFile) -> None:
    if not isinstance(raw, Mapping):
        result.problems.append(ItemProblem("a story must be a mapping"))
        return
    fields = {k: v for k, v in raw.items() if k != _LINE_KEY}
    _build(Story, fields, raw.get(_LINE_KEY), result)


def _build(
    model: type[Epic] | type[Story], fields: Mapping[str, Any], line: int | None, out: StoryFile
) -> Epic | Story | None:
    item_id = fields.get("id")
    item_id = str(item_id) if item_id is not None else None
    fields = {k: (str(v) if k == "id" and v is not None else v) for k, v in fields.items()}
    try:
        item: Epic | Story = model.model_validate(fields)
    except PydanticValidationError as exc:
        for message in _pydantic_message(exc):
            out.problems.append(ItemProblem(message, item_id, line))
        return None
    if line is not None:
        out.lines.setdefault(item.id, line)
    if isinstance(item, Epic):
        out.epics.append(item)
    else:
        out.stories.append(item)
    return item


def _cross_check(result: StoryFile) -> None:
    """Ids unique across the file; every story's epic exists."""
    seen: set[str] = set()
    items: list[Epic | Story] = [*result.epics, *result.stories]
    for item in items:
        if item.id in seen:
            result.problems.append(
                ItemProblem(
                    "duplicate id (ids must be unique in the file)",
                    item.id,
                    result.lines.get(item.id),
                )
            )
        seen.add(item.id)
    epic_ids = {e.id for e in result.epics}
    for story in result.stories:
        if story.epic is not None and story.epic not in epic_ids:
            result.problems.append(
                ItemProblem(
                    f"epic {story.epic!r} is not in the file", story.id, result.lines.get(story.id)
                )
            )


_HEADING = re.compile(r"^(#{1,3})\s+(.*?)\s*$")
_TITLE_ID = re.compile(r"^(?P<kind>Epic|Story):\s*(?P<title>.*?)\s*\{#(?P<id>[^}]*)\}\s*$", re.I)
_FIELD = re.compile(r"^(Priority|Labels|Points|Components|Epic)\s*:\s*(.*)$", re.I)
_BULLET = re.compile(r"^\s*[-*+]\s+(?:\[[ xX]\]\s+)?(.*)$")


def _from_markdown(text: str) -> StoryFile:
    result = StoryFile()
    current: dict[str, Any] | None = None
    kind = ""
    in_criteria = False
    epic_id: str | None = None
    body: list[str] = []

    def flush() -> None:
        nonlocal current
        if current is None:
            return
        prose = "\n".join(body).strip()
        line = current.pop(_LINE_KEY)
        if kind == "epic":
            current["description"] = prose
            _build(Epic, current, line, result)
        else:
            current["story"] = prose
            _build(Story, current, line, result)
        current = None
        body.clear()

    for number, raw_line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(raw_line)
        if heading:
            level, content = len(heading.group(1)), heading.group(2)
            if level == 3 and current is not None and content.lower().startswith("acceptance"):
                in_criteria = True
                continue
            match = _TITLE_ID.match(content)
            if level in (1, 2) and match:
                flush()
                in_criteria = False
                kind = match.group("kind").lower()
                if (level == 1) != (kind == "epic"):
                    result.problems.append(
                        ItemProblem("use '# Epic: …' and '## Story: …'", match.group("id"), number)
                    )
                current = {
                    "id": match.group("id"),
                    "title": match.group("title"),
                    _LINE_KEY: number,
                }
                if kind == "epic":
                    epic_id = match.group("id")
                elif epic_id is not None:
                    current["epic"] = epic_id
                continue
            if level in (1, 2):
                flush()
                result.problems.append(
                    ItemProblem(
                        "a heading must read 'Epic: Title {#id}' or 'Story: Title {#id}'",
                        line=number,
                    )
                )
                continue
        if current is None:
            if raw_line.strip():
                result.problems.append(ItemProblem("text outside any epic or story", line=number))
            continue
        if in_criteria:
            bullet = _BULLET.match(raw_line)
            if bullet:
                current.setdefault("acceptance_criteria", []).append(bullet.group(1).strip())
            elif raw_line.strip():
                in_criteria = False
                body.append(raw_line)
            continue
        field_match = _FIELD.match(raw_line.strip())
        if field_match:
            name, value = field_match.group(1).lower(), field_match.group(2).strip()
            if name in ("labels", "components"):
                current[name] = [v.strip() for v in value.split(",") if v.strip()]
            elif name == "points":
                current["points"] = value
            else:
                current[name] = value
            continue
        body.append(raw_line)
    flush()
    _cross_check(result)
    return result
