"""The billing run: validate everything up front, then one task per customer.

    template ─ load + validate ──┐
    customers ─ stream + validate ┼─► shared scenes (one task per locale and variant)
    bucket ─ reachable? ─────────┘          │ handle (a Ray ObjectRef)
                                            ├─► live mode: base videos (one task per locale
                                            │   and set of played scenes), published at once
                                            ▼
                         one task per customer (bounded in flight)
                                            ▼
                         manifest + error report + summary, written last

The run orchestrates and publishes; the pixels come from renderer/ (renderer.shared
for the work customers share). Tasks run on an executor (workers/executors.py):
Ray by default, in this process for unit tests.

Expected failures of the run itself (bad template, unreadable input,
unreachable bucket) raise before any rendering; a failing customer is a row in
the manifest and the error report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from renderer.cache import SegmentCache
from renderer.checks import check_template
from renderer.shared import Played, played_by_rendition, render_base_videos, render_shared_scenes, seed_segments
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.context import choose_variant
from tailorcast.csvfile import csv_bytes
from tailorcast.expressions import ExpressionError
from tailorcast.customers import Customer, read_customers
from tailorcast.errors import RowError
from tailorcast.payments.links import derive_key
from tailorcast.settings import Settings
from tailorcast.spec.model import Template
from tailorcast.tokens import customer_token

from microsite.build import shared_files

from .executors import Executor, RayExecutor
from .job import CustomerResult, RunContext, render_customer, run_inputs
from .local_ray import ray_init

log = logging.getLogger("tailorcast.run")
MANIFEST_FIELDS = ["row", "customer_id", "status", "variant", "token", "page", "video", "error", "seconds", "cache_hits", "segments"]
ERROR_FIELDS = ["row", "customer_id", "column", "reason"]


@dataclass
class RunSummary:
    run_id: str
    template: str
    template_version: int
    rows: int = 0
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    invalid: int = 0
    seconds: float = 0.0
    manifest: str = ""
    errors: str = ""
    summary: str = ""
    example_page: str = ""
    shared_segments: int = 0  # newly published to shared/seg/
    personal_segments_dropped: int = 0  # removed from this machine's cache at the end (drop_personal_segments)
    locales: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def derive_run_id(template: Template, customers_path: Path) -> str:
    """Same template and same input file → same run id, so a rerun resumes the same run."""
    h = hashlib.sha256(template.content_hash.encode())
    with open(customers_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"{template.name}-{h.hexdigest()[:12]}"


def count_rows(path: Path) -> int | None:
    try:
        with open(path, "rb") as fh:
            n = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return None
    return max(n - 1, 0) if path.suffix.lower() == ".csv" else n


def publish_shared_segments(executor: Executor, handles: list, bucket: Bucket) -> int:
    """Shared segments go to the bucket once (content-addressed): the cache survives the machine."""
    published = 0
    for handle in handles:
        try:
            segments = executor.get(handle)
        except Exception as exc:  # the customers of that locale already failed with this reason
            log.warning("shared scenes could not be rendered: %s", str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
            continue
        for key, data in segments.items():
            obj = keys.shared_object("seg", key, "mp4")
            if not bucket.exists(obj):
                bucket.put_bytes(obj, data)
                published += 1
    return published


def base_videos_task(run: RunContext, locale: str, strings_locale: str, variant: str | None, played: Played,
                     shared: dict[str, bytes]) -> dict[str, str]:
    """Live mode: render the base videos of one group and publish them before any page links to them:
    {rendition: bucket key}."""
    out = {}
    for rendition, (digest, path) in render_base_videos(run.template, locale, strings_locale, variant, played, shared,
                                                        run.cache_root).items():
        key = keys.shared_object("video", digest, "mp4")
        if not run.bucket.exists(key):
            run.bucket.put_file(key, path)
        out[rendition] = key
    return out


def customer_task(run: RunContext, customer: Customer, token: str, shared: dict[str, bytes], base_videos: dict[str, str] | None = None) -> CustomerResult:
    seed_segments(SegmentCache(run.cache_root), shared)
    return render_customer(run, customer, token, base_videos)


def run_billing(
    template: Template,
    customers_path: Path,
    bucket: Bucket,
    settings: Settings,
    run_id: str | None = None,
    limit: int | None = None,
    ray_address: str | None = None,
    on_progress: Callable[[int, int | None, CustomerResult | RowError], None] | None = None,
    api: bool = False,
    executor: Executor | None = None,
    drop_personal_segments: bool = False,
) -> RunSummary:
    """``api``: the pages use the public server on their own origin (``/api/``: events, paid status,
    instalment form); without it they are plain static pages that never call a server.

    ``executor``: where the tasks run; by default a local Ray instance (or ``ray_address``'s cluster),
    started here and shut down at the end. ``InProcessExecutor()`` runs them in this process.

    ``drop_personal_segments``: when the run ends, remove its customers' scene segments from this
    machine's segment cache (the nodes of a cluster keep theirs: ``tailorcast cache prune`` there)."""
    started = time.perf_counter()
    check_template(template)  # strings our fonts cannot draw: TemplateError before any work
    customers_path = Path(customers_path)
    rows = read_customers(template, customers_path)  # InputError here, before any work
    bucket.check()  # StorageError here, before any work
    run_id = run_id or derive_run_id(template, customers_path)
    keys.run_file(run_id, "summary.json")  # validates the run id early
    total = count_rows(customers_path)
    if limit is not None and total is not None:
        total = min(total, limit)
    summary = RunSummary(run_id, template.name, template.version)
    log.info("run %s: template %s v%s, %s rows", run_id, template.name, template.version, total if total is not None else "?")

    shared_media = {}
    for name, f in shared_files(template).items():
        if not bucket.exists(f.key):
            bucket.put_bytes(f.key, f.data)
        shared_media[name] = f.key

    if executor is None:
        ray, owned = ray_init(settings, ray_address)
        executor = RayExecutor(ray, owned)
    try:
        run = RunContext(template, run_id, bucket, str(settings.cache_dir), shared_media, settings.ffmpeg_threads,
                         derive_key(settings.secret, "pay-link"), api, run_inputs(shared_media))
        run_ref = executor.put(run)
        template_ref = executor.put(template)
        shared_refs: dict[tuple[str, str], object] = {}
        base_refs: dict[tuple, object] = {}
        in_flight: dict = {}
        # re-read as the cluster grows (autoscaling)
        limit_in_flight, checked_at = executor.capacity(), 0
        results: list[dict] = []
        errors: list[dict] = []
        done = 0

        def collect(ready) -> None:
            nonlocal done
            for ref in ready:
                row, cid = in_flight.pop(ref)
                try:
                    r: CustomerResult = executor.get(ref)
                except Exception as exc:  # worker crashed twice, or the shared render failed
                    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                    r = CustomerResult(row, cid, "failed", error=f"worker error: {reason}")
                setattr(summary, r.status, getattr(summary, r.status) + 1)
                if r.status == "ok" and not summary.example_page:
                    summary.example_page = r.page
                if r.status == "failed":
                    errors.append({"row": r.row, "customer_id": r.customer_id, "column": "", "reason": r.error})
                    log.warning("run %s row %s: failed (%s); the reason is in the run's error report", run_id, r.row, "retryable" if r.retryable else "fatal")
                    log.debug("run %s row %s: %s", run_id, r.row, r.error)
                else:
                    log.info("run %s row %s: %s (%.1f s)", run_id, r.row, r.status, r.seconds)
                results.append(asdict(r))
                done += 1
                if on_progress:
                    on_progress(done, total, r)

        for n, item in enumerate(rows):
            if limit is not None and n >= limit:
                break
            summary.rows += 1
            if isinstance(item, RowError):
                summary.invalid += 1
                errors.append({"row": item.row, "customer_id": item.customer_id, "column": item.column, "reason": item.reason})
                log.warning("run %s %s", run_id, item.public_str())
                done += 1
                if on_progress:
                    on_progress(done, total, item)
                continue
            try:
                variant = choose_variant(template, item.values, item.locale, item.strings_locale)
            except ExpressionError as exc:
                bad = RowError(item.row, item.customer_id, "", f"no variant: {exc}")
                summary.invalid += 1
                errors.append({"row": bad.row, "customer_id": bad.customer_id, "column": "", "reason": bad.reason})
                log.warning("run %s row %s: no variant rule could be evaluated; see the error report", run_id, item.row)
                done += 1
                if on_progress:
                    on_progress(done, total, bad)
                continue
            lk = (item.locale, item.strings_locale, variant)
            if lk not in shared_refs:
                shared_refs[lk] = executor.submit(render_shared_scenes, template_ref, item.locale, item.strings_locale, variant, run.cache_root)
            summary.locales[item.locale] = summary.locales.get(item.locale, 0) + 1
            token = customer_token(settings.secret, template.name, run_id, item.customer_id)
            base_ref = None
            if template.video.live:
                played = played_by_rendition(template, item, variant)
                if played is not None:
                    bk = lk + (played,)
                    if bk not in base_refs:
                        base_refs[bk] = executor.submit(base_videos_task, run_ref, item.locale, item.strings_locale, variant, played, shared_refs[lk])
                    base_ref = base_refs[bk]
            ref = executor.submit(customer_task, run_ref, item, token, shared_refs[lk], base_ref)
            in_flight[ref] = (item.row, item.customer_id)
            if summary.rows - checked_at >= 200:
                limit_in_flight, checked_at = executor.capacity(), summary.rows
            while len(in_flight) >= limit_in_flight:
                collect(executor.wait(in_flight))
        while in_flight:
            collect(executor.wait(in_flight))
        summary.shared_segments = publish_shared_segments(executor, list(shared_refs.values()), bucket)
    finally:
        executor.close()
        if drop_personal_segments:
            summary.personal_segments_dropped = SegmentCache(settings.cache_dir, run_id).drop_personal().files

    results.sort(key=lambda r: r["row"])
    errors.sort(key=lambda r: r["row"])
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.manifest = keys.run_file(run_id, "manifest.csv")
    summary.errors = keys.run_file(run_id, "errors.csv")
    summary.summary = keys.run_file(run_id, "summary.json")
    bucket.put_bytes(summary.errors, csv_bytes(ERROR_FIELDS, errors))
    bucket.put_bytes(summary.manifest, csv_bytes(MANIFEST_FIELDS, results))
    bucket.put_bytes(summary.summary, summary.to_json().encode())
    log.info("run %s: %s ok, %s skipped, %s failed, %s invalid rows in %.1f s", run_id, summary.ok, summary.skipped, summary.failed, summary.invalid, summary.seconds)
    return summary
