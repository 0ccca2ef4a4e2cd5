"""The account page's activity chart as inline SVG (no script, no CDN): the account's events by UTC hour
of day and per day, drawn as bars against the human population's profile drawn as a line."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

W, H, PAD, TOP = 560, 160, 28, 36   # TOP: room for the title and the legend above the bars


def _bars_and_line(values: list[float], reference: list[float] | None, labels: list[str], title: str,
                   unit: str) -> str:
    n = max(len(values), 1)
    top = max([*values, *(reference or []), 1e-9])
    bw = (W - 2 * PAD) / n
    y = lambda v: H - PAD - (H - PAD - TOP) * v / top  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{PAD}" y="14" font-size="12">{escape(title)}</text>',
             f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#888"/>']
    for i, v in enumerate(values):
        x = PAD + i * bw
        parts.append(f'<rect class="acct" x="{x + 1:.1f}" y="{y(v):.1f}" width="{max(bw - 2, 1):.1f}" '
                     f'height="{H - PAD - y(v):.1f}" fill="#c0392b"><title>{escape(labels[i])}: '
                     f'{v:.3g} {unit}</title></rect>')
    step = max(1, n // 12)
    for i in range(0, n, step):
        parts.append(f'<text x="{PAD + i * bw + bw / 2:.1f}" y="{H - PAD + 12}" font-size="9" '
                     f'text-anchor="middle">{escape(labels[i])}</text>')
    if reference:
        pts = " ".join(f"{PAD + i * bw + bw / 2:.1f},{y(v):.1f}" for i, v in enumerate(reference))
        parts.append(f'<polyline class="human" points="{pts}" fill="none" stroke="#2471a3" stroke-width="2"/>')
    legend = '<tspan fill="#c0392b">bars: this account</tspan>'
    if reference:
        legend += '  <tspan fill="#2471a3">line: humans</tspan>'
    parts.append(f'<text x="{W - PAD}" y="28" font-size="10" text-anchor="end">{legend}</text>')
    parts.append("</svg>")
    return "".join(parts)


def activity_svg(activity: dict[str, Any] | None) -> tuple[str, str]:
    """(by hour, by day) SVG strings; empty strings when there is nothing to draw."""
    if not activity or not activity.get("account") or not activity["account"].events:
        return "", ""
    mine, humans = activity["account"], activity.get("humans")
    hour = _bars_and_line(mine.by_hour, humans.by_hour if humans else None, [f"{h:02d}h" for h in range(24)],
                          "events by hour of day (UTC), share of the account's events", "of events")
    days: list[date] = sorted({d for d, _ in mine.by_day} | ({d for d, _ in humans.by_day} if humans else set()))
    m = dict(mine.by_day)
    ref = dict(humans.by_day) if humans else None
    day = _bars_and_line([m.get(d, 0.0) for d in days], [ref.get(d, 0.0) for d in days] if ref else None,
                         [d.strftime("%m-%d") for d in days], "events per day (human line: mean per account)",
                         "events")
    return hour, day
