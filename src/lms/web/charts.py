"""Server-side SVG charts of the design system: readable without colour (series differ by line style
and marker, bars carry their value as text), with a title and description for screen readers; every
chart is shown next to a table of the same numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
STYLES = (
    ("var(--brand-primary, #1f4e9c)", "", "circle"),
    ("#6b4c00", "6 4", "square"),
)


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


# Past this many points a line carries no markers (they would touch); the dash still tells series apart.
MARKERS_UP_TO = 31


def _nice_max(value: float) -> float:
    """The axis top: the value rounded up to its leading digit (100 stays 100, 101 becomes 200), and even,
    so the middle grid line is a whole number too."""
    if value <= 0:
        return 2.0
    step = 10 ** (len(str(int(value))) - 1)
    top = -(-math.ceil(value) // step) * step
    return float(top + 1 if top % 2 else top)


def line_chart(title: str, labels: list[str], series: list[Series], chart_id: str) -> str:
    """Lines over the labels (dates); at most two series, told apart by dash and marker shape."""
    top = _nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [_frame(title, chart_id, top, plot_w, plot_h)]
    # At most five labels, the first and the last among them, anchored inside the frame so none is cut off.
    shown = sorted({round(k * (len(labels) - 1) / 4) for k in range(5)}) if len(labels) > 5 else range(len(labels))
    for i in shown:
        anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"
        parts.append(_text(x(i), HEIGHT - 18, labels[i], "chart-axis", anchor))
    markers = count <= MARKERS_UP_TO
    for index, s in enumerate(series[:2]):
        colour, dash, marker = STYLES[index]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for i, v in enumerate(s.values if markers else []):
            parts.append(_marker(marker, x(i), y(v), colour, 3))
        legend_x = LEFT + index * 200
        # The legend shows the line as drawn: its dash, and its marker when the lines carry them.
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 24}" y1="{HEIGHT - 4}" y2="{HEIGHT - 4}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>'
        )
        parts.append(_marker(marker, legend_x + 12, HEIGHT - 4, colour, 4))
        parts.append(f'<text x="{legend_x + 30}" y="{HEIGHT}" class="chart-legend">{escape(s.name)}</text>')
    return _svg(parts, title, chart_id, HEIGHT + 4)  # room for the legend's descenders


def _marker(shape: str, cx: float, cy: float, colour: str, radius: int) -> str:
    if shape == "circle":
        return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" fill="{colour}"/>'
    side = 2 * radius
    return f'<rect x="{cx - radius:.1f}" y="{cy - radius:.1f}" width="{side}" height="{side}" fill="{colour}"/>'


def bar_chart(title: str, labels: list[str], values: list[float], chart_id: str, suffix: str = "") -> str:
    """Horizontal bars, one a row, each with its label and value written out."""
    row = 26
    height = TOP + row * max(len(labels), 1) + 8
    top = _nice_max(max(values, default=0))
    label_w = 200
    plot_w = WIDTH - label_w - 70
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + i * row
        width = plot_w * value / top if top else 0
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="chart-axis">{escape(short)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="16" fill="{STYLES[0][0]}"/>')
        value_text = f"{value:g}{suffix}"
        parts.append(
            f'<text x="{label_w + width + 6:.1f}" y="{y + 15}" class="chart-value">{escape(value_text)}</text>'
        )
    return _svg(parts, title, chart_id, height)


def _frame(title: str, chart_id: str, top: float, plot_w: float, plot_h: float) -> str:
    lines = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h - plot_h * fraction
        lines.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="chart-grid"/>')
        lines.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-axis">{top * fraction:g}</text>'
        )
    return "".join(lines)


def _svg(parts: list[str], title: str, chart_id: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-title" '
        f'preserveAspectRatio="xMinYMin meet"><title id="{chart_id}-title">{escape(title)}</title>'
        f"{''.join(parts)}</svg>"
    )


def _text(x: float, y: float, content: str, kind: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{kind}">{escape(content)}</text>'
