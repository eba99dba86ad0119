"""The app factory: :func:`create_studio_app` joins the config, the store and one blueprint per area.

Staff only, 127.0.0.1 by default, never on the public server's origin. Every
request but the log-in page, static files, review links and preview sites needs
a signed-in user; every state change needs the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Any, Callable

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, NotFound

from store.audit import Audit
from store.runs import Runs
from store.store import Store
from store.users import Users
from store.versions import Versions
from tailorcast.errors import StudioRefused

from . import approvals, auth, catalog, people, previews, results, review, runs
from .config import StudioConfig, studio_config
from .csrf import FIELD, check_csrf, csrf_token
from .launcher import Launcher
from .previewer import Previewer
from .ratelimit import FailureLimiter
from .renders import Renders
from .roles import can
from .state import EXTENSION, StudioState
from .workspace import Workspace

EDITOR_BUNDLE = "vendor/editor.js"  # CodeMirror, built by `make studio-assets`; without it the editor is a plain textarea
# The editor's style modules carry the per-response nonce (CodeMirror's EditorView.cspNonce): no 'unsafe-inline'.
CSP = ("default-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data: blob:; media-src 'self' blob:; frame-src 'self'; "
       "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'")


def create_studio_app(config: StudioConfig | Any, *, clock: Callable[[], float] = time.time) -> Flask:
    """The studio for ``config`` (a :class:`StudioConfig`, or Settings turned into one with :func:`studio_config`).

    Opens the store (embedded SQLite is upgraded; PostgreSQL must be at head), imports the
    templates folder's templates that the store does not have yet, and finds runs that ended
    while no studio was watching.
    """
    cfg = config if isinstance(config, StudioConfig) else studio_config(config)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=cfg.session_secret, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=cfg.secure_cookies, SESSION_COOKIE_NAME="tailorcast_studio",
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12), MAX_CONTENT_LENGTH=cfg.max_upload_bytes)
    store = Store.open(cfg.database_url)
    versions = Versions(store.engine)
    workspace = Workspace(cfg.work_dir, versions)
    state = StudioState(cfg, store, Users(store.engine), versions, Runs(store.engine), Audit(store.engine),
                        FailureLimiter(cfg.login_failures, cfg.login_window), clock, workspace, Previewer(workspace),
                        Renders(cfg.work_dir / "renders", clock), None)
    state = StudioState(**{**state.__dict__, "launcher": Launcher(cfg, state.runs, clock)})
    app.extensions[EXTENSION] = state
    if cfg.templates_dir is not None:
        workspace.import_folder(cfg.templates_dir, state.now())
    state.launcher.reconcile()
    app.before_request(lambda: setattr(g, "csp_nonce", secrets.token_urlsafe(16)))
    app.before_request(auth.load_user)
    app.before_request(auth.require_login)
    app.before_request(check_csrf)
    app.after_request(_headers)
    bundle = Path(app.static_folder) / EDITOR_BUNDLE
    app.context_processor(lambda: {"csrf_token": csrf_token, "csrf_field": FIELD, "can": can, "editor_bundle": bundle.is_file(),
                                   "csp_nonce": g.get("csp_nonce", "")})
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StudioRefused, lambda exc: _error(409, str(exc)))
    for area in (auth, catalog, approvals, previews, review, runs, results, people):
        app.register_blueprint(area.bp)
    return app


def _error(status: int, message: str) -> Response:
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        resp = jsonify(error=message, status=status)
    else:
        resp = Response(render_template("error.html", status=status, message=message), mimetype="text/html")
    resp.status_code = status
    return resp


def _http_error(exc: HTTPException) -> Response:
    message = exc.description or exc.name
    if exc.code == 404 and exc.description == NotFound.description:  # a view's own 404 says what is missing
        message = f"nothing here: {request.path}; go back to the template list"
    elif exc.code == 413:
        message = "the upload is larger than the studio accepts; send a smaller file"
    elif exc.code == 405:
        message = f"{request.method} is not allowed here"
    return _error(exc.code or 500, message)


def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP.format(nonce=g.get("csp_nonce", "none")))
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return resp
