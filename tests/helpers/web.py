"""A WSGI app on 127.0.0.1 in a thread: any folder, a published site (with the public server on its origin)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def serve(app) -> Iterator[str]:
    """A WSGI app on 127.0.0.1 (a port the OS picks), in a thread: yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def folder_app(root: Path):
    """Any folder's files as a plain web server sends them (a folder's index.html for its URL; Range requests, as a video needs)."""
    from flask import Flask, send_from_directory

    app = Flask("folder")

    @app.get("/", defaults={"name": ""})
    @app.get("/<path:name>")
    def file(name: str):
        return send_from_directory(root, name + "index.html" if name.endswith("/") or not name else name)

    return app


def site_app(folder: Path, api=None):
    """A published folder as the CDN serves it; with ``api`` (the public server) on the same origin, as production's proxy does."""
    from public_server.static import create_static_app, same_origin

    pages = create_static_app(folder)
    return same_origin(pages, api) if api is not None else pages


@contextmanager
def public_server(settings, database: Path, **options) -> Iterator[Any]:
    """The public server (events, paid status, instalments) with a SQLite database of its own; closed on exit."""
    from public_server.app import create_public_app
    from public_server.config import public_config

    app = create_public_app(public_config(settings, database_url=f"sqlite:///{database}", **options))
    try:
        yield app
    finally:
        public_store(app).close()


def public_store(app):
    return app.extensions["tailorcast.public"].store
