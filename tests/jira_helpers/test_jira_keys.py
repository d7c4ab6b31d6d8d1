"""Issue-key extraction: Jira's rule, the refusals on top of it, and the explanations."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabridge.jira.keys import (
    KeyDecision,
    explain_keys,
    extract_keys,
    find_keys,
    find_keys_in,
    is_issue_key,
)

TRICKY: list[tuple[str, list[str]]] = [
    ("UTF-8", []),
    ("Fix UTF-8 decoding", []),
    ("SHA-256 digests", []),
    ("Bump for CVE-2024-1234", []),
    ("dates in ISO-8601", []),
    ("see RFC-7231 section 6", []),
    ("release-2024-01", []),
    ("RELEASE-2024-01 notes", []),
    ("MY_PROJ-7 fix", ["MY_PROJ-7"]),
    ("ÄRZTE-3: umlaut project", ["ÄRZTE-3"]),
    ("日本語-5 keys without case", ["日本語-5"]),
    ("feature/PROJ-12-login", ["PROJ-12"]),
    ("bugfix/PROJ-12_typo", ["PROJ-12"]),
    ("PROJ-12abc", []),
    ("xPROJ-1", []),
    ("A-1 is too short a project", []),
    ("AB-1", ["AB-1"]),
    ("(AB-1), [CD-22]; EF-333.", ["AB-1", "CD-22", "EF-333"]),
    ("ABC-1 and ABC-1 again", ["ABC-1"]),
    ("1ABC-2 starts with a digit", []),
    ("_ABC-2 starts with an underscore", []),
    ("ABC-", []),
    ("ABC-x1", []),
    ("merge ABC-10 into main (ABC-9)", ["ABC-10", "ABC-9"]),
    ("Ⅻ-1 is a numeral, not a letter", []),
    ("AB٣-1 uses a non-ASCII digit", []),
    ("AB-٣ uses a non-ASCII digit", []),
]


@pytest.mark.parametrize(("text", "expected"), TRICKY)
def test_tricky_cases(text: str, expected: list[str]) -> None:
    assert extract_keys(text) == expected


def test_positions_and_reasons_are_reported() -> None:
    text = "feature/PROJ-12-login"
    (match,) = find_keys(text, source="branch")
    assert match.key == "PROJ-12"
    assert text[match.start : match.end] == "PROJ-12"
    assert match.source == "branch"
    assert match.reason is KeyDecision.ACCEPTED
    assert match.project == "PROJ"
    assert match.number == 12


def test_explain_says_why_candidates_were_dropped() -> None:
    decisions = {c.text: c.decision for c in explain_keys("UTF-8 release-2024-01 x-1 ab-2 AB-3")}
    assert decisions == {
        "UTF-8": KeyDecision.DENIED_PREFIX,
        "release-2024": KeyDecision.NOT_UPPERCASE,
        "ab-2": KeyDecision.NOT_UPPERCASE,
        "AB-3": KeyDecision.ACCEPTED,
    }
    # With lower case allowed, the date shape is what stops release-2024-01.
    relaxed = {c.text: c.decision for c in explain_keys("release-2024-01", require_uppercase=False)}
    assert relaxed == {"release-2024": KeyDecision.DATE_OR_VERSION}


def test_lowercase_keys_are_normalised_when_allowed() -> None:
    assert extract_keys("feature/proj-12-login", require_uppercase=False) == ["PROJ-12"]
    assert extract_keys("feature/proj-12-login") == []


def test_allow_list_restricts_and_overrides_the_deny_list() -> None:
    text = "SHA-12 ABC-1 XYZ-2"
    assert extract_keys(text, projects=["abc"]) == ["ABC-1"]
    assert extract_keys(text, projects=["SHA", "XYZ"]) == ["SHA-12", "XYZ-2"]
    (sha,) = find_keys("SHA-12", projects=["SHA"])
    assert sha.reason is KeyDecision.ACCEPTED_ALLOWED_PROJECT
    reasons = [c.decision for c in explain_keys("XYZ-2", projects=["ABC"])]
    assert reasons == [KeyDecision.NOT_IN_ALLOW_LIST]


def test_custom_deny_list() -> None:
    assert extract_keys("HOTFIX-1 ABC-2", denied_prefixes={"hotfix"}) == ["ABC-2"]
    assert extract_keys("UTF-8", denied_prefixes=()) == ["UTF-8"]


def test_several_sources() -> None:
    found = find_keys_in(
        {"title": "ABC-1: login", "branch": "feature/ABC-2-x", "commit": None, "body": "UTF-8"}
    )
    assert [(m.source, m.key) for m in found] == [("title", "ABC-1"), ("branch", "ABC-2")]
    found_pairs = find_keys_in([("commit", "refs DEF-9")])
    assert [m.key for m in found_pairs] == ["DEF-9"]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("ABC-1", True),
        ("MY_PROJ-7", True),
        ("ÄRZTE-3", True),
        ("A-1", False),
        ("1AB-1", False),
        ("AB-", False),
        ("AB-1x", False),
        ("AB_-1", True),
        ("AB-" + "1" * 255, True),
        ("AB-" + "1" * 256, False),
        ("A" + "B" * 255 + "-1", True),
        ("A" + "B" * 256 + "-1", False),
    ],
)
def test_is_issue_key_applies_jiras_rule(value: str, valid: bool) -> None:
    assert is_issue_key(value) is valid


# --- properties ----------------------------------------------------------------------------

_UPPER = st.characters(categories=["Lu"])
_project = st.builds(
    lambda first, rest: first + rest,
    _UPPER,
    st.text(alphabet=st.one_of(_UPPER, st.sampled_from("0123456789_")), min_size=1, max_size=8),
).filter(lambda p: p == p.upper() and p.upper() not in {"UTF", "SHA", "CVE", "ISO", "RFC"})
_number = st.integers(min_value=1, max_value=10**6)
_separator = st.sampled_from([" ", "/", ": ", "(", ")", ", ", "\n", "[", "]"])


@given(project=_project, number=_number, before=_separator, after=_separator)
def test_a_valid_key_between_separators_is_found(
    project: str, number: int, before: str, after: str
) -> None:
    key = f"{project}-{number}"
    assert is_issue_key(key)
    text = f"fix{before}{key}{after}done"
    found = find_keys(text)
    assert [m.key for m in found] == [key]
    assert text[found[0].start : found[0].end] == key


@given(st.text(max_size=60))
def test_everything_found_satisfies_the_rule_and_sits_where_reported(text: str) -> None:
    for m in find_keys(text, require_uppercase=False, denied_prefixes=()):
        assert is_issue_key(m.key)
        assert text[m.start : m.end].upper() == m.key
        # Never glued to a preceding word character.
        assert m.start == 0 or not re.match(r"\w", text[m.start - 1])


@given(project=_project, number=_number, tail=st.integers(min_value=0, max_value=99))
def test_date_or_version_shapes_are_never_keys(project: str, number: int, tail: int) -> None:
    assert extract_keys(f"{project}-{number}-{tail}") == []
