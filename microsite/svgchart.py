"""The consumption chart as inline SVG: crisp on any screen, no script, no request."""

from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart_svg(values: list[float], labels: list[str], title: str, desc: str, highlight: int | None = None,
                  bar: str = "#9DB4D3", accent: str = "#E59A00", ink: str = "#1B2B3A", width: int = 600, height: int = 260) -> Markup:
    n = max(len(values), 1)
    top, bottom = 28, 30
    plot = height - top - bottom
    vmax = max(max(values, default=0), 1e-9)
    slot = width / n
    bw = slot * 0.62
    hi = n - 1 if highlight is None else highlight
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-t chart-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-t">{escape(title)}</title><desc id="chart-d">{escape(desc)}</desc>',
        f'<line x1="0" y1="{top + plot}" x2="{width}" y2="{top + plot}" stroke="{ink}" stroke-opacity="0.3"/>',
    ]
    for i, v in enumerate(values):
        h = plot * v / vmax
        x = slot * i + (slot - bw) / 2
        fill = accent if i == hi else bar
        parts.append(f'<rect x="{x:.1f}" y="{top + plot - h:.1f}" width="{bw:.1f}" height="{h:.1f}" rx="4" fill="{fill}"/>')
        if i < len(labels):
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="13" fill="{ink}">{escape(labels[i])}</text>')
    if values:
        avg = sum(values) / len(values)
        y = top + plot - plot * avg / vmax
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="{ink}" stroke-dasharray="6 6" stroke-opacity="0.7"/>')
        hx = slot * hi + slot / 2
        anchor = "end" if hi >= n - 2 else "middle"
        parts.append(f'<text x="{min(hx + (bw / 2 if anchor == "end" else 0), width):.1f}" y="{top + plot - plot * values[hi] / vmax - 8:.1f}" text-anchor="{anchor}" font-size="14" font-weight="bold" fill="{ink}">{values[hi]:.0f} kWh</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
