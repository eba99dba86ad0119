"""One customer published exactly as a run publishes it (video in every rendition, poster, captions, microsite),
on demand, in a background thread of the studio: what the designer watches and opens in a phone-sized frame.

A render is the billing run itself (``run_billing`` with the in-process executor) on a
one-row input, into a folder of its own. Its files are reached under an unguessable,
expiring key (192 random bits), because the page plays in a sandboxed frame that
sends no session cookie.
"""

from __future__ import annotations

import csv
import json
import logging
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tailorcast import keys
from tailorcast.bucket import LocalBucket
from tailorcast.errors import RenderError, TailorcastError
from tailorcast.settings import Settings
from tailorcast.spec.model import Template

log = logging.getLogger("tailorcast.studio")
KEEP_SECONDS = 6 * 3600
ROW_LIMIT = 1_000_000  # a row further down than this is refused: the file is read line by line up to it


@dataclass
class Render:
    key: str
    template: str
    version_id: int
    row: int
    started: float
    state: str = "rendering"  # rendering | done | failed
    seconds: float = 0.0
    error: str = ""
    page: str = ""  # c/<token>/ relative to the render's folder
    videos: dict = field(default_factory=dict)  # rendition → path relative to the folder


def raw_row(customers: Path, row: int, locale: str | None) -> dict:
    """Row ``row`` of a CSV (header = row 1) or JSONL (first line = row 1) file as it is written, cells as text."""
    if row < 1 or row > ROW_LIMIT:
        raise RenderError("preview", f"row {row} is out of range")
    with open(customers, encoding="utf-8-sig", newline="") as fh:
        if customers.suffix.lower() == ".jsonl":
            for n, line in enumerate(fh, start=1):
                if n == row:
                    values = json.loads(line)
                    break
            else:
                raise RenderError("preview", f"the file has no row {row}")
        else:
            reader = csv.DictReader(fh)
            for n, record in enumerate(reader, start=2):
                if n == row:
                    values = dict(record)
                    break
            else:
                raise RenderError("preview", f"the file has no row {row}")
    if locale:
        values["locale"] = locale
    return values


class Renders:
    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.clock = clock
        self._lock = threading.Lock()
        self._renders: dict[str, Render] = {}

    def start(self, template: Template, version_id: int, customers: Path, row: int, locale: str | None, settings: Settings) -> Render:
        """Start publishing one row in a thread; the render is reached by its key."""
        self._expire()
        values = raw_row(customers, row, locale)
        render = Render(secrets.token_urlsafe(24), template.name, version_id, row, self.clock())
        folder = self.root / render.key
        (folder / "input").mkdir(parents=True)
        (folder / "input" / "customer.jsonl").write_text(json.dumps(values, ensure_ascii=False) + "\n", encoding="utf-8")
        with self._lock:
            self._renders[render.key] = render
        threading.Thread(target=self._run, args=(render, template, folder, settings), name=f"studio-render-{render.key[:6]}", daemon=True).start()
        return render

    def _run(self, render: Render, template: Template, folder: Path, settings: Settings) -> None:
        from workers.executors import InProcessExecutor
        from workers.run import run_billing

        started = time.perf_counter()
        try:
            summary = run_billing(template, folder / "input" / "customer.jsonl", LocalBucket(folder / "site"), settings,
                                  run_id=f"studio-preview-{render.key[:16].lower().replace('_', '-')}", executor=InProcessExecutor())
            manifest = list(csv.DictReader((folder / "site" / summary.manifest).open(encoding="utf-8")))
            errors = list(csv.DictReader((folder / "site" / summary.errors).open(encoding="utf-8")))
            if summary.ok != 1:
                reason = (manifest[0].get("error") if manifest else "") or (errors[0].get("reason") if errors else "") or "nothing was published"
                raise RenderError("preview", reason)
            page = manifest[0]["page"].removesuffix(keys.PAGE_NAME)
            render.page = page
            render.videos = {r.name: page + keys.video_name(r.name) for r in template.video.renditions}
            render.state = "done"
        except TailorcastError as exc:
            render.state, render.error = "failed", str(exc)
        except Exception as exc:  # the thread must report, never die silently
            log.exception("preview render failed")
            render.state, render.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        render.seconds = time.perf_counter() - started

    def get(self, key: str) -> Render | None:
        """The render with this key, while it is kept (:data:`KEEP_SECONDS` after it started)."""
        with self._lock:
            render = self._renders.get(key)
        if render is None or (render.state != "rendering" and self.clock() - render.started > KEEP_SECONDS):
            return None
        return render

    def folder(self, key: str) -> Path:
        return self.root / key / "site"

    def _expire(self) -> None:
        now = self.clock()
        with self._lock:
            old = [k for k, r in self._renders.items() if r.state != "rendering" and now - r.started > KEEP_SECONDS]
            for k in old:
                del self._renders[k]
        for k in old:
            shutil.rmtree(self.root / k, ignore_errors=True)
