"""One customer published exactly as a run publishes it (video in every rendition, poster, captions, microsite),
on demand, in a background thread of the studio: what the designer watches and opens in a phone-sized frame.

A render is the billing run itself (``run_billing`` with the in-process executor) on a
one-row input, into a folder of its own. The designer's locale goes into the row; the
designer's variant into a copy of the template whose first variant is that one, with no
rule (and no experiment), so the run's own choice (``choose_variant``) picks it. Progress
is real: the run context carries a callback that ``render_video`` calls after each segment
(frames made of frames in all, per rendition). Its files are reached under an unguessable,
expiring key (192 random bits), because the page plays in a sandboxed frame that
sends no session cookie.

Renders live in this process's memory: at most :data:`MAX_RENDERS` at once (each one is a
thread and one ffmpeg at a time), kept :data:`KEEP_SECONDS`.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from renderer.shared import render_shared_scenes
from tailorcast import keys
from tailorcast.bucket import LocalBucket
from tailorcast.csvfile import read_rows
from tailorcast.errors import RenderError, StudioRefused, TailorcastError
from tailorcast.procs import process_alive
from tailorcast.settings import Settings
from tailorcast.spec.model import Template, Variant
from workers.executors import InProcessExecutor
from workers.job import RunContext


log = logging.getLogger("tailorcast.studio")
KEEP_SECONDS = 6 * 3600
ROW_LIMIT = 1_000_000  # a row further down than this is refused: the file is read line by line up to it
PHASES = {"starting": "reading the row, publishing the page's shared files",
          "shared scenes": "encoding the scenes every customer of this locale and variant shares (once, then cached)",
          "base videos": "encoding the base video of this set of scenes (once, then cached)",
          "encoding": "encoding this customer's scenes",
          "publishing": "joining the segments, publishing the videos, posters, captions and page",
          "done": "published", "failed": "failed"}
MAX_RENDERS = 2  # renders going at once in this studio process: each is a thread that keeps a CPU busy
KEY = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24); used with fullmatch before it names a folder
STATUS = "status.json"


@dataclass
class Render:
    key: str
    template: str
    version_id: int
    row: int
    started: float
    renditions: tuple[str, ...] = ()
    locale: str | None = None  # the designer's overrides (None: the row's own, the rules')
    variant: str | None = None
    state: str = "rendering"  # rendering | done | failed
    phase: str = "starting"  # starting | shared scenes | base videos | encoding | publishing, then the state
    seconds: float = 0.0
    error: str = ""
    page: str = ""  # c/<token>/ relative to the render's folder
    videos: dict = field(default_factory=dict)  # rendition → path relative to the folder
    frames: dict = field(default_factory=dict)  # rendition → (frames made, frames in all), as render_video tells
    shared: tuple = (0, 0)  # (shared scenes encoded, shared scenes in all), as render_shared_scenes tells
    pid: int = 0  # the studio process rendering it: another process of the same studio reads its status file

    def report(self, rendition: str, done: int, total: int) -> None:
        """render_video's progress (workers.job.RunContext.progress), from the render's thread."""
        self.frames = {**self.frames, rendition: (done, total)}  # a new dict: a reader never sees it change under it
        finished = all(self.frames.get(r, (0, 1))[0] >= self.frames.get(r, (0, 1))[1] for r in self.renditions)
        self.phase = "publishing" if finished else "encoding"

    def report_shared(self, done: int, total: int) -> None:
        """render_shared_scenes's progress, from the render's thread (most are cached: then it goes by at once)."""
        self.shared = (done, total)

    @property
    def percent(self) -> int:
        """Frames made of frames in all, averaged over the renditions (one not started counts 0): it only grows;
        100 only once the render is published."""
        if self.state == "done":
            return 100
        frames = self.frames
        parts = [frames[r][0] / frames[r][1] if frames.get(r, (0, 0))[1] else 0.0 for r in self.renditions]
        return min(99, math.floor(100 * sum(parts) / len(parts))) if parts else 0

    def progress(self) -> dict[str, Any]:
        frames = self.frames
        phase = self.state if self.state != "rendering" else self.phase
        says = PHASES[phase]
        if phase == "shared scenes" and self.shared[1]:
            says += f": {self.shared[0]} of {self.shared[1]}"
        return {"phase": phase, "says": says, "percent": self.percent,
                "shared": {"scenes": self.shared[0], "of": self.shared[1] or None},
                "renditions": [{"name": r, "frames": frames.get(r, (0, 0))[0], "of": frames.get(r, (0, 0))[1] or None}
                               for r in self.renditions]}


    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "frames": {r: list(f) for r, f in self.frames.items()}})

    @classmethod
    def from_json(cls, text: str) -> Render:
        data = json.loads(text)
        return cls(**{**data, "renditions": tuple(data["renditions"]), "frames": {r: tuple(f) for r, f in data["frames"].items()},
                      "shared": tuple(data.get("shared", (0, 0)))})


class _Reporting(InProcessExecutor):
    """The in-process executor, telling a render where its run is: the run context it is given carries the
    render's progress callback; the shared scenes' task (and live mode's base videos) set the phase.
    ``changed`` is told after each change (it writes the render's status file)."""

    def __init__(self, render: Render, changed: Callable[[Render], None]) -> None:
        self.render, self.changed = render, changed

    def _report(self, rendition: str, done: int, total: int) -> None:
        self.render.report(rendition, done, total)
        self.changed(self.render)

    def _report_shared(self, done: int, total: int) -> None:
        self.render.report_shared(done, total)
        self.changed(self.render)

    def put(self, value: Any) -> Any:
        if isinstance(value, RunContext):
            value = dataclasses.replace(value, progress=self._report)
        return super().put(value)

    def submit(self, fn: Callable, *args: Any, retries: int | None = None) -> Any:
        if fn is render_shared_scenes:
            self.render.phase = "shared scenes"
            self.changed(self.render)
            fn = functools.partial(render_shared_scenes, progress=self._report_shared)
        elif getattr(fn, "__name__", "") == "base_videos_task":
            self.render.phase = "base videos"
            self.changed(self.render)
        return super().submit(fn, *args, retries=retries)


def with_variant(template: Template, variant: str | None) -> Template:
    """The template as if every row's rules picked ``variant``: it comes first with no rule, and no experiment
    arm replaces it (a preview shows the variant asked for, never a holdout)."""
    if not variant:
        return template
    names = [v.name for v in template.variants]
    if variant not in names:
        raise RenderError("preview", f"variant {variant!r} is not one of this template's ({', '.join(names) or 'none'})")
    rest = tuple(v for v in template.variants if v.name != variant)
    return dataclasses.replace(template, variants=(Variant(variant, None),) + rest, experiment=None)


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

    def start(self, template: Template, version_id: int, customers: Path, row: int, locale: str | None, settings: Settings,
              variant: str | None = None) -> Render:
        """Start publishing one row in a thread, as if its locale were ``locale`` and its rules picked ``variant``
        (None: the row's own); the render is reached by its key."""
        self._expire()
        if locale and locale not in template.locales:
            raise RenderError("preview", f"locale {locale!r} is not one of this template's ({', '.join(template.locales)})")
        chosen = with_variant(template, variant)
        with self._lock:
            going = sum(1 for r in self._renders.values() if r.state == "rendering")
        if going >= MAX_RENDERS:
            raise StudioRefused("render", f"{going} renders are going in this studio already; wait for one to finish")
        values = raw_row(customers, row, locale)
        renditions = tuple(r.name for r in template.video.renditions) if template.video.bake else ()
        render = Render(secrets.token_urlsafe(24), template.name, version_id, row, self.clock(), renditions, locale or None, variant or None,
                        pid=os.getpid())
        folder = self.root / render.key
        (folder / "input").mkdir(parents=True)
        (folder / "input" / "customer.jsonl").write_text(json.dumps(values, ensure_ascii=False) + "\n", encoding="utf-8")
        with self._lock:
            self._renders[render.key] = render
        self._save(render)
        threading.Thread(target=self._run, args=(render, chosen, folder, settings), name=f"studio-render-{render.key[:6]}", daemon=True).start()
        return render

    def _run(self, render: Render, template: Template, folder: Path, settings: Settings) -> None:
        from workers.run import run_billing

        started = time.perf_counter()
        try:
            summary = run_billing(template, folder / "input" / "customer.jsonl", LocalBucket(folder / "site"), settings,
                                  run_id=f"studio-preview-{render.key[:16].lower().replace('_', '-')}", executor=_Reporting(render, self._save))
            manifest = list(read_rows((folder / "site" / summary.manifest).read_text(encoding="utf-8")))
            errors = list(read_rows((folder / "site" / summary.errors).read_text(encoding="utf-8")))
            if summary.holdout:
                raise RenderError("preview", "this customer is in the experiment's holdout: a run publishes no video and no page for them; "
                                             "choose a variant to render one")
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
        self._save(render)

    def _save(self, render: Render) -> None:
        """The render's status file, replaced whole: any process of this studio (a WSGI server's workers) can answer for it."""
        folder = self.root / render.key
        tmp = folder / f".{STATUS}.{threading.get_ident()}"
        try:
            tmp.write_text(render.to_json(), encoding="utf-8")
            os.replace(tmp, folder / STATUS)
        except OSError:  # the folder went (expired): the render is forgotten anyway
            log.debug("render status not written", exc_info=True)

    def get(self, key: str) -> Render | None:
        """The render with this key, while it is kept (:data:`KEEP_SECONDS` after it started): this process's own, or
        another process's from its status file (a render whose process is gone failed)."""
        if not KEY.fullmatch(key):
            return None
        with self._lock:
            render = self._renders.get(key)
        if render is None:
            try:
                render = Render.from_json((self.root / key / STATUS).read_text(encoding="utf-8"))
            except (OSError, ValueError, TypeError):
                return None
            if render.state == "rendering" and not process_alive(render.pid):
                render.state, render.error = "failed", "the studio process that rendered it stopped; start the render again"
        if render.state != "rendering" and self.clock() - render.started > KEEP_SECONDS:
            return None
        return render

    def folder(self, key: str) -> Path:
        return self.root / key / "site"

    def _expire(self) -> None:
        """Forget renders kept long enough, this process's and (by their folder's age) other processes'."""
        now = self.clock()
        with self._lock:
            old = [k for k, r in self._renders.items() if r.state != "rendering" and now - r.started > KEEP_SECONDS]
            for k in old:
                del self._renders[k]
            mine = set(self._renders)
        for k in old:
            shutil.rmtree(self.root / k, ignore_errors=True)
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            try:
                if folder.name not in mine and now - folder.stat().st_mtime > KEEP_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue
