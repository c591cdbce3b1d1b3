"""Server-side SVG charts for the supervisor's statistics: plain markup, nothing to download or run in
the browser, no inline style (the CSP forbids it: colours are SVG presentation attributes)."""
from __future__ import annotations

from markupsafe import Markup, escape

# Colour-blind-safe (Okabe-Ito), each at least 3:1 against white for the bars' meaning.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00")


def grouped_bars(title: str, periods: list[str], series: list[tuple[str, list[int]]], width: int = 960,
                 height: int = 320) -> Markup:
    """Bars per period, one per series, with a y axis of round steps; the table beside it carries the numbers."""
    left, right, top, bottom = 48, 12, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, values in series for v in values] + [1])
    step = nice_step(peak)
    top_value = step * -(-peak // step)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{escape(title)}</title>']
    for tick in range(0, top_value + 1, step):
        y = top + plot_h - plot_h * tick / top_value
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    group_w = plot_w / max(1, len(periods))
    bar_w = max(1.0, (group_w * 0.8) / max(1, len(series)))
    label_every = max(1, -(-len(periods) // 12))  # at most 12 labels on the axis
    for i, period in enumerate(periods):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top_value
            out.append(f'<rect x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(period)} · '
                       f'{escape(name)}: {value}</title></rect>')
        if i % label_every == 0:
            out.append(f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{height - bottom + 18}" '
                       f'text-anchor="middle">{escape(short(period))}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#1a1a1a"/>')
    out.append("</svg>")
    return Markup("".join(out))


def nice_step(peak: int) -> int:
    """1, 2 or 5 times a power of ten, so that the axis has at most 5 steps."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if peak <= 5 * factor * magnitude:
                return factor * magnitude
        magnitude *= 10


def short(period: str) -> str:
    """2026-12-03 -> 03-12; 2026-12 -> 12-2026; 2026 stays."""
    parts = period.split("-")
    if len(parts) == 3:
        return f"{parts[2]}-{parts[1]}"
    if len(parts) == 2:
        return f"{parts[1]}-{parts[0]}"
    return period
