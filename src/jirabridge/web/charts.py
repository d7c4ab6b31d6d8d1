"""Server-side SVG charts: grouped bars, lines and a histogram, with no script and no network.

Each function returns one ``<svg>`` element as a string, safe to put in a page with
``|safe``: every label is escaped here. Shapes carry ``data-*`` attributes with their values
so tests (and curious users) can read the numbers back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "bar_chart", "histogram_chart", "line_chart"]

_W, _H = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 16, 48
_COLOURS = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed")


@dataclass(frozen=True)
class Series:
    """One named series of values (None: no value at that position)."""

    name: str
    values: Sequence[float | None]
    dashed: bool = False


def _fmt(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = float(10 ** (len(str(int(value))) - 1))
    top = step
    while top < value:
        top += step
    return top


def _frame(title: str, top: float, labels: Sequence[str], slot: float, kind: str) -> list[str]:
    plot_h = _H - _TOP - _BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
        f'class="chart chart-{kind}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = top * i / 4
        y = _TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" stroke="#e5e7eb"/>'
        )
        out.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#6b7280">{_fmt(value)}</text>'
        )
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = _LEFT + slot * (i + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" font-size="11" text-anchor="middle" '
            f'fill="#374151">{escape(label)}</text>'
        )
    return out


def _legend(series: Sequence[Series]) -> list[str]:
    out = []
    for n, s in enumerate(series):
        x = _LEFT + n * 150
        colour = _COLOURS[n % len(_COLOURS)]
        out.append(
            f'<rect x="{x}" y="{_H - 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{_H - 9}" font-size="11" fill="#374151">{escape(s.name)}</text>'
        )
    return out


def _peak(series: Sequence[Series]) -> float:
    return max((v for s in series for v in s.values if v is not None), default=0.0)


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """Grouped bars: one group per label, one bar per series."""
    if not labels:
        return _empty(title)
    top = _nice_max(_peak(series))
    slot = (_W - _LEFT - _RIGHT) / len(labels)
    plot_h = _H - _TOP - _BOTTOM
    bar_w = slot * 0.8 / max(1, len(series))
    out = _frame(title, top, labels, slot, "bar")
    for n, s in enumerate(series):
        colour = _COLOURS[n % len(_COLOURS)]
        for i, value in enumerate(s.values):
            if value is None:
                continue
            h = plot_h * value / top
            x = _LEFT + slot * i + slot * 0.1 + bar_w * n
            out.append(
                f'<rect class="bar" data-series="{escape(s.name)}" data-label="'
                f'{escape(labels[i])}" data-value="{_fmt(value)}" x="{x:.1f}" '
                f'y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(s.name)}: {_fmt(value)}</title></rect>'
            )
    out.extend(_legend(series))
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """Lines over the labels (burndown, burnup); a dashed series draws the ideal line."""
    if not labels:
        return _empty(title)
    top = _nice_max(_peak(series))
    slot = (_W - _LEFT - _RIGHT) / len(labels)
    plot_h = _H - _TOP - _BOTTOM
    out = _frame(title, top, labels, slot, "line")
    for n, s in enumerate(series):
        colour = _COLOURS[n % len(_COLOURS)]
        points = [
            (_LEFT + slot * (i + 0.5), _TOP + plot_h - plot_h * v / top, v)
            for i, v in enumerate(s.values)
            if v is not None
        ]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        out.append(
            f'<polyline class="line" data-series="{escape(s.name)}" points="{path}" '
            f'fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        for x, y, v in points:
            out.append(
                f'<circle class="point" data-series="{escape(s.name)}" data-value="{_fmt(v)}" '
                f'cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
            )
    out.extend(_legend(series))
    out.append("</svg>")
    return "".join(out)


def histogram_chart(title: str, counts: dict[int, int], unit: str = "d") -> str:
    """Counts per whole unit, with empty buckets between the smallest and largest shown."""
    if not counts:
        return _empty(title)
    low, high = min(counts), max(counts)
    labels = [f"{k}{unit}" for k in range(low, high + 1)]
    values: list[float | None] = [float(counts.get(k, 0)) for k in range(low, high + 1)]
    return bar_chart(title, labels, [Series("issues", values)])


def _empty(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} 60" class="chart chart-empty"'
        f' role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="{_W / 2}" y="34" text-anchor="middle" fill="#6b7280">No data</text></svg>'
    )
