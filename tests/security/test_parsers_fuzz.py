"""Every parser, fed arbitrary input: a result or OUR error with a message, never a crash.

Round trips live with each parser's own tests; these only ask that nothing a user can send
(a commit message, a pasted file, a rules file, a picker query) escapes as an unhandled
exception, which the web layer would turn into a 500.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticError

from jirabridge.errors import JirabridgeError, ValidationError
from jirabridge.jira.adf import adf_to_markdown, adf_to_text, markdown_to_adf, validate_adf
from jirabridge.jira.jql import jql_list, jql_string
from jirabridge.jira.keys import explain_keys, extract_keys, find_keys, is_issue_key
from jirabridge.service.worklogs import RecordInput, _normalise_import_row
from jirabridge.sim.jql import parse, tokenize
from jirabridge.sync.devlinks.smart_commits import parse_duration, parse_smart_commit
from jirabridge.sync.stories.parse import parse_stories
from jirabridge.sync.triage.rules import load_rules
from security.world import World

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text that looks a little like the real thing mixed with anything at all.
_words = st.sampled_from(
    [
        "DEMO-1",
        "UTF-8",
        "#time",
        "1w",
        "2d",
        "4h",
        "30m",
        "#comment",
        "#close",
        "- ",
        "* ",
        "# ",
        "```",
        "|",
        "[x]",
        "**",
        "_",
        "`",
        "\\",
        '"',
        "'",
        "\n",
        "\r\n",
        "\t",
        "---",
        "key:",
        "rules:",
        "- name:",
        "  when:",
        "{",
        "}",
        "[",
        "]",
        ":",
        "&a",
        "*a",
        "!!python",
        "<",
        ">",
        "\x00",
        "\x1f",
        "\ufeff",
        "é",
        "😀",
        " ",
    ]
)
TEXT = st.one_of(
    st.text(max_size=200), st.lists(_words | st.text(max_size=8), max_size=40).map("".join)
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
ADF_NODE_TYPES = st.sampled_from(
    [
        "doc",
        "paragraph",
        "text",
        "heading",
        "bulletList",
        "orderedList",
        "listItem",
        "codeBlock",
        "blockquote",
        "table",
        "tableRow",
        "tableCell",
        "taskList",
        "taskItem",
        "hardBreak",
        "mention",
        "emoji",
        "date",
        "rule",
        "panel",
        "inlineCard",
        "bogus",
    ]
)
ADF_LIKE = st.recursive(
    st.fixed_dictionaries(
        {"type": ADF_NODE_TYPES},
        optional={
            "text": st.text(max_size=20),
            "attrs": st.dictionaries(st.text(max_size=8), JSONISH, max_size=3),
            "marks": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["strong", "em", "code", "link", "x"])},
                    optional={"attrs": st.dictionaries(st.text(max_size=6), JSONISH, max_size=2)},
                ),
                max_size=3,
            ),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {"type": ADF_NODE_TYPES, "content": st.lists(inner, max_size=4)},
        optional={"attrs": st.dictionaries(st.text(max_size=8), JSONISH, max_size=3)},
    ),
    max_leaves=25,
)


def _ours(exc: BaseException) -> None:
    assert isinstance(exc, JirabridgeError), f"{type(exc).__name__}: {exc}"
    assert exc.message.strip(), "an error needs a message"


@FUZZ
@given(TEXT)
def test_markdown_to_adf_always_gives_valid_adf(text: str) -> None:
    doc = markdown_to_adf(text)
    validate_adf(doc)
    assert isinstance(adf_to_markdown(doc), str)


@FUZZ
@given(st.one_of(ADF_LIKE, JSONISH))
def test_adf_readers_take_anything(doc: Any) -> None:
    for reader in (adf_to_markdown, adf_to_text, validate_adf):
        try:
            reader(doc)
        except JirabridgeError as exc:
            _ours(exc)


@FUZZ
@given(TEXT)
def test_durations(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValidationError as exc:
        _ours(exc)
    else:
        assert seconds > 0


@FUZZ
@given(TEXT)
def test_smart_commits(text: str) -> None:
    try:
        parse_smart_commit(text, projects=["DEMO"])
        parse_smart_commit(text)
    except JirabridgeError as exc:
        _ours(exc)


@FUZZ
@given(TEXT)
def test_issue_keys_found_are_keys(text: str) -> None:
    for key in extract_keys(text):
        assert is_issue_key(key), key
    find_keys(text, projects=["DEMO"])
    explain_keys(text)


@FUZZ
@given(st.text(max_size=60))
def test_jql_values_cannot_break_out(value: str) -> None:
    # The simulator's JQL lexer stands for Jira's: the value comes back as ONE string token,
    # whatever quotes, backslashes, newlines or control characters it holds.
    tokens = tokenize(f"summary ~ {jql_string(value)} ORDER BY created")
    assert [t.kind for t in tokens] == ["word", "op", "string", "word", "word", "word", "eof"]
    assert tokens[2].text == value
    listed = tokenize(f"project in {jql_list([value, value + 'x'])}")
    assert [t.text for t in listed if t.kind == "string"] == [value, value + "x"]


def test_jql_quoting_stops_an_injection() -> None:
    evil = 'x" OR project = SECRET OR summary ~ "'
    query = parse(f"summary ~ {jql_string(evil)}")
    assert "SECRET" not in repr(query.where).replace(evil, "")


_CSV_HEADERS = st.lists(
    st.sampled_from(
        [
            "started_at",
            "ended_at",
            "duration_minutes",
            "duration_hours",
            "duration_seconds",
            "time_zone",
            "notes",
            "issue_key",
            "external_link",
            "connection_id",
            "bogus",
            "",
        ]
    ),
    min_size=1,
    max_size=6,
)
_CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:00",
            "inf",
            "-inf",
            "nan",
            "1e400",
            "-5",
            "0",
            "90",
            "Europe/Berlin",
            "Mars/Base",
            "DEMO-1",
            "javascript:x",
        ]
    ),
)


@FUZZ
@given(_CSV_HEADERS, st.lists(st.lists(_CELL, max_size=6), max_size=4))
@example(["started_at", "duration_minutes"], [["2026-11-20T09:00:00Z", "inf"]])
@example(["started_at", "duration_hours"], [["2026-11-20T09:00:00Z", "1e400"]])
def test_time_record_import_rows(headers: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    for raw in csv.DictReader(io.StringIO(buffer.getvalue())):
        _one_import_row(raw)


@FUZZ
@given(st.dictionaries(st.text(max_size=16), JSONISH, max_size=6))
def test_json_import_rows(raw: dict[str, Any]) -> None:
    _one_import_row(raw)


def _pydantic_has_message(exc: PydanticError) -> None:
    # import_rows reports the first error's message for the row.
    assert exc.errors()[0]["msg"]


def _one_import_row(raw: dict[str, Any]) -> None:
    # What WorklogService.import_rows does with a row before touching the database.
    try:
        RecordInput.model_validate(_normalise_import_row(raw))
    except PydanticError as exc:
        _pydantic_has_message(exc)
    except JirabridgeError as exc:
        _ours(exc)


@FUZZ
@given(st.one_of(TEXT, JSONISH.map(json.dumps)), st.sampled_from(["json", "yaml", "markdown"]))
def test_stories_files(text: str, fmt: Any) -> None:
    try:
        parse_stories(text, fmt)
    except JirabridgeError as exc:
        _ours(exc)


@FUZZ
@given(st.one_of(TEXT, JSONISH.map(json.dumps)))
def test_triage_rules(text: str) -> None:
    try:
        load_rules(text)
    except JirabridgeError as exc:
        _ours(exc)


@pytest.mark.parametrize("text", ["\x1f", "rules: [\x00]", "\ufeffrules:\n - name: a\n", "&a [*a]"])
def test_triage_rules_odd_yaml(text: str) -> None:
    with pytest.raises(ValidationError):
        load_rules(text)


@pytest.mark.slow
def test_import_of_a_csv_that_is_not_utf8_is_a_422(world: World) -> None:
    answer = world.call(
        "POST",
        "/api/time-records/import",
        world.mallory,
        content=b"started_at,notes\n2026-11-20T09:00:00Z,caf\xe9\n",
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 422, answer.text
    assert "UTF-8" in answer.json()["title"]
    bad_json = world.call(
        "POST",
        "/api/time-records/import",
        world.mallory,
        content=b"\xff{",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422, bad_json.text
