"""Revenue and expenses by month, as an SVG drawn on the server (no script, no CDN): two bars
a month, a scale, the amounts in each bar's title (read by screen readers and shown on
hover), and a table-free text alternative in the figure's label."""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from acl.invoicing.amounts import format_amount

WIDTH, HEIGHT = 720, 260
LEFT, BOTTOM, TOP = 70, 40, 20
REVENUE, EXPENSES = "#1f4e79", "#d08c2b"


def _nice(top: Decimal) -> Decimal:
    """A round upper bound for the scale (1, 2 or 5 × a power of ten)."""
    if top <= 0:
        return Decimal(100)
    power = Decimal(10) ** (len(str(int(top))) - 1)
    for step in (1, 2, 5, 10):
        if top <= step * power:
            return step * power
    return 10 * power


def monthly_svg(months: list[tuple[str, Decimal, Decimal]], colour: str = REVENUE) -> str:
    top = _nice(max([max(r, e) for _, r, e in months] + [Decimal(0)]))
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(months))
    bar = slot * 0.36
    summary = "; ".join(f"{label} : revenus {format_amount(r)}, dépenses {format_amount(e)}"
                        for label, r, e in months)
    label = quoteattr("Revenus et dépenses HT par mois : " + summary)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" class="chart" aria-label={label}>',
             '<title>Revenus et dépenses HT par mois</title>']
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#ddd" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#555">{escape(format_amount(value, "")[:-3])} €</text>')
    for n, (month, revenue, spent) in enumerate(months):
        x = LEFT + n * slot + slot * 0.12
        for offset, value, fill, name in ((0, revenue, colour, "revenus"),
                                          (bar, spent, EXPENSES, "dépenses")):
            height = float(max(value, Decimal(0)) / top) * plot_h if top else 0
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}" fill="{fill}">'
                f'<title>{escape(month)} — {name} : {escape(format_amount(value))}</title></rect>')
        parts.append(f'<text x="{x + bar:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
                     f'text-anchor="middle" fill="#333">{escape(month[:4])}.</text>')
    parts.append(f'<rect x="{LEFT}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
                 f'<text x="{LEFT + 14}" y="{HEIGHT - 5}" font-size="11">Revenus HT</text>'
                 f'<rect x="{LEFT + 110}" y="{HEIGHT - 14}" width="10" height="10" '
                 f'fill="{EXPENSES}"/><text x="{LEFT + 124}" y="{HEIGHT - 5}" font-size="11">'
                 'Dépenses HT</text></svg>')
    return "".join(parts)
