"""One customer, start to finish: video, poster, captions, page, published; never raises.

Whatever goes wrong is caught here and comes back as a ``failed`` result with
its reason, so one customer can never stop a billing run.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from renderer import RENDERER_VERSION
from renderer.cache import SegmentCache
from renderer.video import render_video
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.context import customer_context
from tailorcast.customers import Customer
from tailorcast.errors import StorageError, TailorcastError, TransientError
from tailorcast.expressions import ExpressionError
from tailorcast.spec import Template

from microsite.build import build_page

log = logging.getLogger("tailorcast.job")
BUILD_META = '<meta name="tc-build" content="{}">'
RETRIES = 3


@dataclass(frozen=True)
class JobSpec:
    """What every customer job of a run shares (shipped to workers once)."""

    template: Template
    run_id: str
    bucket: Bucket
    cache_root: str
    shared_media: dict  # name → bucket key, e.g. {"css": "shared/css/….css"}
    threads: int = 1


@dataclass
class CustomerResult:
    row: int
    customer_id: str
    status: str  # ok | skipped | failed
    token: str = ""
    page: str = ""
    video: str = ""
    error: str = ""
    retryable: bool = False
    seconds: float = 0.0
    cache_hits: int = 0
    segments: int = 0
    timings: dict = field(default_factory=dict)


def build_hash(spec: JobSpec, customer: Customer) -> str:
    """Same template + same row + same renderer → same outputs; a rerun may skip the customer."""
    h = hashlib.sha256(f"{RENDERER_VERSION}\0{spec.template.content_hash}\0{spec.run_id}\0".encode())
    for k in sorted(customer.values):
        h.update(f"{k}={customer.values[k]!r}\0".encode())
    return h.hexdigest()[:32]


def _with_retries(fn, *args):
    for attempt in range(RETRIES):
        try:
            return fn(*args)
        except TransientError:
            if attempt == RETRIES - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def _publish(spec: JobSpec, token: str, work: Path, result, page_html: str, lang: str) -> tuple[str, str]:
    b = spec.bucket
    video_key = keys.customer_file(token, "video.mp4")
    _with_retries(b.put_file, video_key, result.video)
    _with_retries(b.put_file, keys.customer_file(token, "poster.jpg"), result.poster)
    _with_retries(b.put_bytes, keys.customer_file(token, keys.captions_name(lang)), result.captions.encode())
    page_key = keys.customer_file(token, "index.html")
    _with_retries(b.put_bytes, page_key, page_html.encode())  # last: its presence means "complete"
    return page_key, video_key


def render_customer(spec: JobSpec, customer: Customer, token: str) -> CustomerResult:
    t0 = time.perf_counter()
    res = CustomerResult(customer.row, customer.customer_id, "failed", token=token)
    try:
        digest = build_hash(spec, customer)
        page_key = keys.customer_file(token, "index.html")
        existing = spec.bucket.get_bytes(page_key)
        if existing is not None and BUILD_META.format(digest).encode() in existing:
            res.status, res.page, res.video = "skipped", page_key, keys.customer_file(token, "video.mp4")
            return res
        ctx = customer_context(spec.template, customer)
        with tempfile.TemporaryDirectory(prefix="tc-customer-") as tmp:
            work = Path(tmp)
            video = render_video(spec.template, ctx, work, SegmentCache(spec.cache_root), spec.threads)
            lang = ctx["lang"]
            media = {
                "video": "video.mp4",
                "poster": "poster.jpg",
                "captions": keys.captions_name(lang),
                **{name: keys.relative_url(page_key, key) for name, key in spec.shared_media.items()},
            }
            chapters = [{"id": sid, "start": start, "title": title} for sid, start, _end, title in video.timeline.scenes]
            html = build_page(spec.template, ctx, media, chapters, [c.text for c in video.cues])
            html = html.replace("<head>", "<head>\n" + BUILD_META.format(digest), 1)
            res.page, res.video = _publish(spec, token, work, video, html, lang)
        res.status = "ok"
        res.segments = len(video.segments)
        res.cache_hits = sum(1 for _, _, hit in video.segments if hit)
        res.timings = {k: round(v, 3) for k, v in video.seconds.items()}
    except (TailorcastError, ExpressionError) as exc:
        res.error = str(exc).splitlines()[0]
        res.retryable = isinstance(exc, TransientError) or getattr(exc, "retryable", False)
        log.debug("row %s (customer %s) failed", customer.row, customer.customer_id, exc_info=True)
    except Exception as exc:  # a bug must not stop the run: record it with its type
        res.error = f"internal error: {type(exc).__name__}: {exc}"
        log.debug("row %s failed with an unexpected error", customer.row, exc_info=True)
    finally:
        res.seconds = round(time.perf_counter() - t0, 3)
    return res


__all__ = ["JobSpec", "CustomerResult", "render_customer", "build_hash", "StorageError"]
