"""The customer's microsite: one static ``index.html`` per customer, from the template's page.

The page is rendered in the sandbox with autoescape on; it links only to its
own folder and to content-addressed shared files, so it needs no server and
makes no request to any other host.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from markupsafe import Markup

from tailorcast import expressions, keys
from tailorcast.errors import RenderError
from tailorcast.formatting import month_labels, number
from tailorcast.payments.amounts import to_cents
from tailorcast.payments.epc import EPC_CURRENCY, epc_payload
from tailorcast.payments.pagopa import pagopa_payload
from tailorcast.spec.model import Template

from .payment import epc_qr, epc_svg, pagopa_qr, qr_svg
from .player import player_script
from .svgchart import bar_chart_svg

STATIC = Path(__file__).resolve().parent / "static"
# Everything the page needs comes from its own origin; inline SVG needs no script or style, and the
# player's data is an inert JSON script element. connect-src: events and paid status (same-origin API).
CSP = ("default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'")


@dataclass(frozen=True)
class SharedFile:
    key: str
    data: bytes


def shared_files(template: Template) -> dict[str, SharedFile]:
    """Content-addressed files every page of the template links to (published once per run)."""
    out = {}
    css = (STATIC / "site.css").read_bytes()
    out["css"] = SharedFile(keys.shared_object("css", hashlib.sha256(css).hexdigest()[:32], "css"), css)
    js = (STATIC / "player.js").read_bytes()
    out["js"] = SharedFile(keys.shared_object("js", hashlib.sha256(js).hexdigest()[:32], "js"), js)
    logo = template.brand.logo_path
    if logo:
        data = Path(logo).read_bytes()
        out["logo"] = SharedFile(keys.shared_object("img", hashlib.sha256(data).hexdigest()[:32], Path(logo).suffix.lstrip(".")), data)
    return out


def _chart(template: Template, ctx: Mapping[str, Any]) -> tuple[Markup, list[dict]]:
    layer = next((lay for s in template.scenes for lay in s.layers if lay.type == "chart"), None)
    if layer is None:
        return Markup(""), []
    values = list(ctx.get(layer.params["values"]) or [])
    last = ctx.get(layer.params.get("last_month", ""))
    labels = month_labels(last, len(values), ctx["locale"]) if last else [str(i + 1) for i in range(len(values))]
    t = ctx["t"]
    title = t("chart_title") if "chart_title" in t.table else ""
    desc = t("chart_caption") if "chart_caption" in t.table else ""
    svg = bar_chart_svg(values, labels, title, desc, accent="#B36B00", bar="#8FA8C8", ink="#1B2B3A")
    usage = [{"label": lab, "value": number(v, ctx["locale"], 0)} for lab, v in zip(labels, values, strict=True)]
    return svg, usage


@lru_cache(maxsize=8)
def _page_env(root: Path):
    """One page environment per template folder and process: the page is compiled once, not once per customer
    (its loader still notices a changed file)."""
    return expressions.page_env(expressions.FolderLoader(root))


def build_page(template: Template, ctx: Mapping[str, Any], media: Mapping[str, str], chapters: list[dict], transcript: list[str], *,
               player: Mapping[str, Any] | None = None, api: str = "", token: str = "") -> str:
    """``media``: relative URLs of video, poster, captions, css, js and logo as seen from the page.

    ``player``: the player's data (:func:`microsite.player.player_data`); ``api``: the public server's
    URL relative to the page ("" when the pages are published without one); ``token``: the page's folder.
    """
    chart_svg, usage = _chart(template, ctx)
    pay = template.payment
    amount = ctx.get(pay.amount_field)
    reference = str(ctx.get(pay.reference_field) or "")
    title = ctx["t"]("pay_bank") if "pay_bank" in ctx["t"].table else "SEPA"
    epc = pay.epc
    qr_markup = Markup("")
    if epc and amount is not None and pay.currency_of(ctx) == EPC_CURRENCY:
        qr_markup = epc_svg(epc_qr(epc_payload(epc.name, epc.iban, amount, text=reference[:140], bic=epc.bic)), title)
    pagopa = pay.pagopa
    pagopa_markup = Markup("")
    if pagopa and amount is not None and ctx.get(pagopa.notice_field):
        qr = pagopa_qr(pagopa_payload(str(ctx[pagopa.notice_field]), pagopa.creditor, to_cents(amount)))
        pagopa_markup = qr_svg(qr, "pagoPA", "pagopa")
    env = _page_env(template.root)
    page_ctx = dict(ctx)
    page_ctx.update(media=dict(media), chapters=chapters, transcript=transcript, chart_svg=chart_svg, usage=usage, epc_svg=qr_markup, pagopa_svg=pagopa_markup, csp=CSP,
                    player=player_script(player) if player else Markup(""), api=api, token=token)
    try:
        return expressions.render_page(env, template.page.name, page_ctx)
    except expressions.ExpressionError as exc:  # every failure of the page, bounds and budget included
        raise RenderError("page", f"{template.page.name}: {exc.message}") from exc
