"""Baking later: chosen customers of a published run get their video files and a page with the download link.

A run with ``video.bake: false`` publishes pages that play the shared base video with live stills and
have nothing to download. For the few customers who ask for a file, ``tailorcast bake`` renders their
videos with the same tokens (same secret, template and run id), adds ``video-<rendition>.mp4`` and
``poster-<rendition>.jpg`` to their folders and rewrites their pages, which keep playing live:

    template (bake forced on) + chosen rows ── render_customer ──► c/<token>/video-*.mp4, poster-*.jpg, index.html

It runs in this process, one customer after the other: it is meant for a handful of customers, not a run.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from microsite.build import shared_files
from renderer.checks import check_template
from renderer.shared import played_by_rendition, render_base_videos, render_shared_scenes
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.context import choose_variant
from tailorcast.customers import InputOptions, read_customers
from tailorcast.errors import ExpressionError, RowError
from tailorcast.payments.links import derive_key
from tailorcast.settings import Settings
from tailorcast.spec.model import Template
from tailorcast.tokens import customer_token

from .job import CustomerResult, RunContext, render_customer, run_inputs

log = logging.getLogger("tailorcast.bake")


@dataclass
class BakeSummary:
    run_id: str
    results: list[CustomerResult] = field(default_factory=list)
    missing_rows: list[int] = field(default_factory=list)  # asked for with --rows, not in the file

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def parse_rows(text: str) -> set[int]:
    """``"2,7,9"`` or ``"2-5,9"`` → row numbers; ValueError with the part that is not one."""
    out: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"'{part}' is not a row number or a range like 2-5") from None
        if first < 1 or last < first:
            raise ValueError(f"'{part}' is not a row number or a range like 2-5")
        out.update(range(first, last + 1))
    return out


def baked(template: Template) -> Template:
    """The template with ``video.bake`` on and live mode kept (the page goes on playing live)."""
    return dataclasses.replace(template, video=dataclasses.replace(template.video, bake=True, live=template.video.live or not template.video.bake))


def bake_customers(template: Template, customers: Path | str, bucket: Bucket, settings: Settings, run_id: str,
                   rows: Iterable[int] | None = None, api: bool = False, input_options: InputOptions | None = None,
                   on_result: Callable[[CustomerResult], None] | None = None) -> BakeSummary:
    """Bake the customers of ``customers`` (only ``rows``, when given) that run ``run_id`` published.

    ``api`` must be what the run used, so the rewritten page calls the same server. A customer whose page
    is not in the bucket is ``failed`` ("not published by this run"), not rendered."""
    check_template(template)
    rows_wanted = set(rows) if rows is not None else None
    items = read_customers(template, customers, input_options or InputOptions())  # InputError before any work
    bucket.check()
    keys.run_file(run_id, "summary.json")  # validates the run id
    tpl = baked(template)
    shared_media = {}
    for name, f in shared_files(tpl).items():
        if not bucket.exists(f.key):
            bucket.put_bytes(f.key, f.data)
        shared_media[name] = f.key
    cache_root = str(settings.cache_dir)
    run = RunContext(tpl, run_id, bucket, cache_root, shared_media, settings.ffmpeg_threads, derive_key(settings.secret, "pay-link"),
                     api, run_inputs(shared_media))
    summary = BakeSummary(run_id)
    shared_done: set[tuple] = set()
    bases: dict[tuple, dict[str, str]] = {}
    seen: set[int] = set()

    def done(r: CustomerResult) -> None:
        summary.results.append(r)
        log.info("bake %s row %s: %s", run_id, r.row, r.status)
        if on_result:
            on_result(r)

    for item in items:
        if rows_wanted is not None and item.row not in rows_wanted:
            continue
        seen.add(item.row)
        if isinstance(item, RowError):
            done(CustomerResult(item.row, item.customer_id, "failed", error=f"invalid row: {item.public_str()}"))
            continue
        try:
            variant = choose_variant(template, item.values, item.locale, item.strings_locale)
        except ExpressionError as exc:
            done(CustomerResult(item.row, item.customer_id, "failed", error=f"no variant: {exc}"))
            continue
        token = customer_token(settings.secret, template.name, run_id, item.customer_id)
        if bucket.get_bytes(keys.customer_page(token)) is None:
            done(CustomerResult(item.row, item.customer_id, "failed", token=token,
                                error=f"not published by run {run_id}: check the run id, --out and TAILORCAST_SECRET"))
            continue
        group = (item.locale, item.strings_locale, variant)
        if group not in shared_done:  # into this machine's segment cache, where render_customer looks
            render_shared_scenes(template, item.locale, item.strings_locale, variant, cache_root)
            shared_done.add(group)
        base = None
        if tpl.video.live:
            played = played_by_rendition(template, item, variant)
            if played is not None:
                if group + (played,) not in bases:
                    found = {}
                    for rendition, (digest, path, poster) in render_base_videos(template, *group, played, {}, cache_root).items():
                        key = keys.shared_object("video", digest, "mp4")
                        for obj, file in ((keys.base_poster(key), poster), (key, path)):
                            if not bucket.exists(obj):
                                bucket.put_file(obj, file)
                        found[rendition] = key
                    bases[group + (played,)] = found
                base = bases[group + (played,)]
        done(render_customer(run, item, token, base))
    if rows_wanted is not None:
        summary.missing_rows = sorted(rows_wanted - seen)
    return summary
