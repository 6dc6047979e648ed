"""The overview's chart, drawn on the server as SVG: no chart library, no CDN, nothing to run in the browser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

#: outcome (as the store reports it) → (label, CSS class): the chart's series, bottom to top.
SERIES = (("invoicing", "accepted", "accepted"), ("rejected", "rejected", "rejected"),
          ("needs_review", "needs review", "review"))


@dataclass(frozen=True)
class Hour:
    start: datetime  # UTC
    counts: dict[str, int]  # outcome → orders

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def hourly(rows: list[tuple[str, str, int]], now: datetime, hours: int = 24) -> list[Hour]:
    """``hours`` buckets ending with the current hour, filled from ``order_activity`` rows (missing hours are 0)."""
    top = now.replace(minute=0, second=0, microsecond=0)
    starts = [top - timedelta(hours=hours - 1 - n) for n in range(hours)]
    by_key: dict[str, dict[str, int]] = {start.strftime("%Y-%m-%dT%H"): {} for start in starts}
    for hour, outcome, count in rows:
        if hour in by_key:
            by_key[hour][outcome] = by_key[hour].get(outcome, 0) + count
    return [Hour(start, by_key[start.strftime("%Y-%m-%dT%H")]) for start in starts]


def bar_chart(hours: list[Hour], label: Callable[[datetime], str], width: int = 720, height: int = 180) -> Markup:
    """Stacked bars, one per hour, each segment titled with its count (shown on hover and read by screen readers)."""
    pad_left, pad_bottom, pad_top = 28, 22, 8
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    peak = max([h.total for h in hours] + [1])
    step = plot_w / max(1, len(hours))
    bar_w = max(2.0, step * 0.7)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" preserveAspectRatio="none" '
             f'aria-label="Orders per hour over the last {len(hours)} hours, by outcome">']
    for fraction in (0.0, 0.5, 1.0):
        y = pad_top + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{pad_left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{pad_left - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{round(peak * fraction)}</text>')
    for n, hour in enumerate(hours):
        x = pad_left + n * step + (step - bar_w) / 2
        y = pad_top + plot_h
        for outcome, name, css in SERIES:
            count = hour.counts.get(outcome, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            title = escape(f"{label(hour.start)}: {count} {name}")
            parts.append(f'<rect class="bar {css}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                         f"<title>{title}</title></rect>")
        if n % 3 == 0:
            parts.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                         f"{escape(label(hour.start))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
