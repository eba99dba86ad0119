"""The small public Flask app behind the microsite: events, paid status, instalment requests, demo checkout, payment webhooks.

It is separate from any internal tool (its own factory, its own config) and the
pages work without it: they only enhance themselves with its answers. Serve it
on the pages' origin under ``/api/`` and ``/demo/`` (a reverse-proxy rule, or
:func:`same_origin` locally), so no CORS is needed. Reference: docs/public-server.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from flask import Flask, Response, jsonify, redirect, render_template_string, request, url_for
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from tailorcast.errors import ConfigError
from tailorcast.formatting import money

from store.store import InvoiceConflict, Payment, ReplayedDelivery, Store
from tailorcast.errors import LinkRejected, PaymentError, WebhookRejected
from tailorcast.payments.amounts import check_cents, check_ref
from tailorcast.payments.links import LINK_PARAMS, SignedLink, derive_key, is_token, verify_signed_link
from tailorcast.payments.webhooks import SIGNATURE_HEADER, verify_webhook

log = logging.getLogger("tailorcast.public")

EVENT_TYPES = ("view", "play_25", "play_50", "play_75", "play_100", "chapter", "cta_click", "pay_started")
CONTACT_CHOICES = ("phone", "email")
_CHAPTER = re.compile(r"^[a-z][a-z0-9-]{0,40}$")  # a scene id (template schema)
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class PublicConfig:
    """Everything the public server needs, passed in (never read from the environment here)."""

    database_url: str
    link_secret: bytes = field(repr=False)  # verifies signed payment links (demo checkout)
    webhook_secret: bytes = field(repr=False)  # verifies Tailorcast-Signature on webhooks
    webhook_tolerance: int = 300  # seconds a signed webhook stays acceptable
    events_per_minute: int = 60  # per token
    status_per_minute: int = 120  # per token
    instalments_per_minute: int = 3  # per token
    checkout_per_minute: int = 20  # per token (or invoice reference when the link has no token)
    max_body_bytes: int = 16 * 1024
    instalment_choices: tuple[int, ...] = (2, 3, 6)
    thanks_url: str = "/c/{token}/#instalments-thanks"  # 303 target after an instalment request (same origin)
    return_url: str = "/c/{token}/"  # "back to your bill" after a demo payment
    demo_checkout: bool = False  # local demos only: anyone holding a signed link can mark it paid

    def __post_init__(self) -> None:
        for name in ("link_secret", "webhook_secret"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) < MIN_SECRET_BYTES:
                raise ConfigError(f"public server: {name} must be at least {MIN_SECRET_BYTES} bytes; derive it with "
                                  f"tailorcast.payments.links.derive_key(settings.secret, ...) or pass the provider's secret")
        for name in ("webhook_tolerance", "events_per_minute", "status_per_minute", "instalments_per_minute",
                     "checkout_per_minute", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"public server: {name} must be a positive integer, got {value!r}")
        if not self.instalment_choices or any(isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 60 for n in self.instalment_choices):
            raise ConfigError(f"public server: instalment_choices must be whole numbers from 2 to 60, got {self.instalment_choices!r}")
        for name in ("thanks_url", "return_url"):
            url = getattr(self, name)
            try:
                ok = "{token}" in url and url.format(token="t").startswith("/") and not url.startswith("//")
            except (KeyError, IndexError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"public server: {name} {url!r} must be a path on this origin with {{token}} as its only placeholder, like '/c/{{token}}/'")


def public_config(settings: Any, *, database_url: str | None = None, webhook_secret: bytes | None = None, **overrides: Any) -> PublicConfig:
    """Config from :class:`tailorcast.settings.Settings`: the database in the state folder, secrets derived from its secret.

    Pass ``webhook_secret`` when a real provider signs the webhooks with its own secret.
    """
    url = database_url or f"sqlite:///{settings.state_dir / 'public.db'}"
    return PublicConfig(database_url=url, link_secret=derive_key(settings.secret, "pay-link"),
                        webhook_secret=webhook_secret or derive_key(settings.secret, "webhook"), **overrides)


class FixedWindowLimiter:
    """At most N hits per key per window, counted in this process's memory.

    Windows are aligned for every key, so the table is emptied at each boundary
    and never holds more than one window of traffic. Several server processes
    each count on their own.
    """

    def __init__(self, window_seconds: int = 60) -> None:
        self.window = window_seconds
        self._lock = threading.Lock()
        self._start: int | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def hit(self, key: tuple[str, str], limit: int, now: float) -> int:
        """0 when allowed, else the seconds until the window resets."""
        start = int(now // self.window) * self.window
        with self._lock:
            if start != self._start:
                self._start, self._counts = start, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        return 0 if count <= limit else max(1, math.ceil(start + self.window - now))


class ApiError(Exception):
    """A refused request: its status, a message saying what to fix, and extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, message, dict(headers or {}))
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


@dataclass(frozen=True)
class PublicState:
    """What a running app holds (``app.extensions['tailorcast.public']``), for tests and the CLI."""

    config: PublicConfig
    store: Store
    limiter: FixedWindowLimiter
    clock: Callable[[], float]


# ---------------------------------------------------------------- request helpers

def _read_json(accepted: tuple[str, ...]) -> dict[str, Any]:
    """The body as a JSON object; ``text/plain`` is accepted so pages can use ``navigator.sendBeacon``."""
    if request.mimetype not in accepted:
        raise ApiError(415, f"send the body as {' or '.join(accepted)}, not {request.mimetype or 'no Content-Type'}")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object, like {\"token\": \"…\", \"type\": \"view\"}")
    return body


def _single_values(values: MultiDict, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, items in values.lists():
        if len(items) != 1:
            raise ApiError(400, f"{what} field {key!r} appears {len(items)} times; send it once")
        out[key] = items[0]
    return out


def _only(fields: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(fields) - set(allowed))
    if extra:
        raise ApiError(400, f"unknown field(s) {', '.join(map(repr, extra))}; allowed: {', '.join(allowed)}")


def _token(value: Any, where: str) -> str:
    if not is_token(value):
        raise ApiError(400, f"{where} is not a customer token (22-64 characters: letters, digits, '-' and '_')")
    return value


def _show(value: Any) -> str:
    """A client value quoted in an error message, cut short: messages must not echo whole bodies."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html") == "application/json"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- demo checkout page

_DEMO_CSS = ("body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b2b3a}"
             "h1{font-size:1.4rem}.note{background:#fff3cd;padding:.5rem .75rem;border-radius:.25rem}"
             "dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}"
             "button{font:inherit;padding:.75rem 1.5rem;border:0;border-radius:.4rem;background:#0b3d78;color:#fff}")
_DEMO_CSP = ("default-src 'none'; style-src 'sha256-" + base64.b64encode(hashlib.sha256(_DEMO_CSS.encode()).digest()).decode()
             + "'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><link rel="icon" href="data:,"><title>{{ title }}</title><style>{{ css }}</style></head>
<body><main><h1>{{ title }}</h1>
<p class="note">Demo checkout: no money moves.</p>
{% if message %}<p>{{ message }}</p>{% endif %}
{% if link %}<dl><dt>Invoice</dt><dd>{{ link.ref }}</dd><dt>Amount</dt><dd>{{ amount }}</dd></dl>{% endif %}
{% if fields %}<form method="post" action="{{ action }}">{% for name, value in fields %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<button type="submit">Pay {{ amount }}</button></form>{% endif %}
{% if back %}<p><a href="{{ back }}">Back to your bill</a></p>{% endif %}
</main></body></html>
"""


def _demo_page(status: int, title: str, message: str = "", link: SignedLink | None = None, fields: list | None = None,
               back: str = "") -> Response:
    amount = money(link.amount, link.currency, "en") if link else ""
    html = render_template_string(_DEMO_PAGE, title=title, message=message, link=link, amount=amount, fields=fields or [],
                                  action=url_for("demo_checkout_pay") if fields else "", back=back, css=Markup(_DEMO_CSS))
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = _DEMO_CSP
    return resp


# ---------------------------------------------------------------- the app

def create_public_app(config: PublicConfig | Any, *, clock: Callable[[], float] = time.time) -> Flask:
    """The public server for ``config`` (a :class:`PublicConfig`, or Settings turned into one with :func:`public_config`).

    ``clock`` returns unix seconds; tests pass a fake one to check expiry, replay windows and rate limits.
    """
    cfg = config if isinstance(config, PublicConfig) else public_config(config)
    store = Store.open(cfg.database_url)
    state = PublicState(cfg, store, FixedWindowLimiter(), clock)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes
    app.extensions["tailorcast.public"] = state

    def now() -> dt.datetime:
        return dt.datetime.fromtimestamp(clock(), tz=dt.timezone.utc)

    def limit(scope: str, key: str, per_minute: int) -> None:
        wait = state.limiter.hit((scope, key), per_minute, clock())
        if wait:
            log.info("rate limit reached for %s", scope)
            raise ApiError(429, f"too many {scope} requests for this page: at most {per_minute} a minute; retry in {wait} s",
                           {"Retry-After": str(wait)})

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        if cfg.demo_checkout and request.path.startswith("/demo/"):
            resp = _demo_page(exc.status, "Cannot pay with this link", exc.message)
        else:
            resp = jsonify(error=exc.message, status=exc.status)
            resp.status_code = exc.status
        resp.headers.update(exc.headers)
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"the body is larger than {cfg.max_body_bytes} bytes"
        elif exc.code == 404:
            message = f"no such endpoint: {request.method} {request.path}; see docs/public-server.md"
        elif exc.code == 405:
            message = f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(exc.valid_methods or []))}"
        return api_error(ApiError(exc.code or 500, message))

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @app.get("/api/health")
    def health():
        return jsonify(ok=True)

    @app.post("/api/events")
    def events():
        body = _read_json(("application/json", "text/plain"))
        _only(body, ("token", "type", "chapter"))
        token = _token(body.get("token"), "'token'")
        kind = body.get("type")
        if kind not in EVENT_TYPES:
            raise ApiError(400, f"'type' {_show(kind)} is not an event; use one of {', '.join(EVENT_TYPES)}")
        chapter = body.get("chapter")
        if kind == "chapter":
            if not isinstance(chapter, str) or not _CHAPTER.match(chapter):
                raise ApiError(400, "a 'chapter' event needs 'chapter': the scene id, like \"pay\" (a-z, 0-9, '-')")
        elif chapter is not None:
            raise ApiError(400, f"'chapter' goes only with type 'chapter', not {kind!r}")
        limit("events", token, cfg.events_per_minute)
        store.add_event(token, kind, chapter, now())
        log.debug("event %s for %s", kind, token)
        return Response(status=204)

    @app.get("/api/status/<token>")
    def status(token: str):
        _token(token, "the URL")
        limit("status", token, cfg.status_per_minute)
        st = store.status(token)
        return jsonify({"paid": True, "paid_at": _iso(st.paid_at)} if st.paid else {"paid": False})

    @app.post("/api/instalments/<token>")
    def instalments(token: str):
        _token(token, "the URL")
        if request.mimetype == "application/json":
            fields: Mapping[str, Any] = _read_json(("application/json",))
        elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            if request.files:
                raise ApiError(400, "files are not accepted")
            fields = _single_values(request.form, "form")
        else:
            raise ApiError(415, f"send a form (application/x-www-form-urlencoded) or JSON, not {request.mimetype or 'no Content-Type'}")
        _only(fields, ("instalments", "contact"))
        raw = fields.get("instalments")
        count = int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 4 else raw
        choices = ", ".join(map(str, cfg.instalment_choices))
        if isinstance(count, bool) or not isinstance(count, int) or count not in cfg.instalment_choices:
            raise ApiError(400, f"'instalments' must be one of {choices}, got {_show(raw)}")
        contact = fields.get("contact")
        if contact in (None, ""):
            contact = None
        elif contact not in CONTACT_CHOICES:
            raise ApiError(400, f"'contact' must be 'phone', 'email' or empty, got {_show(contact)}")
        limit("instalments", token, cfg.instalments_per_minute)
        store.add_instalment_request(token, count, contact, now())
        log.info("instalment plan requested (%d instalments)", count)
        if _wants_json():
            return jsonify(ok=True, instalments=count, contact=contact), 201
        return redirect(cfg.thanks_url.format(token=token), 303)

    @app.post("/api/webhooks/payment")
    def webhook():
        raw = request.get_data(cache=True)
        try:
            verify_webhook(raw, request.headers.get(SIGNATURE_HEADER), cfg.webhook_secret, clock(), cfg.webhook_tolerance)
        except WebhookRejected as exc:
            log.warning("webhook rejected: %s", exc.reason)
            raise ApiError(400 if exc.reason in ("missing", "malformed") else 403, str(exc)) from None
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"the signed body is not JSON ({exc})") from None
        event_id, event_type, payment = _webhook_event(body)
        try:
            outcome = store.apply_webhook(event_id, event_type, payment, now())
        except ReplayedDelivery as exc:
            log.warning("webhook %s replayed; refused", event_id)
            raise ApiError(409, str(exc)) from None
        except InvoiceConflict as exc:
            log.warning("webhook %s: the payment's %s differs from the issued invoice; not marked paid", event_id, exc.field)
            raise ApiError(409, str(exc)) from None
        log.info("webhook %s (%s): %s", event_id, event_type, outcome)
        return jsonify(received=True, outcome=outcome)

    if cfg.demo_checkout:
        _add_demo_checkout(app, state, now, limit)
    return app


def _webhook_event(body: Any) -> tuple[str, str, Payment | None]:
    """Validate a delivery: ``{"id", "type", "data": {"ref", "amount" (cents), "currency", "token"?}}``."""
    if not isinstance(body, dict):
        raise ApiError(400, "the webhook body must be a JSON object")
    event_id, event_type = body.get("id"), body.get("type")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise ApiError(400, "'id' must be the provider's event id (1-128 letters, digits, '_', '.', ':' or '-')")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise ApiError(400, "'type' must be an event type like 'payment.succeeded'")
    if event_type != "payment.succeeded":
        return event_id, event_type, None
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(400, "a payment.succeeded event needs 'data': {\"ref\", \"amount\" (cents), \"currency\", \"token\"}")
    token = data.get("token") or ""
    currency = data.get("currency")
    try:
        ref = check_ref(data.get("ref"), "data.ref")
        amount = check_cents(data.get("amount"), "data.amount")
    except PaymentError as exc:
        raise ApiError(400, str(exc)) from None
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ApiError(400, "'data.currency' must be an ISO 4217 code like 'EUR'")
    if token:
        _token(token, "'data.token'")
    return event_id, event_type, Payment(ref, amount, currency, token)


def _add_demo_checkout(app: Flask, state: PublicState, now: Callable[[], dt.datetime], limit: Callable[[str, str, int], None]) -> None:
    """A local stand-in for a payment page: it trusts only the signed link's terms, never a posted amount."""
    cfg, store = state.config, state.store

    def verified(fields: Mapping[str, str]) -> SignedLink:
        try:
            link = verify_signed_link(fields, cfg.link_secret, state.clock())
        except LinkRejected as exc:
            log.info("demo checkout: link rejected (%s)", exc.reason)
            status = {"malformed": 400, "signature": 403, "expired": 410}[exc.reason]
            raise ApiError(status, str(exc)) from None
        limit("checkout", link.token or link.ref, cfg.checkout_per_minute)
        return link

    def back(link: SignedLink) -> str:
        return cfg.return_url.format(token=link.token) if link.token else ""

    @app.get("/demo/checkout")
    def demo_checkout_form():
        link = verified(_single_values(request.args, "query"))
        invoice = store.invoice(link.ref)
        if invoice is not None and invoice.paid_at is not None:
            return _demo_page(200, "Already paid", "This bill was paid already. Thank you!", link, back=back(link))
        if invoice is not None and (invoice.amount_cents, invoice.currency) != (link.amount_cents, link.currency):
            raise ApiError(409, "this link asks for a different amount than the one issued for the invoice; ask for a new link")
        return _demo_page(200, "Pay your bill", "", link, list(link.params(cfg.link_secret).items()))

    @app.post("/demo/checkout")
    def demo_checkout_pay():
        if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise ApiError(415, "post the checkout form (application/x-www-form-urlencoded)")
        fields = _single_values(request.form, "form")
        _only(fields, LINK_PARAMS)
        link = verified(fields)
        try:
            outcome = store.pay(Payment(link.ref, link.amount_cents, link.currency, link.token), "demo", now())
        except InvoiceConflict as exc:
            raise ApiError(409, str(exc)) from None
        log.info("demo checkout: %s", outcome)
        if outcome == "already_paid":
            return _demo_page(200, "Already paid", "This bill was paid already. Thank you!", link, back=back(link))
        return _demo_page(200, "Payment received", "Thank you! Your bill is paid.", link, back=back(link))


def same_origin(pages_app: Callable, public_app: Callable, prefixes: tuple[str, ...] = ("/api/", "/demo/")) -> Callable:
    """One WSGI app serving the pages and the public server on one origin, as the production proxy does."""

    def app(environ, start_response):
        target = public_app if environ.get("PATH_INFO", "").startswith(prefixes) else pages_app
        return target(environ, start_response)

    return app
