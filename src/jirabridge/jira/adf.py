"""Atlassian Document Format (ADF) to and from Markdown, plain text and Jira wiki markup.

Jira Cloud's REST v3 takes and returns rich text (descriptions, comments, worklog comments) as
ADF, a JSON tree (``{"type": "doc", "version": 1, "content": [...]}``). People write Markdown.
This module converts between the two for a documented subset, and renders ADF as plain text.

Supported, both ways:

=====================  ===============================================================
Markdown               ADF
=====================  ===============================================================
paragraph              ``paragraph``
``# ...`` to ``######`` ``heading`` (``level`` 1-6)
``**b**`` ``*i*``      ``strong`` / ``em`` marks
``~~s~~`` `` `c` ``    ``strike`` / ``code`` marks (code combines only with a link)
``[t](url)``           ``link`` mark
``- a`` / ``1. a``     ``bulletList`` / ``orderedList`` (``order`` when it starts elsewhere)
``- [ ] a``            ``taskList`` / ``taskItem`` (``state`` ``TODO`` or ``DONE``)
fenced code            ``codeBlock`` (``language`` from the info string)
``> ...``              ``blockquote``
backslash line end     ``hardBreak``
``---``                ``rule``
``@[Name](accountId:ID)``  ``mention`` (``id``, ``text`` = ``@Name``)
pipe tables            ``table`` / ``tableRow`` / ``tableHeader`` / ``tableCell``
=====================  ===============================================================

Markdown's soft line breaks become spaces, as they do when Markdown is rendered. ADF nodes
outside the subset (panels, emoji, inline cards, dates, status lozenges, media) are rendered to
Markdown and text as well as they can be, but do not survive a round trip. ``localId`` values of
task lists are numbered in document order, so the same Markdown always yields the same ADF.

What CommonMark itself cannot express, and so is outside the round-trip subset: spaces at the
start or end of a paragraph, line or marked span (they are moved outside the delimiters or
trimmed); two or more emphasis delimiters changing at once directly between letters
(``x***~~y~~***``); link targets that Markdown would percent-encode (spaces, non-ASCII); a
``|`` inside inline code in a table cell; text containing newlines (use ``hardBreak``). Two lists
in a row are written with alternating bullets (``-``/``*``) or delimiters (``.``/``)``), which is
how CommonMark keeps them apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from jirabridge.errors import ValidationError

__all__ = [
    "Adf",
    "Criterion",
    "acceptance_criteria_adf",
    "acceptance_criteria_wiki",
    "adf_to_markdown",
    "adf_to_text",
    "markdown_to_adf",
    "validate_adf",
]

#: An ADF node as JSON data.
Adf = dict[str, Any]

_MENTION_SCHEME = "accountId:"
_TASK_PREFIX = re.compile(r"\[([ xX])\](?: |$)")
# Marks are opened in this order (outermost first) so nesting in Markdown is stable.
_MARK_ORDER = {"link": 0, "strong": 1, "em": 2, "strike": 3, "code": 4}
_SIMPLE_MARKS = {"strong": "**", "em": "*", "strike": "~~"}

_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


# ============================================================================================
# Markdown -> ADF
# ============================================================================================


class _Ids:
    """Deterministic ``localId`` values for task lists and items."""

    def __init__(self) -> None:
        self.n = 0

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"


def _text(text: str, marks: Sequence[Adf] = ()) -> Adf:
    node: Adf = {"type": "text", "text": text}
    if marks:
        node["marks"] = [dict(m) for m in marks]
    return node


def _merge_texts(nodes: Iterable[Adf]) -> list[Adf]:
    """Join neighbouring text nodes with equal marks and drop empty ones (canonical ADF)."""
    out: list[Adf] = []
    for node in nodes:
        if node["type"] == "text":
            if not node["text"]:
                continue
            prev = out[-1] if out else None
            if (
                prev is not None
                and prev["type"] == "text"
                and prev.get("marks") == node.get("marks")
            ):
                out[-1] = {**prev, "text": prev["text"] + node["text"]}
                continue
        out.append(node)
    return out


def _sorted_marks(marks: Iterable[Adf]) -> list[Adf]:
    unique: dict[str, Adf] = {}
    for m in marks:
        unique[m["type"]] = m
    if "code" in unique:
        # ADF allows ``code`` only together with ``link``.
        unique = {k: v for k, v in unique.items() if k in ("code", "link")}
    return sorted(unique.values(), key=lambda m: _MARK_ORDER.get(m["type"], 99))


def _inline(node: SyntaxTreeNode, marks: tuple[Adf, ...] = ()) -> list[Adf]:
    out: list[Adf] = []
    for child in node.children:
        t = child.type
        if t == "text":
            out.append(_text(child.content, _sorted_marks(marks)))
        elif t == "softbreak":
            out.append(_text(" ", _sorted_marks(marks)))
        elif t == "hardbreak":
            out.append({"type": "hardBreak"})
        elif t == "code_inline":
            out.append(_text(child.content, _sorted_marks((*marks, {"type": "code"}))))
        elif t in ("strong", "em", "s"):
            mark = {"type": {"s": "strike"}.get(t, t)}
            out.extend(_inline(child, (*marks, mark)))
        elif t == "link":
            href = str(child.attrs.get("href", ""))
            if href.startswith(_MENTION_SCHEME) and out and _ends_with_at(out[-1]):
                out[-1] = {**out[-1], "text": out[-1]["text"][:-1]}
                name = "".join(_plain_inline(_inline(child)))
                out.append(
                    {
                        "type": "mention",
                        "attrs": {"id": href[len(_MENTION_SCHEME) :], "text": f"@{name}"},
                    }
                )
            else:
                out.extend(_inline(child, (*marks, {"type": "link", "attrs": {"href": href}})))
        elif t == "image":
            # Images need media uploads in Jira; keep the alt text, linked to the source.
            src = str(child.attrs.get("src", ""))
            alt = "".join(c.content for c in child.children) or src
            out.append(
                _text(alt, _sorted_marks((*marks, {"type": "link", "attrs": {"href": src}})))
            )
        else:
            out.append(_text(child.content, _sorted_marks(marks)))
    return _merge_texts(out)


def _ends_with_at(node: Adf) -> bool:
    return node["type"] == "text" and not node.get("marks") and node["text"].endswith("@")


def _paragraph(inline_parent: SyntaxTreeNode | None) -> Adf:
    content = _inline(inline_parent) if inline_parent is not None else []
    node: Adf = {"type": "paragraph", "content": content}
    return node


def _inline_child(node: SyntaxTreeNode) -> SyntaxTreeNode | None:
    return next((c for c in node.children if c.type == "inline"), None)


def _task_list(node: SyntaxTreeNode) -> Adf | None:
    """The ADF task list for a Markdown bullet list whose items all start with ``[ ]``/``[x]``."""
    items: list[Adf] = []
    for item in node.children:
        kids = item.children
        if not kids or kids[0].type != "paragraph":
            return None
        inline = _inline_child(kids[0])
        if inline is None or _TASK_PREFIX.match(inline.content) is None:
            return None
        nested = kids[1:]
        if len(nested) > 1 or (nested and nested[0].type != "bullet_list"):
            return None
        sub = _task_list(nested[0]) if nested else None
        if nested and sub is None:
            return None
        content = _inline(inline)
        m = _TASK_PREFIX.match(inline.content)
        assert m is not None
        first = content[0] if content else None
        if first is None or first["type"] != "text" or first.get("marks"):
            return None
        rest = first["text"][len(m.group(0)) :]
        content = ([{**first, "text": rest}] if rest else []) + content[1:]
        items.append(
            {
                "type": "taskItem",
                "attrs": {"localId": "", "state": "DONE" if m.group(1) in "xX" else "TODO"},
                "content": content,
            }
        )
        if sub is not None:
            items.append(sub)
    # Ids are handed out after the whole list is known to be a task list, in document order.
    return {"type": "taskList", "attrs": {"localId": ""}, "content": items}


def _number_tasks(node: Adf, ids: _Ids) -> None:
    if node["type"] in ("taskList", "taskItem"):
        node["attrs"]["localId"] = ids.next("task" if node["type"] == "taskItem" else "tasks")
    for child in node.get("content", []):
        if isinstance(child, dict):
            _number_tasks(child, ids)


# What ADF allows inside these containers; other blocks are flattened or downgraded.
_LIST_ITEM_BLOCKS = {"paragraph", "bulletList", "orderedList", "codeBlock", "taskList"}
_QUOTE_BLOCKS = {"paragraph", "bulletList", "orderedList", "codeBlock"}


def _fit(blocks: list[Adf], allowed: set[str]) -> list[Adf]:
    out: list[Adf] = []
    for b in blocks:
        if b["type"] in allowed:
            out.append(b)
        elif b["type"] == "heading":
            out.append({"type": "paragraph", "content": b.get("content", [])})
        elif b["type"] == "blockquote":
            out.extend(_fit(b.get("content", []), allowed))
        elif b["type"] == "taskList":
            out.append(_tasks_as_bullets(b))
        elif b["type"] == "rule":
            continue
        else:
            out.append({"type": "paragraph", "content": [_text(adf_to_text(b))]})
    return out


def _tasks_as_bullets(task_list: Adf) -> Adf:
    items: list[Adf] = []
    for child in task_list.get("content", []):
        if child["type"] == "taskItem":
            box = "[x] " if child.get("attrs", {}).get("state") == "DONE" else "[ ] "
            items.append(
                {
                    "type": "listItem",
                    "content": [
                        {
                            "type": "paragraph",
                            "content": _merge_texts([_text(box), *child.get("content", [])]),
                        }
                    ],
                }
            )
        elif items:
            items[-1]["content"].append(_tasks_as_bullets(child))
    return {"type": "bulletList", "content": items}


def _blocks(nodes: Iterable[SyntaxTreeNode], ids: _Ids) -> list[Adf]:
    out: list[Adf] = []
    for node in nodes:
        t = node.type
        if t == "paragraph":
            out.append(_paragraph(_inline_child(node)))
        elif t == "heading":
            level = int(node.tag[1])
            inline = _inline_child(node)
            out.append(
                {
                    "type": "heading",
                    "attrs": {"level": level},
                    "content": _inline(inline) if inline is not None else [],
                }
            )
        elif t == "bullet_list":
            tasks = _task_list(node)
            if tasks is not None:
                out.append(tasks)
            else:
                out.append({"type": "bulletList", "content": _list_items(node, ids)})
        elif t == "ordered_list":
            ordered: Adf = {"type": "orderedList", "content": _list_items(node, ids)}
            start = int(str(node.attrs.get("start", 1)))
            if start != 1:
                ordered["attrs"] = {"order": start}
            out.append(ordered)
        elif t in ("fence", "code_block"):
            code = node.content[:-1] if node.content.endswith("\n") else node.content
            block: Adf = {"type": "codeBlock", "content": [_text(code)] if code else []}
            language = node.info.strip().split(" ")[0] if t == "fence" else ""
            if language:
                block["attrs"] = {"language": language}
            out.append(block)
        elif t == "blockquote":
            out.append(
                {"type": "blockquote", "content": _fit(_blocks(node.children, ids), _QUOTE_BLOCKS)}
            )
        elif t == "hr":
            out.append({"type": "rule"})
        elif t == "table":
            out.append(_table(node))
        else:
            # html is disabled in the parser; anything else is kept as its source text.
            if node.content:
                out.append({"type": "paragraph", "content": [_text(node.content)]})
    return out


def _list_items(node: SyntaxTreeNode, ids: _Ids) -> list[Adf]:
    items: list[Adf] = []
    for item in node.children:
        content = _fit(_blocks(item.children, ids), _LIST_ITEM_BLOCKS)
        if not content or content[0]["type"] != "paragraph":
            # A list item must start with a paragraph in ADF.
            content.insert(0, {"type": "paragraph", "content": []})
        items.append({"type": "listItem", "content": content})
    return items


def _table(node: SyntaxTreeNode) -> Adf:
    rows: list[Adf] = []
    for section in node.children:
        for tr in section.children:
            cells: list[Adf] = []
            for cell in tr.children:
                inline = _inline_child(cell)
                cells.append(
                    {
                        "type": "tableHeader" if cell.type == "th" else "tableCell",
                        "attrs": {},
                        "content": [_paragraph(inline)],
                    }
                )
            rows.append({"type": "tableRow", "content": cells})
    return {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
        "content": rows,
    }


def markdown_to_adf(markdown: str) -> Adf:
    """Convert Markdown to an ADF document (``{"type": "doc", "version": 1, ...}``).

    ``@[Name](accountId:ID)`` becomes a mention; ``- [ ]``/``- [x]`` lists become task lists.
    Raises :class:`~jirabridge.errors.ValidationError` if ``markdown`` is not a string.
    """
    if not isinstance(markdown, str):
        raise ValidationError("Markdown must be a string")
    tree = SyntaxTreeNode(_parser.parse(markdown))
    ids = _Ids()
    content = _blocks(tree.children, ids)
    doc: Adf = {"type": "doc", "version": 1, "content": content}
    _number_tasks(doc, ids)
    return doc


# ============================================================================================
# ADF -> Markdown
# ============================================================================================

_ALWAYS_ESCAPE = re.compile(r"([\\`*\[\]<~])")
# "_" inside a word can neither open nor close emphasis, so snake_case stays readable.
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_LINE_START = re.compile(r"^(\s*)([#=+>-]|\d+(?=[.)]))")


def _escape(text: str, *, line_start: bool, in_table: bool = False) -> str:
    out = _ALWAYS_ESCAPE.sub(r"\\\1", text)
    out = _UNDERSCORE.sub(r"\\_", out)
    if in_table:
        out = out.replace("|", "\\|")
    out = _ENTITY.sub(r"\\&", out)
    if out.endswith("!"):
        # "!" just before a link's "[" would turn the link into an image.
        out = out[:-1] + "\\!"
    if line_start:
        m = _LINE_START.match(out)
        if m is not None:
            lead, token = m.group(1), m.group(2)
            if token[0].isdigit():
                # "1." or "1)" would start an ordered list: escape the delimiter.
                pos = len(lead) + len(token)
                out = out[:pos] + "\\" + out[pos:]
            else:
                out = f"{lead}\\{out[len(lead) :]}"
    return out


def _code_span(code: str) -> str:
    longest = max((len(r) for r in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    pad = (
        code.startswith("`")
        or code.endswith("`")
        or (code.startswith(" ") and code.endswith(" ") and code.strip(" ") != "")
    )
    inner = f" {code} " if pad else code
    return f"{fence}{inner}{fence}"


def _link_target(href: str) -> str:
    if re.search(r"[\s()<>]", href) or href == "":
        return "<" + href.replace("<", "%3C").replace(">", "%3E") + ">"
    return href


def _mark_key(mark: Adf) -> tuple[str, str]:
    return (mark["type"], str(mark.get("attrs", {}).get("href", "")))


def _open_mark(mark: Adf) -> str:
    if mark["type"] == "link":
        return "["
    return _SIMPLE_MARKS.get(mark["type"], "")


def _close_mark(mark: Adf) -> str:
    if mark["type"] == "link":
        return f"]({_link_target(str(mark.get('attrs', {}).get('href', '')))})"
    return _SIMPLE_MARKS.get(mark["type"], "")


def _render_inline(
    nodes: Sequence[Adf], *, in_table: bool = False, single_line: bool = False
) -> str:
    """Render inline nodes, nesting mark delimiters so the text parses back the same way."""
    out: list[str] = []
    stack: list[Adf] = []
    at_line_start = True

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            out.append(_close_mark(stack.pop()))

    for node in _merge_texts(nodes):
        t = node["type"]
        marks = [m for m in _sorted_marks(node.get("marks", [])) if m["type"] != "code"]
        if t != "text":
            marks = []
        # Keep the longest common prefix of open marks; close the rest.
        keep = 0
        wanted = [_mark_key(m) for m in marks]
        while keep < len(stack) and keep < len(marks) and _mark_key(stack[keep]) == wanted[keep]:
            keep += 1
        close_to(keep)
        if t == "text":
            text: str = node["text"]
            is_code = any(m["type"] == "code" for m in node.get("marks", []))
            core, lead, trail = text, "", ""
            if marks and not is_code and text.strip(" "):
                # Delimiters may not touch whitespace inside them; move edge spaces outside.
                core = text.strip(" ")
                lead = text[: len(text) - len(text.lstrip(" "))]
                trail = text[len(text.rstrip(" ")) :]
            opening = marks[len(stack) :]
            if opening:
                # Leading spaces go before the new delimiters, which may not be followed by one.
                out.append(lead)
                lead = ""
                for m in opening:
                    out.append(_open_mark(m))
                    stack.append(m)
            out.append(lead)
            if is_code:
                out.append(_code_span(core))
            else:
                out.append(
                    _escape(
                        core,
                        line_start=at_line_start and not stack and not lead,
                        in_table=in_table,
                    )
                )
            if trail:
                close_to(0)
                out.append(trail)
            at_line_start = False
        elif t == "hardBreak":
            close_to(0)
            flat = in_table or single_line
            out.append(" " if flat else "\\\n")
            at_line_start = not flat
        elif t == "mention":
            close_to(0)
            attrs = node.get("attrs", {})
            name = str(attrs.get("text", "")).removeprefix("@")
            out.append(
                f"@[{_escape(name, line_start=False)}]({_MENTION_SCHEME}{attrs.get('id', '')})"
            )
            at_line_start = False
        else:
            close_to(0)
            out.append(_escape(_inline_text(node), line_start=at_line_start))
            at_line_start = False
    close_to(0)
    return "".join(out)


def _indent(text: str, width: int) -> str:
    pad = " " * width
    return "\n".join(pad + line if line else line for line in text.split("\n"))


_BULLET_LIKE = ("bulletList", "taskList")


def _render_sequence(blocks: Sequence[Adf]) -> list[tuple[Adf, str]]:
    """Render sibling blocks. Two lists in a row would merge into one when parsed back, so the
    second uses the other bullet (``-``/``*``) or delimiter (``.``/``)``), which starts a new
    list in CommonMark."""
    out: list[tuple[Adf, str]] = []
    alternate = False
    prev: str | None = None
    for block in blocks:
        if not isinstance(block, dict):
            continue
        t = block.get("type")
        same_kind = (t in _BULLET_LIKE and prev in _BULLET_LIKE) or (
            t == "orderedList" and prev == "orderedList"
        )
        alternate = (not alternate) if same_kind else False
        rendered = _render_block(block, alternate=alternate)
        if rendered != "":
            out.append((block, rendered))
            prev = t
    return out


def _render_list_item(blocks: Sequence[Adf], marker: str) -> str:
    parts: list[str] = []
    for i, (block, rendered) in enumerate(_render_sequence(blocks)):
        if i == 0:
            parts.append(rendered)
            continue
        # A nested list may follow its paragraph directly (an ordered one only when it starts
        # at 1: others cannot interrupt a paragraph); other blocks need a blank line.
        tight = block["type"] in _BULLET_LIKE or (
            block["type"] == "orderedList" and block.get("attrs", {}).get("order", 1) == 1
        )
        sep = "\n" if tight else "\n\n"
        parts.append(sep + rendered)
    body = "".join(parts)
    first, _, rest = body.partition("\n")
    head = f"{marker} {first}".rstrip() if first else marker
    return head + ("\n" + _indent(rest, len(marker) + 1) if rest else "")


def _render_task_list(node: Adf, bullet: str) -> str:
    lines: list[str] = []
    for child in node.get("content", []):
        if child["type"] == "taskItem":
            box = "[x]" if child.get("attrs", {}).get("state") == "DONE" else "[ ]"
            text = _render_inline(child.get("content", []))
            first, _, rest = text.partition("\n")
            head = f"{bullet} {box} {first}".rstrip()
            lines.append(head + ("\n" + _indent(rest, 2) if rest else ""))
        elif child["type"] == "taskList":
            lines.append(_indent(_render_task_list(child, "-"), 2))
    return "\n".join(lines)


def _render_table(node: Adf) -> str:
    rows = [r for r in node.get("content", []) if r.get("type") == "tableRow"]
    if not rows:
        return ""

    def cell_text(cell: Adf) -> str:
        parts = [
            _render_inline(b.get("content", []), in_table=True)
            for b in cell.get("content", [])
            if isinstance(b, dict)
        ]
        return " ".join(p for p in parts if p)

    grid = [[cell_text(c) for c in r.get("content", [])] for r in rows]
    width = max(len(r) for r in grid)
    grid = [r + [""] * (width - len(r)) for r in grid]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line(grid[0]), line(["---"] * width), *(line(r) for r in grid[1:])])


def _render_block(node: Adf, *, alternate: bool = False) -> str:
    t = node.get("type")
    bullet = "*" if alternate else "-"
    content = node.get("content", [])
    if t == "paragraph":
        return _render_inline(content)
    if t == "heading":
        level = max(1, min(6, int(node.get("attrs", {}).get("level", 1))))
        text = _render_inline(content, single_line=True)
        # A trailing run of '#' would be read as the closing sequence of the heading.
        text = re.sub(r"(#+)$", lambda m: "\\" + m.group(1), text)
        return f"{'#' * level} {text}".rstrip()
    if t == "bulletList":
        return "\n".join(_render_list_item(i.get("content", []), bullet) for i in content)
    if t == "orderedList":
        start = int(node.get("attrs", {}).get("order", 1))
        delim = ")" if alternate else "."
        return "\n".join(
            _render_list_item(i.get("content", []), f"{start + n}{delim}")
            for n, i in enumerate(content)
        )
    if t == "taskList":
        return _render_task_list(node, bullet)
    if t == "codeBlock":
        code = "".join(c.get("text", "") for c in content)
        longest = max((len(r) for r in re.findall(r"`{3,}", code)), default=0)
        fence = "`" * max(3, longest + 1)
        language = node.get("attrs", {}).get("language") or ""
        return f"{fence}{language}\n{code}\n{fence}" if code else f"{fence}{language}\n{fence}"
    if t == "blockquote":
        inner = _render_blocks(content)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if t == "rule":
        return "---"
    if t == "table":
        return _render_table(node)
    if t in ("panel", "expand", "nestedExpand", "layoutSection", "layoutColumn", "bodiedExtension"):
        return _render_blocks(content)
    if t in ("mediaSingle", "mediaGroup", "media"):
        return ""
    # Unknown block: keep whatever text it carries.
    return _escape(adf_to_text(node), line_start=True)


def _render_blocks(nodes: Sequence[Adf]) -> str:
    return "\n\n".join(rendered for _, rendered in _render_sequence(nodes))


def adf_to_markdown(doc: Mapping[str, Any]) -> str:
    """Render an ADF document (or any ADF node) as Markdown.

    Nodes in the supported subset round-trip through :func:`markdown_to_adf`; others are
    rendered by their text. Raises :class:`~jirabridge.errors.ValidationError` for input that is
    not an ADF node.
    """
    _require_node(doc)
    try:
        if doc.get("type") == "doc":
            return _render_blocks(doc.get("content", []))
        if doc.get("type") in _INLINE_TYPES:
            return _render_inline([dict(doc)])
        return _render_block(dict(doc))
    except _MALFORMED as exc:
        raise _malformed(exc) from None


#: What walking a node of the wrong shape (a text node without text, attrs that are a list)
#: raises; the walkers trust shapes so the common case stays simple, and these become one
#: ValidationError at the entry points.
_MALFORMED = (KeyError, TypeError, AttributeError, ValueError, IndexError)


def _malformed(exc: BaseException) -> ValidationError:
    return ValidationError(f"not valid ADF: a node has the wrong shape ({type(exc).__name__})")


# ============================================================================================
# ADF -> plain text
# ============================================================================================

_INLINE_TYPES = {
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "placeholder",
    "mediaInline",
}


def _inline_text(node: Adf) -> str:
    t = node.get("type")
    attrs = node.get("attrs", {}) or {}
    if t == "text":
        return str(node.get("text", ""))
    if t == "hardBreak":
        return "\n"
    if t == "mention":
        return str(attrs.get("text") or f"@{attrs.get('id', '')}")
    if t == "emoji":
        return str(attrs.get("text") or attrs.get("shortName", ""))
    if t == "inlineCard":
        return str(attrs.get("url", ""))
    if t == "status":
        return str(attrs.get("text", ""))
    if t == "date":
        return _date_text(attrs.get("timestamp"))
    return "".join(_inline_text(c) for c in node.get("content", []) if isinstance(c, dict))


def _date_text(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError):
        return str(timestamp or "")


def _plain_inline(nodes: Sequence[Adf]) -> list[str]:
    return [_inline_text(n) for n in nodes]


def _text_block(node: Adf) -> str:
    t = node.get("type")
    content = [c for c in node.get("content", []) if isinstance(c, dict)]
    if t in ("paragraph", "heading") or t in _INLINE_TYPES:
        return "".join(_plain_inline(content)) if t not in _INLINE_TYPES else _inline_text(node)
    if t in ("bulletList", "orderedList"):
        start = int(node.get("attrs", {}).get("order", 1))
        lines = []
        for n, item in enumerate(content):
            marker = "-" if t == "bulletList" else f"{start + n}."
            body = "\n".join(_text_block(b) for b in item.get("content", []))
            first, _, rest = body.partition("\n")
            lines.append(
                f"{marker} {first}" + ("\n" + _indent(rest, len(marker) + 1) if rest else "")
            )
        return "\n".join(lines)
    if t == "taskList":
        lines = []
        for child in content:
            if child.get("type") == "taskItem":
                box = "[x]" if child.get("attrs", {}).get("state") == "DONE" else "[ ]"
                lines.append(f"{box} {''.join(_plain_inline(child.get('content', [])))}".rstrip())
            else:
                lines.append(_indent(_text_block(child), 2))
        return "\n".join(lines)
    if t == "codeBlock":
        return "".join(c.get("text", "") for c in content)
    if t == "rule":
        return "---"
    if t == "table":
        rows = []
        for row in content:
            cells = [
                " ".join(_text_block(b) for b in cell.get("content", []))
                for cell in row.get("content", [])
            ]
            rows.append(" | ".join(cells))
        return "\n".join(rows)
    return "\n\n".join(s for s in (_text_block(c) for c in content) if s)


def adf_to_text(doc: Mapping[str, Any]) -> str:
    """Render ADF as plain text: blocks separated by a blank line, marks dropped.

    Lists keep ``-``/``1.`` markers and tasks ``[ ]``/``[x]``; mentions read ``@Name``; table
    cells are joined with `` | ``. Meant for previews, search and notifications.
    """
    _require_node(doc)
    try:
        if doc.get("type") == "doc":
            blocks = [c for c in doc.get("content", []) if isinstance(c, dict)]
            return "\n\n".join(s for s in (_text_block(b) for b in blocks) if s)
        return _text_block(dict(doc))
    except _MALFORMED as exc:
        raise _malformed(exc) from None


# ============================================================================================
# Validation
# ============================================================================================

_INLINE_CONTENT = _INLINE_TYPES
_CELL_BLOCKS = {
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "taskList",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "mediaSingle",
    "mediaGroup",
}
_ALLOWED_CHILDREN: dict[str, set[str]] = {
    "doc": _CELL_BLOCKS
    | {
        "table",
        "expand",
        "decisionList",
        "blockCard",
        "embedCard",
        "layoutSection",
        "extension",
        "bodiedExtension",
    },
    "paragraph": _INLINE_CONTENT,
    "heading": _INLINE_CONTENT,
    "bulletList": {"listItem"},
    "orderedList": {"listItem"},
    "listItem": _LIST_ITEM_BLOCKS | {"mediaSingle"},
    "taskList": {"taskItem", "taskList"},
    "taskItem": _INLINE_CONTENT,
    "codeBlock": {"text"},
    "blockquote": _QUOTE_BLOCKS | {"mediaSingle", "mediaGroup"},
    "table": {"tableRow"},
    "tableRow": {"tableHeader", "tableCell"},
    "tableHeader": _CELL_BLOCKS,
    "tableCell": _CELL_BLOCKS,
}
_KNOWN_MARKS = {
    "strong",
    "em",
    "strike",
    "code",
    "link",
    "underline",
    "subsup",
    "textColor",
    "backgroundColor",
}


def _require_node(node: Any) -> None:
    if not isinstance(node, Mapping) or not isinstance(node.get("type"), str):
        raise ValidationError("ADF must be a JSON object with a 'type'")


def _check(node: Any, path: str, problems: list[str]) -> None:
    if not isinstance(node, Mapping) or not isinstance(node.get("type"), str):
        problems.append(f"{path}: not an ADF node")
        return
    t = node["type"]
    if t == "text":
        if not isinstance(node.get("text"), str) or node["text"] == "":
            problems.append(f"{path}: text node needs non-empty 'text'")
        kinds = [m.get("type") for m in node.get("marks", []) if isinstance(m, Mapping)]
        unknown = [k for k in kinds if k not in _KNOWN_MARKS]
        if unknown:
            problems.append(f"{path}: unknown marks {unknown}")
        if "code" in kinds and set(kinds) - {"code", "link"}:
            problems.append(f"{path}: the code mark combines only with link")
        if len(kinds) != len(set(kinds)):
            problems.append(f"{path}: a mark appears twice")
        for m in node.get("marks", []):
            if (
                isinstance(m, Mapping)
                and m.get("type") == "link"
                and not isinstance(m.get("attrs", {}).get("href"), str)
            ):
                problems.append(f"{path}: link mark needs attrs.href")
        return
    allowed = _ALLOWED_CHILDREN.get(t)
    content = node.get("content", [])
    if not isinstance(content, list):
        problems.append(f"{path}: 'content' must be a list")
        return
    if allowed is not None:
        for i, child in enumerate(content):
            ctype = child.get("type") if isinstance(child, Mapping) else None
            if ctype not in allowed:
                problems.append(f"{path}.content[{i}]: {ctype!r} is not allowed in {t}")
    if t in ("bulletList", "orderedList", "taskList", "table", "tableRow") and not content:
        problems.append(f"{path}: {t} must not be empty")
    if t == "listItem" and (not content or content[0].get("type") != "paragraph"):
        problems.append(f"{path}: listItem must start with a paragraph")
    if t == "heading" and node.get("attrs", {}).get("level") not in range(1, 7):
        problems.append(f"{path}: heading level must be 1-6")
    if t in ("taskList", "taskItem") and not isinstance(node.get("attrs", {}).get("localId"), str):
        problems.append(f"{path}: {t} needs attrs.localId")
    if t == "taskItem" and node.get("attrs", {}).get("state") not in ("TODO", "DONE"):
        problems.append(f"{path}: taskItem state must be TODO or DONE")
    if t == "mention" and not isinstance(node.get("attrs", {}).get("id"), str):
        problems.append(f"{path}: mention needs attrs.id")
    for i, child in enumerate(content):
        _check(child, f"{path}.content[{i}]", problems)


def validate_adf(doc: Any) -> None:
    """Check that ``doc`` is an ADF document whose structure Jira will accept.

    Covers the node types this module produces (and the common others at block level): the
    ``doc``/``version`` envelope, which children each node may hold, non-empty text, known
    marks and the ``code``-mark restriction, list and task attributes. Raises
    :class:`~jirabridge.errors.ValidationError` with every problem in ``details["problems"]``.
    """
    problems: list[str] = []
    if not isinstance(doc, Mapping) or doc.get("type") != "doc":
        problems.append("top level must be {'type': 'doc', ...}")
    elif doc.get("version") != 1:
        problems.append("doc.version must be 1")
    else:
        try:
            _check(doc, "doc", problems)
        except _MALFORMED as exc:
            problems.append(f"a node has the wrong shape ({type(exc).__name__})")
    if problems:
        raise ValidationError(
            f"not valid ADF: {problems[0]}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
            details={"problems": problems},
        )


# ============================================================================================
# Acceptance criteria
# ============================================================================================


def _criterion_inline(text: str) -> list[Adf]:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("an acceptance criterion must be non-empty text")
    tokens = _parser.parseInline(text.strip())
    tree = SyntaxTreeNode(tokens)
    inline = next((c for c in tree.children if c.type == "inline"), None)
    return _inline(inline) if inline is not None else [_text(text.strip())]


#: An acceptance criterion: its text (inline Markdown), or ``(text, done)``.
Criterion = str | tuple[str, bool]


def _criteria(items: Sequence[Criterion]) -> list[tuple[str, bool]]:
    if isinstance(items, str):
        raise ValidationError("acceptance criteria must be a list of strings, not one string")
    out: list[tuple[str, bool]] = []
    for item in items:
        text, done = (item, False) if isinstance(item, str) else item
        out.append((text, bool(done)))
    return out


def acceptance_criteria_adf(
    criteria: Sequence[Criterion],
    *,
    style: Literal["tasks", "bullets"] = "tasks",
    heading: str | None = "Acceptance criteria",
    heading_level: int = 3,
) -> Adf:
    """Render acceptance criteria as an ADF document for a Cloud description.

    ``criteria`` are strings (inline Markdown allowed: ``**``, `` ` ``, links) or
    ``(text, done)`` pairs. ``style="tasks"`` gives a task list with check boxes (done ones
    ticked); ``"bullets"`` a bullet list. ``heading=None`` leaves the heading out.
    """
    pairs = _criteria(criteria)
    content: list[Adf] = []
    if heading:
        content.append(
            {"type": "heading", "attrs": {"level": heading_level}, "content": [_text(heading)]}
        )
    if pairs:
        if style == "tasks":
            items = [
                {
                    "type": "taskItem",
                    "attrs": {"localId": "", "state": "DONE" if done else "TODO"},
                    "content": _criterion_inline(text),
                }
                for text, done in pairs
            ]
            content.append({"type": "taskList", "attrs": {"localId": ""}, "content": items})
        elif style == "bullets":
            content.append(
                {
                    "type": "bulletList",
                    "content": [
                        {
                            "type": "listItem",
                            "content": [{"type": "paragraph", "content": _criterion_inline(t)}],
                        }
                        for t, _ in pairs
                    ],
                }
            )
        else:
            raise ValidationError("style must be 'tasks' or 'bullets'")
    doc: Adf = {"type": "doc", "version": 1, "content": content}
    _number_tasks(doc, _Ids())
    return doc


_WIKI_ESCAPE = re.compile(r"([\\*_{}\[\]|])")


def _wiki_inline(nodes: Sequence[Adf]) -> str:
    out: list[str] = []
    for node in nodes:
        t = node.get("type")
        if t == "hardBreak":
            out.append("\\\\ ")
            continue
        if t == "mention":
            out.append(f"[~accountid:{node.get('attrs', {}).get('id', '')}]")
            continue
        if t != "text":
            out.append(_WIKI_ESCAPE.sub(r"\\\1", _inline_text(node)))
            continue
        marks = {m["type"]: m for m in node.get("marks", [])}
        text = str(node["text"])
        piece = "{{" + text + "}}" if "code" in marks else _WIKI_ESCAPE.sub(r"\\\1", text)
        for kind, wrap in (("strike", "-"), ("em", "_"), ("strong", "*")):
            if kind in marks:
                piece = f"{wrap}{piece}{wrap}"
        if "link" in marks:
            piece = f"[{piece}|{marks['link'].get('attrs', {}).get('href', '')}]"
        out.append(piece)
    return "".join(out)


def acceptance_criteria_wiki(
    criteria: Sequence[Criterion],
    *,
    heading: str | None = "Acceptance criteria",
    heading_level: int = 3,
) -> str:
    """Render acceptance criteria as Jira wiki markup (Server/Data Center, REST v2).

    Wiki markup has no check boxes: each criterion is a ``*`` bullet, and a done one starts with
    the ``(/)`` tick icon. Inline Markdown in the criteria becomes wiki marks (``*bold*``,
    ``_em_``, ``-strike-``, ``{{code}}``, ``[text|url]``).
    """
    pairs = _criteria(criteria)
    lines: list[str] = []
    if heading:
        lines.append(f"h{heading_level}. {heading}")
    for text, done in pairs:
        lines.append(f"* {'(/) ' if done else ''}{_wiki_inline(_criterion_inline(text))}")
    return "\n".join(lines)
