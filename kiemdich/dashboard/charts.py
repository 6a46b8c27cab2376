"""Bar charts drawn on the server as SVG: no chart library, readable at phone width, numbers in the markup."""
import math
from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 30, 4, 16, 22


def nice_step(top: int, ticks: int = 4) -> int:
    """A round grid step (1, 2, 5 x 10^k) so that `ticks` steps reach `top`."""
    raw = max(top / ticks, 1)
    magnitude = 10 ** int(math.floor(math.log10(raw)))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def stacked_bars(chart_id: str, title: str, days: list[date], series: list[tuple[str, str, str]],
                 values: dict, href=None, note: str = "") -> Markup:
    """One stacked bar per day; series = [(key, label, css class)], values = {day: {key: n}}.

    Every bar is a <g class="bar" data-day="YYYY-MM-DD" data-total="n"> holding one <rect
    data-series data-value> per non-zero series, so the chart can be checked against the table.
    `href(day)` makes each bar a link to the list behind it.
    """
    totals = [sum(values[d].get(k, 0) for k, _l, _c in series) for d in days]
    step = nice_step(max(totals + [1]))
    top = step * max(1, math.ceil(max(totals + [1]) / step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.72, 1.5)
    label_every = max(1, math.ceil(len(days) / 7))
    show_values = len(days) <= 16

    def y(n: float) -> float:
        return TOP + plot_h - plot_h * n / top

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d">',
           f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(note)}</desc>']
    for n in range(0, top + 1, step):
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(n):.1f}" y2="{y(n):.1f}"/>'
                   f'<text class="ytick" x="{LEFT - 4}" y="{y(n) + 3.5:.1f}">{n}</text>')
    for i, (day, total) in enumerate(zip(days, totals)):
        x = LEFT + i * slot + (slot - bar_w) / 2
        parts = [f'<g class="bar" data-day="{day.isoformat()}" data-total="{total}">',
                 f'<title>{day:%d/%m}: ' + escape(", ".join(f"{label} {values[day].get(k, 0)}"
                                                           for k, label, _c in series)) + "</title>"]
        base = 0
        for key, _label, css in series:
            n = values[day].get(key, 0)
            if n:
                parts.append(f'<rect class="{css}" x="{x:.1f}" y="{y(base + n):.1f}" width="{bar_w:.1f}" '
                             f'height="{y(base) - y(base + n):.1f}" data-series="{key}" data-value="{n}"/>')
                base += n
        if show_values and total:
            parts.append(f'<text class="v" x="{x + bar_w / 2:.1f}" y="{y(total) - 3:.1f}">{total}</text>')
        parts.append("</g>")
        bar = "".join(parts)
        if href is not None and total:
            bar = f'<a href="{escape(href(day))}" tabindex="-1">{bar}</a>'
        out.append(bar)
        if i % label_every == 0:
            out.append(f'<text class="xtick" x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - 6}">{day:%d/%m}</text>')
    out.append("</svg>")
    return Markup("".join(out))
