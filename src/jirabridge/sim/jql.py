"""A JQL subset: tokenizer, recursive-descent parser to an AST, and an evaluator over issues.

Grammar (case-insensitive keywords)::

    query   := [or] [ORDER BY sort (',' sort)*]
    or      := and (OR and)*
    and     := not (AND not)*
    not     := NOT not | '(' or ')' | clause
    clause  := field op operand
    op      := = | != | ~ | !~ | > | >= | < | <= | IN | NOT IN | IS | IS NOT
    operand := value | '(' value (',' value)* ')' | EMPTY | NULL
    value   := word | "quoted" | number | function '(' [value (',' value)*] ')'
    sort    := field [ASC | DESC]

Errors are :class:`JqlError` carrying the message Jira would put in ``errorMessages``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "And",
    "Clause",
    "Func",
    "JqlError",
    "JqlQuery",
    "Not",
    "Or",
    "Sort",
    "Token",
    "parse",
    "tokenize",
]


class JqlError(ValueError):
    """A JQL query Jira would refuse; ``str()`` is Jira's message."""


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is word, string, op, lparen, rparen, comma or eof."""

    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Func:
    """A function call value such as ``currentUser()`` or ``openSprints()``."""

    name: str
    args: tuple[str, ...] = ()


Value = str | Func | None  # None stands for EMPTY / NULL


@dataclass(frozen=True)
class Clause:
    """``field op operand``; ``values`` has one item except for IN / NOT IN."""

    field: str
    op: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Not:
    """Negation."""

    expr: Node


@dataclass(frozen=True)
class And:
    """Conjunction."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction."""

    items: tuple[Node, ...]


Node = Clause | Not | And | Or


@dataclass(frozen=True)
class Sort:
    """One ORDER BY item."""

    field: str
    descending: bool


@dataclass(frozen=True)
class JqlQuery:
    """A parsed query: an optional condition and the ORDER BY list."""

    where: Node | None
    order_by: tuple[Sort, ...]

    def to_jql(self) -> str:
        """Canonical JQL text for this query (parses back to an equal query)."""
        parts = []
        if self.where is not None:
            parts.append(_node_text(self.where))
        if self.order_by:
            parts.append(
                "ORDER BY "
                + ", ".join(
                    f"{_quote(s.field)} {'DESC' if s.descending else 'ASC'}" for s in self.order_by
                )
            )
        return " ".join(parts)


_OPS = ("!=", ">=", "<=", "!~", "=", "~", ">", "<")
_KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}
_WORD_RE = re.compile(r"[^\s=!~<>(),\"']+")


_CHAR_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")


def tokenize(text: str) -> list[Token]:
    """Split JQL into tokens; an unterminated string is an error."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                    # Jira's grammar: \n \r \t and \uXXXX stand for characters.
                    if text[j] in _CHAR_ESCAPES:
                        buf.append(_CHAR_ESCAPES[text[j]])
                        j += 1
                        continue
                    code = text[j + 1 : j + 5]
                    if text[j] == "u" and len(code) == 4 and all(c in _HEX for c in code):
                        buf.append(chr(int(code, 16)))
                        j += 5
                        continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise JqlError(
                    f"Error in the JQL Query: The quoted string '{text[i:]}' "
                    "has not been completed. "
                    f"(line 1, character {i + 1})"
                )
            tokens.append(Token("string", "".join(buf), i))
            i = j + 1
            continue
        if ch == "(":
            tokens.append(Token("lparen", ch, i))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("rparen", ch, i))
            i += 1
            continue
        if ch == ",":
            tokens.append(Token("comma", ch, i))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("op", op, i))
            i += len(op)
            continue
        m = _WORD_RE.match(text, i)
        if m is None:
            raise JqlError(
                f"Error in the JQL Query: The character '{ch}' is a reserved JQL character. "
                f"(line 1, character {i + 1})"
            )
        tokens.append(Token("word", m.group(0), i))
        i = m.end()
    tokens.append(Token("eof", "", n))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_kw(self, word: str, offset: int = 0) -> bool:
        tok = self.tokens[min(self.i + offset, len(self.tokens) - 1)]
        return tok.kind == "word" and tok.text.lower() == word

    def error(self, expected: str) -> JqlError:
        tok = self.peek()
        if tok.kind == "eof":
            return JqlError(
                f"Error in the JQL Query: Expecting {expected} but reached the end of the query."
            )
        return JqlError(
            f"Error in the JQL Query: Expecting {expected} but got '{tok.text}'. "
            f"(line 1, character {tok.pos + 1})"
        )

    def query(self) -> JqlQuery:
        where = None
        if self.peek().kind != "eof" and not (self.is_kw("order") and self.is_kw("by", 1)):
            where = self.or_expr()
        order: list[Sort] = []
        if self.is_kw("order"):
            self.take()
            if not self.is_kw("by"):
                raise self.error("'by'")
            self.take()
            while True:
                name = self.field()
                desc = False
                if self.is_kw("asc") or self.is_kw("desc"):
                    desc = self.take().text.lower() == "desc"
                order.append(Sort(name, desc))
                if self.peek().kind != "comma":
                    break
                self.take()
        if self.peek().kind != "eof":
            raise self.error("either 'OR' or 'AND'")
        return JqlQuery(where, tuple(order))

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.is_kw("or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.is_kw("and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        if self.is_kw("not"):
            self.take()
            return Not(self.not_expr())
        if self.peek().kind == "op" and self.peek().text == "!":
            self.take()
            return Not(self.not_expr())
        if self.peek().kind == "lparen":
            self.take()
            node = self.or_expr()
            if self.peek().kind != "rparen":
                raise self.error("')'")
            self.take()
            return node
        return self.clause()

    def field(self) -> str:
        tok = self.peek()
        if tok.kind == "string":
            self.take()
            return tok.text
        if tok.kind == "word" and tok.text.lower() not in _KEYWORDS:
            self.take()
            return tok.text
        raise self.error("a field name")

    def clause(self) -> Clause:
        name = self.field()
        tok = self.peek()
        op: str
        if tok.kind == "op":
            op = self.take().text
        elif self.is_kw("in"):
            self.take()
            op = "in"
        elif self.is_kw("not") and self.is_kw("in", 1):
            self.take()
            self.take()
            op = "not in"
        elif self.is_kw("is") and self.is_kw("not", 1):
            self.take()
            self.take()
            op = "is not"
        elif self.is_kw("is"):
            self.take()
            op = "is"
        else:
            raise self.error("operator")
        if op in ("in", "not in"):
            if self.peek().kind != "lparen":
                value = self.value()
                if not isinstance(value, Func):
                    raise self.error("'('")
                return Clause(name, op, (value,))
            self.take()
            values = [self.value()]
            while self.peek().kind == "comma":
                self.take()
                values.append(self.value())
            if self.peek().kind != "rparen":
                raise self.error("')'")
            self.take()
            return Clause(name, op, tuple(values))
        value = self.value()
        if op in ("is", "is not") and value is not None:
            raise JqlError(f"The operator '{op.upper()}' can only be used with EMPTY or NULL.")
        return Clause(name, op, (value,))

    def value(self) -> Value:
        tok = self.peek()
        if tok.kind == "string":
            self.take()
            return tok.text
        if tok.kind == "word":
            low = tok.text.lower()
            if low in ("empty", "null"):
                self.take()
                return None
            if low in _KEYWORDS:
                raise self.error("a value")
            self.take()
            if self.peek().kind == "lparen":
                self.take()
                args: list[str] = []
                while self.peek().kind != "rparen":
                    if self.peek().kind == "eof":
                        raise self.error("')'")
                    arg = self.take()
                    if arg.kind not in ("word", "string"):
                        raise self.error("a function argument")
                    args.append(arg.text)
                    if self.peek().kind == "comma":
                        self.take()
                self.take()
                return Func(tok.text, tuple(args))
            return tok.text
        raise self.error("a value")


def parse(text: str) -> JqlQuery:
    """Parse JQL text; raises :class:`JqlError` with Jira's message when it is not valid."""
    return _Parser(text).query()


def _quote(text: str) -> str:
    if _WORD_RE.fullmatch(text) and text.lower() not in _KEYWORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value_text(value: Value) -> str:
    if value is None:
        return "EMPTY"
    if isinstance(value, Func):
        return f"{value.name}({', '.join(_quote(a) for a in value.args)})"
    return _quote(value)


def _node_text(node: Node) -> str:
    if isinstance(node, Clause):
        if (
            node.op in ("in", "not in")
            and len(node.values) == 1
            and isinstance(node.values[0], Func)
        ):
            return f"{_quote(node.field)} {node.op.upper()} {_value_text(node.values[0])}"
        if node.op in ("in", "not in"):
            vals = "(" + ", ".join(_value_text(v) for v in node.values) + ")"
            return f"{_quote(node.field)} {node.op.upper()} {vals}"
        return f"{_quote(node.field)} {node.op.upper()} {_value_text(node.values[0])}"
    if isinstance(node, Not):
        return f"NOT ({_node_text(node.expr)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(_node_text(x) for x in node.items) + ")"


# ---------------------------------------------------------------------------- evaluation

_REL_RE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_REL_UNIT = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}
_ABS_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def parse_date_value(text: str, now_ms: int) -> int:
    """A JQL date operand (absolute or relative like ``-1d``) -> epoch ms."""
    m = _REL_RE.match(text.strip())
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return now_ms + sign * int(m.group(2)) * _REL_UNIT[m.group(3)] * 1000
    for fmt in _ABS_FORMATS:
        try:
            dt = datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(dt.timestamp() * 1000)
    raise JqlError(
        f"Date value '{text}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


def date_function(func: Func, now_ms: int) -> int:
    """``now()``, ``startOfDay()``, ``endOfDay()``, ``startOfWeek()``, ``startOfMonth()``."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    name = func.name.lower()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "now":
        base = now
    elif name == "startofday":
        base = day
    elif name == "endofday":
        base = day + timedelta(days=1) - timedelta(milliseconds=1)
    elif name == "startofweek":
        base = day - timedelta(days=(day.weekday() + 1) % 7)
    elif name == "startofmonth":
        base = day.replace(day=1)
    else:
        raise JqlError(f"Unable to find JQL function '{func.name}()'.")
    ms = int(base.timestamp() * 1000)
    if func.args:
        ms = parse_date_value(func.args[0], ms)
    return ms
