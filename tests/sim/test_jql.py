"""The JQL parser: structure, errors, and round trips under hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jirabridge.sim.jql import And, Clause, Func, JqlError, Not, Or, parse, tokenize


def test_precedence_and_parentheses() -> None:
    q = parse("a = 1 OR b = 2 AND NOT c = 3")
    assert isinstance(q.where, Or)
    right = q.where.items[1]
    assert isinstance(right, And)
    assert isinstance(right.items[1], Not)
    q = parse("(a = 1 OR b = 2) AND c = 3")
    assert isinstance(q.where, And)


def test_operators_and_values() -> None:
    q = parse('"Epic Link" = ABC-1 AND labels NOT IN (x, "y z") AND assignee IS NOT EMPTY AND sprint in openSprints()')
    assert isinstance(q.where, And)
    clauses = q.where.items
    assert clauses[0] == Clause("Epic Link", "=", ("ABC-1",))
    assert clauses[1] == Clause("labels", "not in", ("x", "y z"))
    assert clauses[2] == Clause("assignee", "is not", (None,))
    assert clauses[3] == Clause("sprint", "in", (Func("openSprints"),))


def test_order_by() -> None:
    q = parse("project = X ORDER BY rank, created DESC")
    assert [(s.field, s.descending) for s in q.order_by] == [("rank", False), ("created", True)]
    assert parse("order by key").where is None


@pytest.mark.parametrize(
    "bad",
    ["project =", "project = X AND", "(project = X", "project X", 'summary ~ "open', "a = 1 b = 2", "assignee IS 5", "ORDER key"],
)
def test_errors_are_jql_errors(bad: str) -> None:
    with pytest.raises(JqlError):
        parse(bad)


def test_tokenizer_keeps_positions() -> None:
    tokens = tokenize('a != "b c"')
    assert [(t.kind, t.text, t.pos) for t in tokens] == [("word", "a", 0), ("op", "!=", 2), ("string", "b c", 5), ("eof", "", 10)]


_fields = st.sampled_from(["project", "status", "labels", "Epic Link", "created", "summary", "assignee", "key"])
_values = st.one_of(
    st.text(alphabet="abcXYZ-_19 ", min_size=1, max_size=8),
    st.just(None),
    st.builds(Func, st.sampled_from(["currentUser", "openSprints", "now"])),
)


def _clause() -> st.SearchStrategy[Clause]:
    single = st.builds(lambda f, op, v: Clause(f, op, (v,)), _fields, st.sampled_from(["=", "!=", ">", "<=", "~"]), _values.filter(lambda v: v is not None))
    empty = st.builds(lambda f, op: Clause(f, op, (None,)), _fields, st.sampled_from(["is", "is not"]))
    many = st.builds(lambda f, op, vs: Clause(f, op, tuple(vs)), _fields, st.sampled_from(["in", "not in"]), st.lists(st.text(alphabet="abc19-", min_size=1, max_size=5), min_size=1, max_size=3))
    return st.one_of(single, empty, many)


_nodes = st.recursive(
    _clause(),
    lambda inner: st.one_of(
        st.builds(lambda xs: And(tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda xs: Or(tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(_nodes)
def test_round_trip(node: object) -> None:
    from jirabridge.sim.jql import JqlQuery

    query = JqlQuery(node, ())  # type: ignore[arg-type]
    text = query.to_jql()
    again = parse(text)
    assert again.to_jql() == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='abc =!~<>(),"\'ANDORNOTINISEMPTY-1 ', max_size=40))
def test_never_crashes(text: str) -> None:
    try:
        parse(text)
    except JqlError:
        pass
