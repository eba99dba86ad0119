"""What the tests share, written once: sample paths, template copies to break, published runs and their
manifests, a folder (and the public server) served on 127.0.0.1, SSIM, QR decoding, and Playwright pages
on emulated phones. Fixtures live in conftest.py; plain functions and constants live here."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "templates" / "bill-explainer"
SAMPLE_CSV = TEMPLATE_DIR / "sample-customers.csv"
REMINDER_DIR = ROOT / "templates" / "payment-reminder"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DEVICES = ["iPhone 13", "Pixel 5"]  # Playwright's device names: one iOS, one Android phone

# A fixture that needs a slower tier, and the mark a test using it must carry.
TIER_FIXTURES = {"ray_session": "e2e", "postgres": "e2e", "chromium": "browser"}


def missing_tier_mark(fixtures: Iterable[str], marks: Iterable[str]) -> str | None:
    """Why a test cannot be in the fast tier unmarked (it uses Ray or Chromium), or None."""
    fixtures, marks = set(fixtures), set(marks)
    for fixture, mark in TIER_FIXTURES.items():
        if fixture in fixtures and mark not in marks:
            return (f"uses the {fixture!r} fixture but is not marked {mark}: add @pytest.mark.{mark} to the test "
                    f"(or pytestmark = pytest.mark.{mark} to its module) so that `make test-fast` leaves it out")
    return None


# ---------------------------------------------------------------- templates and sample rows

def copy_template(src: Path, tmp_path: Path) -> Path:
    """A copy of a template folder to break in a test (without sample data or scripts)."""
    dst = tmp_path / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.csv", "__pycache__", "*.py"))
    return dst


def edit_file(folder: Path, old: str, new: str, name: str = "template.yaml") -> None:
    """Replace ``old`` (which must be there) once in a template file."""
    path = folder / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def pick_rows(src: Path, ids: Iterable[str], dest: Path) -> Path:
    """The rows of a sample file whose customer id is in ``ids``, in sample-file order, written to ``dest``."""
    from tailorcast.customers import write_customers

    wanted = set(ids)
    with src.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["customer_id"] in wanted]
        fields = reader.fieldnames
    assert wanted <= {r["customer_id"] for r in rows}, f"not in {src.name}: {sorted(wanted - {r['customer_id'] for r in rows})}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_customers(dest, fields, rows)
    return dest


class Published(NamedTuple):
    """A billing run published to a local folder: ``out, summary = run`` still unpacks it."""

    out: Path
    summary: Any

    def rows(self) -> list[dict]:
        """The run's manifest rows, in input order."""
        return read_csv(self.out / self.summary.manifest)

    def by_id(self) -> dict[str, dict]:
        return {r["customer_id"]: r for r in self.rows()}


def publish(template, customers: Path, settings, out: Path, **options) -> Published:
    """A billing run (real Ray, or the executor ``options`` name) of ``customers`` into the folder ``out``."""
    from tailorcast.bucket import LocalBucket
    from workers.run import run_billing

    return Published(out, run_billing(template, customers, LocalBucket(out), settings, **options))


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def ffmpeg_decode_errors(path: Path) -> str:
    """Full decode of every stream; ffmpeg -v error prints nothing for a clean file."""
    from renderer.encode import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return (proc.stderr + ("" if proc.returncode == 0 else f"\nexit {proc.returncode}")).strip()


# ---------------------------------------------------------------- serving on 127.0.0.1

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


# ---------------------------------------------------------------- pictures

def _box(img: np.ndarray, k: int = 7) -> np.ndarray:
    c = np.cumsum(np.cumsum(np.pad(img, ((1, 0), (1, 0))), 0), 1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images (7x7 uniform windows, the usual constants for 8-bit data, as scikit-image's default)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = _box(a), _box(b)
    va, vb, cov = _box(a * a) - ma * ma, _box(b * b) - mb * mb, _box(a * b) - ma * mb
    return float(np.mean(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))))


def decode_qr(img) -> list[str]:
    """The text of every QR code zxing-cpp (what a phone's reader does) finds in a PIL image."""
    import zxingcpp

    return [r.text for r in zxingcpp.read_barcodes(np.asarray(img.convert("L")))]


# ---------------------------------------------------------------- Playwright

@dataclass
class PageLog:
    """What a page did while a test looked at it."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    requests: list[str] = field(default_factory=list)
    failed: list[tuple[str, str | None]] = field(default_factory=list)  # (url, failure)
    errors: list[str] = field(default_factory=list)  # uncaught exceptions
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages (dismissed)

    def noisy_console(self) -> list[tuple[str, str]]:
        return [c for c in self.console if c[0] in ("error", "warning")]


@contextmanager
def open_page(chromium, url: str | None = None, device: str | None = None, *, wait: str | None = "networkidle",
              routes: dict | None = None, **options) -> Iterator[tuple[Any, PageLog]]:
    """A fresh browser context (Playwright's ``device`` emulation, then ``options``) and one page, logged;
    ``routes`` ({glob: handler}) answer requests before ``url`` is opened; the context is closed on exit."""
    playwright, browser = chromium
    context = browser.new_context(**{**(playwright.devices[device] if device else {}), **options})
    try:
        page = context.new_page()
        log = PageLog()
        page.on("console", lambda m: log.console.append((m.type, m.text)))
        page.on("request", lambda r: log.requests.append(r.url))
        page.on("requestfailed", lambda r: log.failed.append((r.url, r.failure)))
        page.on("pageerror", lambda e: log.errors.append(str(e)))
        page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
        for pattern, handler in (routes or {}).items():
            page.route(pattern, handler)
        if url is not None:
            page.goto(url)
            if wait:
                page.wait_for_load_state(wait)
        yield page, log
    finally:
        context.close()
