"""``tailorcast serve``: a published folder served the way the CDN serves the bucket, and :func:`same_origin` to put the API beside it.

Only the public prefixes (``c/``, ``shared/``) are reachable; ``runs/`` (manifests
with customer ids) never is. Content-Type and Cache-Control come from
:mod:`tailorcast.keys`, the same rules the S3 upload uses. Range requests work
(phones seek videos with them).
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
        if not keys.is_public(key):
            abort(404)
        path = (root / key).resolve()
        if root not in path.parents or not path.is_file():
            abort(404)
        resp = send_file(path, mimetype=keys.content_type(key), conditional=True, max_age=None)
        resp.headers["Cache-Control"] = keys.cache_control(key)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    return app


def same_origin(pages_app: Callable, public_app: Callable, prefixes: tuple[str, ...] = API_PREFIXES) -> Callable:
    """One WSGI app serving the pages and the public server on one origin, as the production proxy does."""

    def app(environ, start_response):
        target = public_app if environ.get("PATH_INFO", "").startswith(prefixes) else pages_app
        return target(environ, start_response)

    return app
