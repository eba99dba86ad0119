"""The billing run: validate everything up front, then one Ray task per customer.

    template ─ load + validate ──┐
    customers ─ stream + validate ┼─► shared scenes (one Ray task per locale)
    bucket ─ reachable? ─────────┘          │ ObjectRef
                                            ├─► live mode: base videos (one Ray task per locale
                                            │   and set of played scenes), published at once
                                            ▼
                         one Ray task per customer (bounded in flight)
                                            ▼
                         manifest + error report + summary, written last

Expected failures of the run itself (bad template, unreadable input,
unreachable bucket) raise before any rendering; a failing customer is a row in
the manifest and the error report.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from renderer import live
from renderer.cache import SegmentCache
from renderer.checks import check_template
from renderer.scenes import resolve_scene
from renderer.video import segment
from renderer.encode import profile_key
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.context import choose_variant, locale_context
from tailorcast.expressions import ExpressionError
from tailorcast.customers import Customer, read_customers
from tailorcast.errors import RowError
from tailorcast.payments.links import derive_key
from tailorcast.settings import Settings
from tailorcast.spec.model import Template
from tailorcast.tokens import customer_token

from microsite.build import shared_files

from .job import CustomerResult, JobSpec, render_customer

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


def render_shared(template: Template, locale: str, strings_locale: str, variant: str | None, cache_root: str) -> dict[str, bytes]:
    """Every shared scene of one locale and variant, in every rendition, encoded once: {scene key: mp4 bytes}."""
    cache = SegmentCache(cache_root)
    ctx = locale_context(template, locale, strings_locale, variant)
    pk = profile_key(template.video.profile, template.video.fps)
    out = {}
    for rendition in template.video.renditions:
        for scene in template.scenes:
            if not scene.shared:
                continue
            rs = resolve_scene(template, scene, ctx, pk, rendition.name)
            if rs is None:
                continue
            path, _ = segment(rs, template, cache, threads=2)
            out[rs.key] = path.read_bytes()
    return out


def publish_shared_segments(ray, refs: list, bucket: Bucket) -> int:
    """Shared segments go to the bucket once (content-addressed): the cache survives the machine."""
    published = 0
    for ref in refs:
        try:
            segments = ray.get(ref)
        except Exception as exc:  # the customers of that locale already failed with this reason
            log.warning("shared scenes could not be rendered: %s", str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
            continue
        for key, data in segments.items():
            obj = keys.shared_object("seg", key, "mp4")
            if not bucket.exists(obj):
                bucket.put_bytes(obj, data)
                published += 1
    return published


def _seed(cache: SegmentCache, shared: dict[str, bytes]) -> None:
    for key, data in shared.items():
        if cache.get("segments", key, "mp4") is None:
            cache.put_bytes("segments", key, "mp4", data)


def render_base_videos(spec: JobSpec, locale: str, strings_locale: str, variant: str | None,
                       played: tuple[tuple[str, tuple[str, ...]], ...], shared: dict[str, bytes]) -> dict[str, str]:
    """Live mode: the base video of one locale, variant and set of played scenes, per rendition, published
    before any page links to it: {rendition: bucket key}. ``played``: (rendition, scene ids) pairs."""
    cache = SegmentCache(spec.cache_root)
    _seed(cache, shared)
    ctx = locale_context(spec.template, locale, strings_locale, variant)
    out = {}
    for rendition, scene_ids in played:
        digest, path = live.render_base(spec.template, ctx, scene_ids, rendition, cache)
        key = keys.shared_object("video", digest, "mp4")
        if not spec.bucket.exists(key):
            spec.bucket.put_file(key, path)
        out[rendition] = key
    return out


def played_scenes(template: Template, customer: Customer, variant: str | None) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """(rendition, ids of the scenes the customer's video plays) pairs; None when a ``when:`` fails (the job reports it)."""
    ctx = {**locale_context(template, customer.locale, customer.strings_locale, variant), **customer.values}
    try:
        return tuple((r.name, live.played_scenes(template, ctx, r.name)) for r in template.video.renditions)
    except ExpressionError:
        return None


def customer_task(spec: JobSpec, customer: Customer, token: str, shared: dict[str, bytes], base_videos: dict[str, str] | None = None) -> CustomerResult:
    _seed(SegmentCache(spec.cache_root), shared)
    return render_customer(spec, customer, token, base_videos)


def _ray_init(settings: Settings, address: str | None):
    import ray

    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # local, single user: no token file
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False, namespace="tailorcast")
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=settings.num_cpus, object_store_memory=512 * 1024 * 1024, **kwargs)
    return ray, True


def _csv_bytes(fields: list[str], rows: Iterable[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode()


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
    drop_personal_segments: bool = False,
) -> RunSummary:
    """``api``: the pages use the public server on their own origin (``/api/``: events, paid status,
    instalment form); without it they are plain static pages that never call a server.

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

    ray, owned = _ray_init(settings, ray_address)
    try:
        spec = JobSpec(template, run_id, bucket, str(settings.cache_dir), shared_media, settings.ffmpeg_threads,
                       derive_key(settings.secret, "pay-link"), api)
        spec_ref = ray.put(spec)
        shared_task = ray.remote(num_cpus=1, max_retries=2)(render_shared)
        job = ray.remote(num_cpus=1, max_retries=2)(customer_task)
        template_ref = ray.put(template)
        shared_refs: dict[tuple[str, str], object] = {}
        base_task = ray.remote(num_cpus=1, max_retries=2)(render_base_videos)
        base_refs: dict[tuple, object] = {}
        in_flight: dict = {}

        def max_in_flight() -> int:
            # re-read as the cluster grows (autoscaling): four tasks queued per CPU
            return max(4, 4 * int(ray.cluster_resources().get("CPU", 1)))

        limit_in_flight, checked_at = max_in_flight(), 0
        results: list[dict] = []
        errors: list[dict] = []
        done = 0

        def collect(ready) -> None:
            nonlocal done
            for ref in ready:
                row, cid = in_flight.pop(ref)
                try:
                    r: CustomerResult = ray.get(ref)
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
                shared_refs[lk] = shared_task.remote(template_ref, item.locale, item.strings_locale, variant, spec.cache_root)
            summary.locales[item.locale] = summary.locales.get(item.locale, 0) + 1
            token = customer_token(settings.secret, template.name, run_id, item.customer_id)
            base_ref = None
            if template.video.live:
                played = played_scenes(template, item, variant)
                if played is not None:
                    bk = lk + (played,)
                    if bk not in base_refs:
                        base_refs[bk] = base_task.remote(spec_ref, item.locale, item.strings_locale, variant, played, shared_refs[lk])
                    base_ref = base_refs[bk]
            ref = job.remote(spec_ref, item, token, shared_refs[lk], base_ref)
            in_flight[ref] = (item.row, item.customer_id)
            if summary.rows - checked_at >= 200:
                limit_in_flight, checked_at = max_in_flight(), summary.rows
            while len(in_flight) >= limit_in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                collect(ready)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            collect(ready)
        summary.shared_segments = publish_shared_segments(ray, list(shared_refs.values()), bucket)
    finally:
        if owned:
            ray.shutdown()
        if drop_personal_segments:
            summary.personal_segments_dropped = SegmentCache(settings.cache_dir, run_id).drop_personal().files

    results.sort(key=lambda r: r["row"])
    errors.sort(key=lambda r: r["row"])
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.manifest = keys.run_file(run_id, "manifest.csv")
    summary.errors = keys.run_file(run_id, "errors.csv")
    summary.summary = keys.run_file(run_id, "summary.json")
    bucket.put_bytes(summary.errors, _csv_bytes(ERROR_FIELDS, errors))
    bucket.put_bytes(summary.manifest, _csv_bytes(MANIFEST_FIELDS, results))
    bucket.put_bytes(summary.summary, summary.to_json().encode())
    log.info("run %s: %s ok, %s skipped, %s failed, %s invalid rows in %.1f s", run_id, summary.ok, summary.skipped, summary.failed, summary.invalid, summary.seconds)
    return summary
