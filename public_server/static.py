"""``tailorcast serve``: a published folder served the way the CDN serves the bucket, and :func:`same_origin` to put the API beside it.

Only keys that :mod:`tailorcast.keys` builds under the public prefixes (``c/``, ``shared/``) are reachable,
and only when the file they resolve to (after symbolic links) is such a key too; ``runs/`` (manifests with
customer ids) never is. Anything else, a NUL or an over-long name included, is a 404. Content-Type,
Cache-Control and the security headers (framing forbidden) come from :mod:`tailorcast.keys`, the same rules
the S3 upload and the CDN use. Range requests work (phones seek videos with them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from flask import Flask, abort, send_file

from tailorcast import keys

API_PREFIXES = ("/api/", "/demo/")  # what the production proxy routes to the public server


def create_static_app(root: Path | str) -> Flask:
    root = Path(root).resolve()
    app = Flask(__name__, static_folder=None)

    @app.get("/")
    def home():
        return ("Tailorcast: open a customer page at /c/&lt;token&gt;/\n", 200, {"Content-Type": "text/plain; charset=utf-8"})

    @app.get("/<path:key>")
    def obj(key: str):
        if key.endswith("/"):
            key += keys.PAGE_NAME  # the folder's page, as the CDN's index document
        path = _public_file(root, key)
        if path is None:
            abort(404)
        resp = send_file(path, mimetype=keys.content_type(key), conditional=True, max_age=None)
        resp.headers["Content-Type"] = keys.content_type(key)  # as given: Flask would add a second charset
        resp.headers["Cache-Control"] = keys.cache_control(key)
        return resp

    @app.after_request
    def headers(resp):  # every answer, 404s included
        for name, value in keys.SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        return resp

    return app


def _public_file(root: Path, key: str) -> Path | None:
    """The file behind a public ``key``, or None: the key and the file it resolves to must both be public keys
    (a link ``c/<token> -> ../runs/<run>`` resolves outside them)."""
    if not keys.is_public(key):
        return None
    try:
        path = (root / key).resolve()
        if not path.is_file():
            return None
        resolved = path.relative_to(root).as_posix()
    except (OSError, ValueError):  # outside the folder, or a name the file system refuses
        return None
    return path if keys.is_public(resolved) else None


def same_origin(pages_app: Callable, public_app: Callable, prefixes: tuple[str, ...] = API_PREFIXES) -> Callable:
    """One WSGI app serving the pages and the public server on one origin, as the production proxy does."""

    def app(environ, start_response):
        target = public_app if environ.get("PATH_INFO", "").startswith(prefixes) else pages_app
        return target(environ, start_response)

    return app
