"""``GET``/``POST /demo/checkout``: a local stand-in for a payment page that trusts only the signed link's terms, never a posted amount.

Registered only when ``PublicConfig.demo_checkout`` is on (local demos): anyone holding a signed link can mark it paid.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Mapping

from flask import Blueprint, Response, current_app, render_template, request

from store.store import Payment
from tailorcast.errors import InvoiceConflict, LinkRejected
from tailorcast.formatting import money
from tailorcast.payments.links import LINK_PARAMS, SignedLink, verify_signed_link

from .state import public_state
from .validation import ApiError, only, single_values

log = logging.getLogger("tailorcast.public")
bp = Blueprint("demo_checkout", __name__)
TEMPLATE = "demo_checkout.html"
_STATUS = {"malformed": 400, "signature": 403, "expired": 410}


def page(status: int, title: str, message: str = "", link: SignedLink | None = None, fields: list | None = None,
         back: str = "") -> Response:
    """The checkout page; its CSP allows nothing but its own inline style."""
    amount = money(link.amount, link.currency, "en") if link else ""
    html = render_template(TEMPLATE, title=title, message=message, link=link, amount=amount, fields=fields or [], back=back)
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = _csp()
    return resp


def _csp() -> str:
    css = str(current_app.jinja_env.get_template(TEMPLATE).module.css)  # the template's exported style, as the page prints it
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"


def _verified(fields: Mapping[str, str]) -> SignedLink:
    state = public_state()
    try:
        link = verify_signed_link(fields, state.config.link_secret, state.clock())
    except LinkRejected as exc:
        log.info("demo checkout: link rejected (%s)", exc.reason)
        raise ApiError(_STATUS[exc.reason], str(exc)) from None
    state.limit("checkout", link.token or link.ref, state.config.checkout_per_minute)
    return link


def _back(link: SignedLink) -> str:
    return public_state().config.return_url.format(token=link.token) if link.token else ""


def _already_paid(link: SignedLink) -> Response:
    return page(200, "Already paid", "This bill was paid already. Thank you!", link, back=_back(link))


@bp.get("/demo/checkout")
def form():
    state = public_state()
    link = _verified(single_values(request.args, "query"))
    invoice = state.store.invoice(link.ref)
    if invoice is not None and invoice.paid_at is not None:
        return _already_paid(link)
    if invoice is not None and (invoice.amount_cents, invoice.currency) != (link.amount_cents, link.currency):
        raise ApiError(409, "this link asks for a different amount than the one issued for the invoice; ask for a new link")
    return page(200, "Pay your bill", "", link, list(link.params(state.config.link_secret).items()))


@bp.post("/demo/checkout")
def pay():
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ApiError(415, "post the checkout form (application/x-www-form-urlencoded)")
    fields = single_values(request.form, "form")
    only(fields, LINK_PARAMS)
    link = _verified(fields)
    state = public_state()
    try:
        outcome = state.store.pay(Payment(link.ref, link.amount_cents, link.currency, link.token), "demo", state.now())
    except InvoiceConflict as exc:
        raise ApiError(409, str(exc)) from None
    log.info("demo checkout: %s", outcome)
    if outcome == "already_paid":
        return _already_paid(link)
    return page(200, "Payment received", "Thank you! Your bill is paid.", link, back=_back(link))
