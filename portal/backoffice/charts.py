"""Charts drawn on the server as inline SVG: no script, readable without colour.

Each chart is an image to assistive technology (``role="img"``, named by its ``<title>``
and described by its ``<desc>``), and the page puts a table of the same figures next to it.
Every series has a colour with a contrast of at least 3:1 against white *and* its own
pattern (solid, stripes, dots), every bar carries its value as text, and a legend names
the series, so nothing is told by colour alone.

Only the drawing lives here; the figures come from ``portal.backoffice.reports``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Series colours (contrast against white: 5.2, 4.7 and 10.1 to 1) and their patterns.
PALETTE = (("#1d70b8", "solid"), ("#b35c00", "stripes"), ("#4c2c92", "dots"))
TEXT = "#0b0c0c"
GRID = "#b1b4b6"  # decorative only: the values are written on the bars
FONT_SIZE = 14
SMALL = 12
#: The page's font stack (GOV.UK's classes set it on text elements, not on the body an
#: inline SVG inherits from), with Chinese fonts for Chinese labels.
FONT_FAMILY = ("'Noto Sans', 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans CJK TC', "
               "'Noto Sans TC', 'PingFang HK', 'Microsoft JhengHei', sans-serif")


@dataclass(frozen=True)
class Series:
    """One set of values drawn in one style, named in the legend."""

    label: str
    values: Sequence[float]


def _fmt(value: float) -> str:
    return f"{value:g}"


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio of ``#rrggbb`` against white."""

    def channel(part: str) -> float:
        c = int(part, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """A rough width of ``text`` in pixels: wide (CJK) characters count a full em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.58
               for ch in text)


def _shorten(text: str, width: float, size: float = FONT_SIZE) -> str:
    """``text`` cut with an ellipsis to fit ``width`` (the table gives it in full)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def nice_scale(maximum: float, ticks: int = 5) -> tuple[float, float]:
    """A round top of the axis at or above ``maximum`` and the step between its ticks."""
    if maximum <= 0:
        return 1.0, 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if step < 1 and float(maximum).is_integer():
        step = 1.0  # counts: no ticks at halves
    return step * math.ceil(maximum / step), step


def _defs(chart_id: str, count: int) -> str:
    parts = []
    for index in range(count):
        colour, pattern = PALETTE[index % len(PALETTE)]
        pid = f"{chart_id}-fill-{index}"
        if pattern == "stripes":
            parts.append(
                f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="8" height="8" '
                f'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/>'
                f'<rect width="4" height="8" fill="{colour}"/></pattern>')
        elif pattern == "dots":
            parts.append(
                f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6">'
                f'<rect width="6" height="6" fill="#ffffff"/>'
                f'<circle cx="3" cy="3" r="2" fill="{colour}"/></pattern>')
    return f"<defs>{''.join(parts)}</defs>" if parts else ""


def _fill(chart_id: str, index: int) -> tuple[str, str]:
    """The ``fill`` and ``stroke`` of series ``index`` (patterns keep a solid outline)."""
    colour, pattern = PALETTE[index % len(PALETTE)]
    return (colour if pattern == "solid" else f"url(#{chart_id}-fill-{index})"), colour


def _open(chart_id: str, title: str, description: str, width: int, height: int,
          series_count: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="portal-chart" id="{chart_id}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{FONT_FAMILY}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        _defs(chart_id, series_count),
    ]


def _legend(chart_id: str, series: Sequence[Series], x: float, y: float) -> list[str]:
    """Swatches with the series' names in one row from (``x``, ``y``)."""
    parts = []
    for index, item in enumerate(series):
        fill, stroke = _fill(chart_id, index)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="16" height="16" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="1.5"/>')
        parts.append(f'<text x="{x + 22:.1f}" y="{y + 13:.1f}" font-size="{FONT_SIZE}" '
                     f'fill="{TEXT}">{escape(item.label)}</text>')
        x += 22 + text_width(item.label) + 24
    return parts


def horizontal_bar_chart(chart_id: str, *, title: str, description: str,
                         categories: Sequence[str], series: Sequence[Series],
                         format_value: Callable[[float], str] = _fmt,
                         width: int = 640) -> Markup:
    """One row per category, one bar per series in it, each bar labelled with its value."""
    if not series or any(len(s.values) != len(categories) for s in series):
        raise ValueError("every series needs one value per category")
    bar, gap, group_gap = 20, 4, 16
    legend = 30 if len(series) > 1 else 0
    label_width = min(max((text_width(c) for c in categories), default=0) + 12, width * 0.4)
    left, right, top, axis = label_width, 64, 8 + legend, 28
    group = len(series) * bar + (len(series) - 1) * gap
    height = int(top + len(categories) * (group + group_gap) + axis)
    plot = width - left - right
    top_value, step = nice_scale(max((v for s in series for v in s.values), default=0))
    parts = _open(chart_id, title, description, width, height, len(series))
    if legend:
        parts += _legend(chart_id, series, left, 6)
    bottom = height - axis
    tick = 0.0
    while tick <= top_value + 1e-9:
        x = left + plot * tick / top_value
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 18}" font-size="{SMALL}" '
                     f'text-anchor="middle" fill="{TEXT}">{escape(format_value(tick))}</text>')
        tick += step
    for row, category in enumerate(categories):
        y0 = top + row * (group + group_gap) + group_gap / 2
        parts.append(f'<text class="portal-chart__label" x="{left - 8:.1f}" '
                     f'y="{y0 + group / 2 + 5:.1f}" font-size="{FONT_SIZE}" '
                     f'text-anchor="end" fill="{TEXT}">'
                     f'{escape(_shorten(category, label_width - 12))}</text>')
        for index, item in enumerate(series):
            value = item.values[row]
            y = y0 + index * (bar + gap)
            length = plot * value / top_value
            fill, stroke = _fill(chart_id, index)
            parts.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="{length:.1f}" '
                         f'height="{bar}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
            parts.append(f'<text class="portal-chart__value" x="{left + length + 6:.1f}" '
                         f'y="{y + bar / 2 + 5:.1f}" font-size="{SMALL}" fill="{TEXT}">'
                         f'{escape(format_value(value))}</text>')
    parts.append(f'<line x1="{left:.1f}" y1="{top}" x2="{left:.1f}" y2="{bottom}" '
                 f'stroke="{TEXT}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def column_chart(chart_id: str, *, title: str, description: str,
                 categories: Sequence[str], series: Sequence[Series],
                 format_value: Callable[[float], str] = _fmt,
                 width: int = 640, height: int = 300) -> Markup:
    """Columns side by side for each category (weeks along the bottom), values on top."""
    if not series or any(len(s.values) != len(categories) for s in series):
        raise ValueError("every series needs one value per category")
    legend = 30 if len(series) > 1 else 0
    left, right, top, bottom_space = 40, 8, 12 + legend, 40
    plot_w, plot_h = width - left - right, height - top - bottom_space
    bottom = top + plot_h
    slot = plot_w / max(len(categories), 1)
    column = min(24.0, (slot - 8) / len(series))
    top_value, step = nice_scale(max((v for s in series for v in s.values), default=0))
    parts = _open(chart_id, title, description, width, height, len(series))
    if legend:
        parts += _legend(chart_id, series, left, 6)
    tick = 0.0
    while tick <= top_value + 1e-9:
        y = bottom - plot_h * tick / top_value
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="{SMALL}" '
                     f'text-anchor="end" fill="{TEXT}">{escape(format_value(tick))}</text>')
        tick += step
    for col, category in enumerate(categories):
        x0 = left + col * slot + (slot - column * len(series)) / 2
        for index, item in enumerate(series):
            value = item.values[col]
            h = plot_h * value / top_value
            x = x0 + index * column
            fill, stroke = _fill(chart_id, index)
            parts.append(f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{column - 2:.1f}" '
                         f'height="{h:.1f}" fill="{fill}" stroke="{stroke}" '
                         f'stroke-width="1.5"/>')
            parts.append(f'<text class="portal-chart__value" x="{x + (column - 2) / 2:.1f}" '
                         f'y="{bottom - h - 4:.1f}" font-size="{SMALL - 2}" '
                         f'text-anchor="middle" fill="{TEXT}">'
                         f'{escape(format_value(value))}</text>')
        parts.append(f'<text class="portal-chart__label" x="{left + col * slot + slot / 2:.1f}" '
                     f'y="{bottom + 18}" font-size="{SMALL - 1}" text-anchor="middle" '
                     f'fill="{TEXT}">'
                     f'{escape(_shorten(category, slot, SMALL - 1))}</text>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" '
                 f'stroke="{TEXT}" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
