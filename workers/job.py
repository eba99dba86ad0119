"""One customer, start to finish: video, poster, captions, page, published; never raises.

Whatever goes wrong is caught here and comes back as a ``failed`` result with
its reason, so one customer can never stop a billing run. A transient bucket
error (throttling, 5xx, a reset or a timeout) is retried with exponential
backoff and a cap, and each failed attempt's error is kept in the result;
any other error is recorded once and never retried. The customer's files are
written in a temporary folder that is removed whatever happens, and its
personal segments are dropped from the cache when the job ends, so a
worker's disk holds one customer at a time.
"""

from __future__ import annotations

import hashlib
import logging
import resource
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import microsite
from microsite.build import build_page
from microsite.player import player_data
from renderer import RENDERER_VERSION
from renderer import live
from renderer.cache import SegmentCache
from renderer.captions import to_webvtt
from renderer.text import fonts_digest
from renderer.video import render_video
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.context import customer_context
from tailorcast.customers import Customer
from tailorcast.errors import RenderError, TailorcastError, TransientError
from tailorcast.expressions import ExpressionError, row_budget
from tailorcast.spec.model import Template

log = logging.getLogger("tailorcast.job")
BUILD_META = '<meta name="tc-build" content="{}">'
ATTEMPTS = 5  # tries of one bucket call: the first and four retries
BACKOFF_S = 0.5  # wait before retry n: BACKOFF_S · 2ⁿ⁻¹ seconds …
BACKOFF_CAP_S = 8.0  # … and never longer than this


@dataclass(frozen=True)
class RunContext:
    """What every customer job of a run shares (shipped to workers once)."""

    template: Template
    run_id: str
    bucket: Bucket
    cache_root: str
    shared_media: dict  # name → bucket key, e.g. {"css": "shared/css/….css"}
    threads: int = 1
    pay_key: bytes | None = None  # signs pay links (payment.provider: signed); derived from the run secret
    api: bool = False  # pages use the public server on their origin (events, paid status, instalment form)
    inputs: str = ""  # run_inputs(): what else the outputs depend on (page code, shared page files, fonts)
    force: bool = False  # render and publish even when the published page is already this build
    # told (rendition, frames done, frames in all) as each video's segments are made; None in a run (a Ray worker
    # cannot call back): the studio's in-process preview sets it (studio/renders.py)
    progress: Callable[[str, int, int], None] | None = None


@dataclass
class CustomerResult:
    row: int
    customer_id: str
    status: str  # ok | skipped | failed
    token: str = ""
    page: str = ""
    video: str = ""
    poster: str = ""
    variant: str = ""
    error: str = ""
    retryable: bool = False
    seconds: float = 0.0
    cache_hits: int = 0
    segments: int = 0
    timings: dict = field(default_factory=dict)
    attempts: int = 1  # tries it took: 1, plus one per retried bucket call or re-run task
    attempt_errors: list = field(default_factory=list)  # the error of every failed try, in order
    cpu_seconds: float = 0.0  # this process and its children (ffmpeg) while the job ran
    bytes: int = 0  # uploaded
    node: str = ""  # where it ran (the executor fills it in)


@lru_cache(maxsize=1)
def _page_code_digest() -> str:
    """The page builder's code and static files (microsite/): a change there changes every page."""
    root = Path(microsite.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def run_inputs(shared_media: Mapping[str, str]) -> str:
    """Digest of what a customer's outputs depend on besides the template folder, the row and the run:
    the page builder's code, the shared page files (player.js, site.css, logo: their keys are content
    hashes) and the fonts."""
    h = hashlib.sha256(f"code={_page_code_digest()}\0fonts={fonts_digest()}\0".encode())
    for name, key in sorted(shared_media.items()):
        h.update(f"{name}={key}\0".encode())
    return h.hexdigest()


def build_hash(run: RunContext, customer: Customer, base_videos: Mapping[str, str] | None = None) -> str:
    """Same inputs → same outputs, so a rerun may skip the customer. The inputs: the renderer version, the
    template folder and the assets it references (spec's content hash: template.yaml, page, strings, brand
    assets), the run id, the API switch, baked or not (``tailorcast bake`` bakes later), :func:`run_inputs`, live mode's base
    videos and the row's values."""
    h = hashlib.sha256(f"{RENDERER_VERSION}\0{run.template.content_hash}\0{run.run_id}\0api={run.api}\0bake={run.template.video.bake}\0{run.inputs}\0".encode())
    for rendition, key in sorted((base_videos or {}).items()):
        h.update(f"base:{rendition}={key}\0".encode())
    for k in sorted(customer.values):
        h.update(f"{k}={customer.values[k]!r}\0".encode())
    return h.hexdigest()[:32]


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, …): exponential, capped."""
    return min(BACKOFF_CAP_S, BACKOFF_S * 2 ** (attempt - 1))


def _with_retries(res: CustomerResult, what: str, fn, *args):
    """``fn(*args)``, tried again after a TransientError (at most ATTEMPTS in all); every failure is noted in ``res``."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return fn(*args)
        except TransientError as exc:
            res.attempt_errors.append(f"{what}: {str(exc).splitlines()[0]}")
            if attempt == ATTEMPTS:
                raise
            res.attempts += 1
            time.sleep(backoff(attempt))


def _publish(run: RunContext, res: CustomerResult, token: str, videos: dict, captions: str, page_html: str, lang: str, files: dict[str, bytes],
             page_was_absent: bool) -> str:
    b = run.bucket
    written: set[str] = set()

    def put_bytes(key: str, data: bytes, what: str) -> None:
        _with_retries(res, f"upload {what}", b.put_bytes, key, data)
        res.bytes += len(data)
        written.add(key)

    def put_file(key: str, path: Path, what: str) -> None:
        _with_retries(res, f"upload {what}", b.put_file, key, path)
        res.bytes += Path(path).stat().st_size
        written.add(key)

    for key, data in files.items():
        put_bytes(key, data, "live stills")
    for rendition, result in videos.items():
        put_file(keys.customer_file(token, keys.video_name(rendition)), result.video, f"{rendition} video")
        put_file(keys.customer_file(token, keys.poster_name(rendition)), result.poster, f"{rendition} poster")
    put_bytes(keys.customer_file(token, keys.captions_name(lang)), captions.encode(), "captions")
    page_key = keys.customer_page(token)
    # last: its presence means "complete". A page that was not there is created only if still absent, so a
    # write whose answer was lost and is tried again stores the page once (the retry finds our own page).
    page = page_html.encode()
    replaced = not page_was_absent  # a page of an earlier build was there: the folder may hold files it no longer uses
    if not page_was_absent:
        put_bytes(page_key, page, "page")
    elif _with_retries(res, "upload page", b.put_new, page_key, page):
        res.bytes += len(page)
    elif _with_retries(res, "read the published page", b.get_bytes, page_key) != page:
        put_bytes(page_key, page, "page")  # another build got there first (or --force over a published page): ours wins
        replaced = True
    if replaced:
        _remove_stale(res, b, token, written | {page_key})
    return page_key


def _remove_stale(res: CustomerResult, b, token: str, kept: set[str]) -> None:
    """After a page is built again over an older one, the live stills and captions it does not use go (personal
    data that nothing links any more); one LIST per rebuilt customer, nothing for a first publish. Best effort:
    the page is published whatever happens here, so a failure (no delete permission, an outage) is noted in the
    customer's attempt errors and logged, and the customer stays published."""
    prefix = keys.customer_prefix(token)
    try:
        for key in _with_retries(res, "list the customer's folder", b.list_keys, prefix):
            if key not in kept and keys.built_with_the_page(key[len(prefix):]):
                _with_retries(res, "remove a file the page no longer uses", b.delete, key)
    except TailorcastError as exc:
        log.warning("row %s: files the rebuilt page no longer uses could not all be removed (%s); they stay "
                    "unlinked in the customer's folder", res.row, type(exc).__name__, extra={"row": res.row})


def _cpu() -> float:
    """CPU seconds of this process and of its waited-for children (the ffmpeg encodes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def page_media(run: RunContext, page_key: str, lang: str, base_videos: Mapping[str, str] | None = None) -> dict:
    """URLs the page uses, relative to it; the default rendition comes first. Without a baked video (``video.bake:
    false``) the sources are the shared base videos and their posters, and there is nothing to download."""
    v = run.template.video
    order = [v.rendition()] + [r for r in v.renditions if r.name != v.default_rendition]
    if v.bake:
        src = {r.name: keys.video_name(r.name) for r in order}
        poster = {r.name: keys.poster_name(r.name) for r in order}
    else:
        base = base_videos or {}
        src = {r.name: keys.relative_url(page_key, base[r.name]) for r in order}
        poster = {r.name: keys.relative_url(page_key, keys.base_poster(base[r.name])) for r in order}
    return {
        "video": src[order[0].name],
        "poster": poster[order[0].name],
        "download": src[order[0].name] if v.bake else "",
        "videos": [{"rendition": r.name, "src": src[r.name], "poster": poster[r.name], "width": r.width,
                    "height": r.height, "orientation": r.orientation} for r in order],
        "captions": keys.captions_name(lang),
        **{name: keys.relative_url(page_key, key) for name, key in run.shared_media.items()},
    }


def live_media(run: RunContext, ctx: dict, token: str, page_key: str, base_videos: Mapping[str, str]) -> tuple[dict, dict[str, bytes]]:
    """Live mode's player data (base video, live stills and their sheets per rendition) and the sheets to publish:
    one file per rendition, ``o/<rendition>.webp``."""
    data: dict = {}
    files: dict[str, bytes] = {}
    for r in run.template.video.renditions:
        if r.name not in base_videos:
            continue
        stills, sheets = live.live_sheets(run.template, ctx, r.name)
        urls = []
        for sheet in sheets:
            key = keys.live_sheet_file(token, sheet.name)
            files[key] = sheet.data
            urls.append(sheet.as_json(key[len(keys.customer_prefix(token)):]))  # o/<name>: next to the page
        data[r.name] = {**live.rendition_info(run.template, ctx, r.name), "src": keys.relative_url(page_key, base_videos[r.name]),
                        "sheets": urls, "stills": [o.as_json() for o in stills]}
    return data, files


def render_customer(run: RunContext, customer: Customer, token: str, base_videos: Mapping[str, str] | None = None) -> CustomerResult:
    """``base_videos``: live mode's shared base video per rendition (bucket keys), published already."""
    t0, cpu0 = time.perf_counter(), _cpu()
    res = CustomerResult(customer.row, customer.customer_id, "failed", token=token)
    cache = SegmentCache(run.cache_root, f"{run.run_id}.r{customer.row}")  # this customer's personal segments, dropped below
    try:
        with row_budget():  # every expression and the page of this customer: one CPU account (ROW_SECONDS)
            digest = build_hash(run, customer, base_videos)
            page_key = keys.customer_page(token)
            bake = run.template.video.bake
            if not bake and not base_videos:
                raise RenderError("live page", "video.bake is false but no base video was rendered for this customer")
            if bake:
                res.video = keys.customer_file(token, keys.video_name(run.template.video.default_rendition))
                res.poster = keys.customer_file(token, keys.poster_name(run.template.video.default_rendition))
            else:
                res.poster = keys.base_poster(base_videos[run.template.video.default_rendition])
            ctx = customer_context(run.template, customer, run.pay_key, token)
            res.variant = ctx["variant"]
            existing = None if run.force else _with_retries(res, "read the published page", run.bucket.get_bytes, page_key)
            if existing is not None and BUILD_META.format(digest).encode() in existing:
                res.status, res.page = "skipped", page_key
                return res
            with tempfile.TemporaryDirectory(prefix="tc-customer-") as tmp:
                videos = {}
                lang = ctx["lang"]
                if bake:
                    for r in run.template.video.renditions:
                        told = (lambda done, total, name=r.name: run.progress(name, done, total)) if run.progress else None
                        videos[r.name] = render_video(run.template, ctx, Path(tmp) / r.name, cache, run.threads, r.name, told)
                    first = videos[run.template.video.default_rendition]
                    timeline, cues, captions = first.timeline, first.cues, first.captions
                else:  # no video encode: chapters and captions without pixels, the live stills below
                    timeline, cues = live.live_timeline(run.template, ctx)
                    captions = to_webvtt(cues, lang)
                chapters = [{"id": sid, "start": start, "title": title} for sid, start, _end, title in timeline.scenes]
                live_data, files = live_media(run, ctx, token, page_key, base_videos) if base_videos else (None, {})
                api = keys.relative_url(page_key, "api/") if run.api else ""
                player = player_data(run.template, ctx, timeline.scenes, live=live_data, api=api, token=token)
                html = build_page(run.template, ctx, page_media(run, page_key, lang, base_videos), chapters, [c.text for c in cues],
                                  player=player, api=api, token=token)
                html = html.replace("<head>", "<head>\n" + BUILD_META.format(digest), 1)
                res.page = _publish(run, res, token, videos, captions, html, lang, files, existing is None)
            res.status = "ok"
            res.segments = sum(len(v.segments) for v in videos.values())
            res.cache_hits = sum(1 for v in videos.values() for _, _, hit in v.segments if hit)
            res.timings = {k: round(sum(v.seconds.get(k, 0) for v in videos.values()), 3) for k in (first.seconds if videos else {})}
    except (TailorcastError, ExpressionError) as exc:
        res.error = str(exc).splitlines()[0]
        res.retryable = isinstance(exc, TransientError) or getattr(exc, "retryable", False)
        log.debug("row %s (customer %s) failed", customer.row, customer.customer_id, exc_info=True)
    except Exception as exc:  # a bug must not stop the run: record it with its type
        res.error = f"internal error: {type(exc).__name__}: {exc}"
        log.debug("row %s failed with an unexpected error", customer.row, exc_info=True)
    finally:
        cache.drop_personal()
        res.seconds = round(time.perf_counter() - t0, 3)
        res.cpu_seconds = round(_cpu() - cpu0, 3)
    return res
