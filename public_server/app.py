"""The app factory: :func:`create_public_app` joins the config, the store, the rate limiter and one blueprint per area.

It is separate from any internal tool (its own factory, its own config) and the
pages work without it: they only enhance themselves with its answers. Serve it
on the pages' origin under ``/api/`` and ``/demo/`` (a reverse-proxy rule, or
:func:`public_server.static.same_origin` locally), so no CORS is needed. Reference: docs/public-server.md.
"""

from __future__ import annotations

import logging
import secrets
import time
import traceback
from typing import Any, Callable

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from store.store import Store

from . import demo_checkout, events, instalments, status, webhooks
from .config import PublicConfig, public_config
from .ratelimit import FixedWindowLimiter
from .state import EXTENSION, PublicState, public_state
from .validation import ApiError, read_body

log = logging.getLogger("tailorcast.public")


def create_public_app(config: PublicConfig | Any, *, clock: Callable[[], float] = time.time) -> Flask:
    """The public server for ``config`` (a :class:`PublicConfig`, or Settings turned into one with :func:`public_config`).

    ``clock`` returns unix seconds; tests pass a fake one to check expiry, replay windows and rate limits.
    The store is opened here: an embedded SQLite database is brought to the current schema, a PostgreSQL
    one that is not is refused (ConfigError: run ``tailorcast db upgrade``).
    """
    cfg = config if isinstance(config, PublicConfig) else public_config(config)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes
    app.extensions[EXTENSION] = PublicState(cfg, Store.open(cfg.database_url), FixedWindowLimiter(), clock)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    if cfg.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg.proxy_hops)  # type: ignore[method-assign]
    app.before_request(_admit)
    app.after_request(_headers)
    for area in (status, events, instalments, webhooks):
        app.register_blueprint(area.bp)
    if cfg.demo_checkout:
        app.register_blueprint(demo_checkout.bp)
    return app


def _api_error(exc: ApiError) -> Response:
    if public_state().config.demo_checkout and request.path.startswith("/demo/"):
        resp = demo_checkout.page(exc.status, "Cannot pay with this link", exc.message)
    else:
        resp = jsonify(error=exc.message, status=exc.status)
        resp.status_code = exc.status
    resp.headers.update(exc.headers)
    return resp


def _http_error(exc: HTTPException) -> Response:
    message = exc.description or exc.name
    if exc.code == 413:
        message = f"the body is larger than {public_state().config.max_body_bytes} bytes"
    elif exc.code == 404:
        message = f"no such endpoint: {request.method} {request.path}; see docs/public-server.md"
    elif exc.code == 405:
        message = f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(exc.valid_methods or []))}"
    return _api_error(ApiError(exc.code or 500, message))


def _unexpected(exc: Exception) -> Response:
    """A failure nobody planned for: the client gets a short JSON answer with an incident id, never a traceback
    or Flask's HTML page; the log gets the traceback under that id and the route (not the URL: it holds a token).
    A database that is down or busy answers 503 with Retry-After, which the pages and providers retry."""
    incident = secrets.token_hex(6)
    route = request.url_rule.rule if request.url_rule else "?"
    if isinstance(exc, DBAPIError):
        log.error("incident %s: the store failed on %s %s: %s", incident, request.method, route, type(exc.orig).__name__)
        return _api_error(ApiError(503, f"the store is unavailable; try again shortly (incident {incident})", {"Retry-After": "5"}))
    # The frames (code, no values) at error level; the exception's own text may hold a customer's data: debug only.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("incident %s: unexpected %s on %s %s\n%s", incident, type(exc).__name__, request.method, route, frames)
    log.debug("incident %s: %r", incident, exc)
    return _api_error(ApiError(500, f"the server failed; the operator can find incident {incident} in its log"))


def _admit() -> None:
    """Client and server limits first, then the whole body (a cut chunked body is refused, not half read)."""
    if request.path != "/api/health":
        public_state().admit(request.remote_addr or "unknown")
    if request.method in ("POST", "PUT", "PATCH"):
        read_body(public_state().config.max_body_bytes)


def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp
