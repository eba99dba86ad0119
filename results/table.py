"""``--format table``: the report of :func:`results.report.build_report` for people (rich tables and sentences)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _rate(x: int, n: int) -> str:
    return f"{x:,} ({x / n:.1%})" if n else "0"


def _money(cents: dict[str, int]) -> str:
    return ", ".join(f"{c / 100:,.2f} {cur}" for cur, c in cents.items()) or "-"


def print_report(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    scope = report.get("scope")
    if scope:
        runs = scope["runs"]
        console.print(f"[bold]{report['run']}[/] ({report['template']}): {len(runs)} run{'s' if len(runs) > 1 else ''} sent "
                      f"{runs[0]['sent_at'][:10]} to {runs[-1]['sent_at'][:10]}, day {report['days_since_send']} of the latest; "
                      f"grouped by {report['grouped_by']}; {scope['unit_means']}", highlight=False)
    else:
        console.print(f"[bold]run {report['run']}[/] ({report['template']}), sent {report['sent_at'][:10]}, "
                      f"day {report['days_since_send']}; grouped by {report['grouped_by']}", highlight=False)
    funnel = Table(title="Funnel (customers)", title_justify="left")
    for column in ("", "sent", "opened", "started", "25 %", "50 %", "75 %", "100 %", "CTA", "pay started", "paid", "paid rate (95 % Wilson)"):
        funnel.add_column(column, justify="left" if not column else "right")
    for a in report["arms"]:
        n = a["sent"]
        ci = a["paid_rate_ci"]
        funnel.add_row(a["name"], f"{n:,}", *(_rate(a[k], n) for k in ("opened", "started", "watched_25", "watched_50", "watched_75", "completed",
                                                                          "cta", "pay_started")), f"{a['paid']:,}",
                       f"{a['paid_rate']:.1%} ({ci[0]:.1%} to {ci[1]:.1%})" if a["paid_rate"] is not None else "-")
    console.print(funnel)
    pay = Table(title="Payments", title_justify="left")
    for column in ("", "paid ≤ 7 d", "≤ 14 d", "≤ 30 d", "median days to pay", "collected", "failed renders"):
        pay.add_column(column, justify="left" if not column else "right")
    for a in report["arms"]:
        w = a["paid_within"]
        median = a["median_days_to_pay"]
        pay.add_row(a["name"], *(_rate(w[k], a["sent"]) for k in ("7", "14", "30")), "-" if median is None else f"{median:.1f}",
                    _money(a["amount_collected_cents"]), str(a["failed"]))
    console.print(pay)
    scenes = sorted({d["scene"] for a in report["arms"] for d in a["dropoff"]})
    if scenes:
        drop = Table(title="Chapters used (customers)", title_justify="left")
        drop.add_column("")
        for s in scenes:
            drop.add_column(s, justify="right")
        for a in report["arms"]:
            got = {d["scene"]: d["reached"] for d in a["dropoff"]}
            drop.add_row(a["name"], *(str(got.get(s, 0)) for s in scenes))
        console.print(drop)
    srm = report.get("srm")
    if srm and srm["p"] is not None:
        console.print(f"Sample ratio check ({srm['method']}): p = {srm['p']:.3g}" + (" [bold red]— mismatch, see below[/]" if srm["warning"] else ""),
                      highlight=False)
    for c in report["comparisons"]:
        console.print(f"• {c['statement']}", highlight=False)
