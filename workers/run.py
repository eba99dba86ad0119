"""The billing run: validate everything up front, then customers in batches, recorded as they finish.

    template ─ load + validate ──┐
    customers ─ stream + validate ┼─► shared scenes (one task per locale and variant)
    bucket ─ reachable? ─────────┘          │ handle (a Ray ObjectRef)
    lease ─ the run id is this run's        │
    journal ─ what is done already?         ├─► live mode: base videos (one task per locale
                                            │   and set of played scenes), published at once
                                            ▼
                  one task per batch of customers of one group (bounded in flight)
                                            ▼
                  every outcome → the journal (parts in the bucket, as the run goes)
                                            ▼
                  manifest (Parquet + CSV) + error report assembled from the journal; summary

The run orchestrates and publishes; the pixels come from renderer/ (renderer.shared
for the work customers share). Tasks run on an executor (workers/executors.py):
Ray by default, in this process for unit tests.

Expected failures of the run itself (bad template, unreadable input,
unreachable bucket) raise before any rendering; a failing customer is a row in
the manifest and the error report. A batch whose worker process or node died is
submitted again by the run (not by Ray) with exponential backoff, ``BATCH_ATTEMPTS``
in all, and the failure goes into its customers' attempt errors; its customers
that were published already are found complete and not rendered again.

The run holds the run id's lease (workers/lease.py) from before its first write to its end: a run or a bake
of the same run id going elsewhere refuses it (LeaseError), and it stops before its next journal record when
another process took the lease over.

Customers that ``tailorcast bake`` gave a video later are marked baked in the journal: the run renders
them with ``video.bake`` on (workers/bake.py ``baked``), so a resume skips them as published and
``--force`` bakes them again instead of taking their video away.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from renderer.cache import SegmentCache
from renderer.checks import check_template
from renderer.shared import Played, played_by_rendition, render_base_videos, render_shared_scenes
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.context import choose_variant
from tailorcast.experiments import HOLDOUT, assign_arm
from tailorcast.expressions import ExpressionError
from tailorcast.customers import InputOptions, read_customers
from tailorcast.errors import RowError
from tailorcast.payments.links import derive_key
from tailorcast.records import count_rows
from tailorcast.settings import Settings
from tailorcast.sources import source_of
from tailorcast.spec.model import Template
from tailorcast.tokens import customer_token

from microsite.build import shared_files

from .bake import baked
from .batches import Batch, Item, Shared, batch_size, render_batch
from .executors import Executor, RayExecutor
from .job import CustomerResult, RunContext, backoff, build_hash, run_inputs
from .journal import BAKED, DoneRows, Journal, assemble, read_done, with_backoff
from .lease import HEARTBEAT_S, RUN, TTL_S, Lease
from .local_ray import ray_init

log = logging.getLogger("tailorcast.run")
BATCH_ATTEMPTS = 5  # tries of one batch whose worker process or node died
CAPACITY_EVERY_S = 10.0  # how often the in-flight bound and the autoscaler request follow the cluster


@dataclass
class RunSummary:
    run_id: str
    template: str
    template_version: int
    template_digest: str = ""  # the template folder's content hash: tailorcast bake refuses another version
    api: bool = False  # the pages call the public server (tailorcast bake rewrites pages the same way)
    rows: int = 0
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    invalid: int = 0
    holdout: int = 0  # customers an experiment holds out: no video, no page (manifest status and arm "holdout")
    seconds: float = 0.0
    manifest: str = ""
    errors: str = ""
    summary: str = ""
    example_page: str = ""
    shared_segments: int = 0  # newly published to shared/seg/
    personal_segments_dropped: int = 0  # removed from this machine's cache at the end (drop_personal_segments)
    locales: dict = field(default_factory=dict)
    resumed: int = 0  # of the skipped: rows the journal already listed as published (no request, no task)
    baked: int = 0  # rows the journal lists as baked later (tailorcast bake): rendered with their video, or resumed
    retried: int = 0  # customers that needed more than one attempt
    cpu_seconds: float = 0.0  # the customer jobs' own CPU (worker processes and their ffmpeg), this run
    bytes_uploaded: int = 0  # by the customer jobs, this run
    batches: int = 0
    batch_size: int = 0
    journal_parts: int = 0  # written by this run
    manifest_parquet: str = ""
    manifest_counts: dict = field(default_factory=dict)  # the final manifest and error report, by status (every run of this id)
    started: str = ""
    finished: str = ""
    experiment: dict | None = None  # the template's experiment: section (results read it)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def derive_run_id(template: Template, customers: Path | str, endpoint_url: str | None = None) -> str:
    """Same template and same input file → same run id, so a rerun resumes the same run (an s3:// file:
    the same ETag and size, see Source.fingerprint)."""
    h = hashlib.sha256(template.content_hash.encode())
    h.update(source_of(customers, endpoint_url).fingerprint().encode())
    return f"{template.name}-{h.hexdigest()[:12]}"


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
            if not with_backoff(bucket.exists, obj):
                with_backoff(bucket.put_bytes, obj, data)
                published += 1
    return published


def base_videos_task(shared_run: Shared, locale: str, strings_locale: str, variant: str | None, played: Played,
                     shared: dict[str, bytes]) -> dict[str, str]:
    """Live mode: render the base videos of one group and publish them before any page links to them:
    {rendition: bucket key}."""
    run: RunContext = shared_run.value()
    out = {}
    for rendition, (digest, path, poster) in render_base_videos(run.template, locale, strings_locale, variant, played, shared,
                                                                run.cache_root).items():
        key = keys.shared_object("video", digest, "mp4")
        for obj, file in ((keys.base_poster(key), poster), (key, path)):
            if not with_backoff(run.bucket.exists, obj):
                with_backoff(run.bucket.put_file, obj, file)
        out[rendition] = key
    return out


@dataclass
class InFlight:
    """A submitted batch: its customers' resume hashes, how many times it was tried, and why it failed before."""

    batch: Batch
    group: tuple
    hashes: dict
    attempt: int = 1
    errors: list = field(default_factory=list)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def run_billing(
    template: Template,
    customers: Path | str,
    bucket: Bucket,
    settings: Settings,
    run_id: str | None = None,
    limit: int | None = None,
    ray_address: str | None = None,
    on_progress: Callable[[int, int | None, CustomerResult | RowError], None] | None = None,
    api: bool = False,
    executor: Executor | None = None,
    drop_personal_segments: bool = False,
    force: bool = False,
    cdn_base_url: str | None = None,
    batch: int | None = None,
    journal_every: int = 1000,
    journal_seconds: float = 5.0,
    input_options: InputOptions | None = None,
    lease_ttl: float = TTL_S,
    lease_heartbeat: float = HEARTBEAT_S,
) -> RunSummary:
    """``api``: the pages use the public server on their own origin (``/api/``: events, paid status,
    instalment form); without it they are plain static pages that never call a server.

    ``executor``: where the tasks run; by default a local Ray instance (or ``ray_address``'s cluster),
    started here and shut down at the end. ``InProcessExecutor()`` runs them in this process.

    ``drop_personal_segments``: when the run ends, remove its customers' scene segments from this
    machine's segment cache (each job already drops its own when it ends; this removes leftovers).

    ``force``: render and publish every customer again, even those the journal or the published page
    says are done. ``cdn_base_url``: the manifest's page, video and poster columns become public URLs
    under it instead of bucket keys. ``batch``: customers per task (default: ``batch_size``).
    ``journal_every`` / ``journal_seconds``: a journal part is written after that many outcomes or
    seconds, whichever comes first. ``input_options``: how to read ``customers`` (a path or s3://BUCKET/KEY):
    encoding, decimal mark, S3 endpoint.

    The run holds the run id's lease (workers/lease.py) from its first write to its last: LeaseError when a run or
    bake of that id is going, or took the lease over (``lease_ttl``, ``lease_heartbeat``: its timing, for tests)."""
    started, started_at = time.perf_counter(), datetime.now(timezone.utc)
    check_template(template)  # strings our fonts cannot draw: TemplateError before any work
    input_options = input_options or InputOptions()
    rows = read_customers(template, customers, input_options)  # InputError here, before any work
    bucket.check()  # StorageError here, before any work
    run_id = run_id or derive_run_id(template, customers, input_options.endpoint_url)
    keys.run_file(run_id, "summary.json")  # validates the run id early
    total = count_rows(source_of(customers, input_options.endpoint_url))
    if limit is not None and total is not None:
        total = min(total, limit)
    summary = RunSummary(run_id, template.name, template.version, template.content_hash, api, started=started_at.isoformat(timespec="seconds"))
    log.info("run %s: template %s v%s, %s rows", run_id, template.name, template.version, total if total is not None else "?", extra={"run_id": run_id})

    # the run id's lease, before the first write: a run or bake of this run id going elsewhere refuses this one (LeaseError),
    # and one that takes it over from this run (presumed gone) stops it at its next check
    with Lease(bucket, run_id, RUN, ttl=lease_ttl, heartbeat=lease_heartbeat) as lease:
        shared_media = {}
        for name, f in shared_files(template).items():
            if not bucket.exists(f.key):
                with_backoff(bucket.put_bytes, f.key, f.data)
            shared_media[name] = f.key
        run = RunContext(template, run_id, bucket, str(settings.cache_dir), shared_media, settings.ffmpeg_threads,
                         derive_key(settings.secret, "pay-link"), api, run_inputs(shared_media), force)
        journal_rows = read_done(bucket, run_id)  # the journal: one list + one read per part
        done_rows = DoneRows() if force else journal_rows  # --force renders every row again, baked ones baked
        run_baked = dataclasses.replace(run, template=baked(template))  # rows that tailorcast bake gave a video
        if journal_rows.baked:
            log.info("run %s: %s rows were baked later (tailorcast bake); they keep their video", run_id, len(journal_rows.baked), extra={"run_id": run_id})
        if len(done_rows):
            log.info("run %s: the journal lists %s published rows; they are not rendered again", run_id, len(done_rows), extra={"run_id": run_id})
        journal = Journal(bucket, run_id, every=journal_every, seconds=journal_seconds)

        def journaled(record: dict) -> None:
            lease.check()  # no record written once another process took the run id over
            journal.add(record)

        def url(key: str) -> str:
            return f"{cdn_base_url.rstrip('/')}/{key}" if cdn_base_url and key else key

        if executor is None:
            ray, owned = ray_init(settings, ray_address)
            executor = RayExecutor(ray, owned, local=ray_address is None)
        finished = 0

        def progress(item) -> None:
            nonlocal finished
            finished += 1
            if on_progress:
                on_progress(finished, total, item)

        def record(r: CustomerResult, digest: str) -> None:
            setattr(summary, r.status, getattr(summary, r.status) + 1)
            summary.cpu_seconds += r.cpu_seconds
            summary.bytes_uploaded += r.bytes
            summary.retried += r.attempts > 1
            if r.status == "ok" and not summary.example_page:
                summary.example_page = r.page
            published = r.status in ("ok", "skipped")
            journaled({"row": r.row, "customer_id": r.customer_id, "status": r.status, "variant": r.variant, "token": r.token,
                         "arm": assign_arm(template.experiment, r.customer_id) if template.experiment else "", "ref": refs.pop(r.row, ""),
                         "page": url(r.page) if published else "", "video": url(r.video) if published else "",
                         "poster": url(r.poster) if published else "", "error": r.error, "attempts": r.attempts,
                         "attempt_errors": r.attempt_errors, "seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "bytes": r.bytes,
                         "node": r.node, "hash": digest,
                         **({BAKED: True} if (r.token or customer_token(settings.secret, template.name, run_id, r.customer_id))
                            in journal_rows.baked else {})})
            if r.status == "failed":
                log.warning("run %s row %s: failed (%s) after %s attempt(s); the reason is in the run's error report", run_id, r.row,
                            "retryable" if r.retryable else "fatal", r.attempts, extra={"run_id": run_id, "row": r.row})
                log.debug("run %s row %s: %s", run_id, r.row, r.error, extra={"run_id": run_id, "row": r.row})
            else:
                log.info("run %s row %s: %s (%.1f s)", run_id, r.row, r.status, r.seconds, extra={"run_id": run_id, "row": r.row})
            progress(r)

        def invalid(bad: RowError, message: str) -> None:
            summary.invalid += 1
            journaled({"row": bad.row, "customer_id": bad.customer_id, "status": "invalid", "column": bad.column, "error": bad.reason})
            log.warning("run %s %s", run_id, message, extra={"run_id": run_id, "row": bad.row})
            progress(bad)

        refs: dict[int, str] = {}  # row → invoice reference, while the row is in flight (the manifest's ref column)
        if template.experiment:
            summary.experiment = template.experiment.declaration()

        try:
            run_shared = Shared(f"run:{run_id}:{journal.session}", executor.put(run))
            baked_shared = Shared(f"run:{run_id}:{journal.session}:baked", executor.put(run_baked)) if journal_rows.baked else None
            template_ref = executor.put(template)
            shared_refs: dict[tuple, object] = {}
            base_refs: dict[tuple, object] = {}
            in_flight: dict = {}
            retry_at: list[tuple[float, int, InFlight]] = []  # (when, tie-breaker, batch): failed batches waiting for their next try
            open_batches: dict[tuple, list[tuple[Item, str]]] = {}
            numbers = itertools.count()
            per_customer = 0.05 if template.video.live else 1.0 * len(template.video.renditions)  # a first guess, then measured
            size = batch or batch_size(total, executor.cpus(), per_customer)
            limit_in_flight, checked = executor.capacity(), time.monotonic()
            summary.batch_size = size

            def ask_autoscaler(rows_left: int | None) -> None:
                executor.request(len(in_flight) + len(retry_at) + math.ceil((rows_left if rows_left is not None else size) / size))

            def submit(entry: InFlight) -> None:
                lk, base_ref, is_baked = entry.group[:3], entry.group[3], entry.group[4]
                # retried here, not by Ray: with backoff, and each failure is kept in the manifest's attempt_errors
                handle = executor.submit(render_batch, baked_shared if is_baked else run_shared, entry.batch, shared_refs[lk], base_ref, retries=0)
                in_flight[handle] = entry
                summary.batches += entry.attempt == 1

            def close_batch(group: tuple) -> None:
                items = open_batches.pop(group)
                submit(InFlight(Batch(next(numbers), tuple(i for i, _ in items)), group, {i.customer.row: h for i, h in items}))

            def collect(ready) -> None:
                nonlocal per_customer
                for handle in ready:
                    entry = in_flight.pop(handle)
                    try:
                        results: list[CustomerResult] = executor.get(handle)
                    except Exception as exc:  # the batch's worker or node died (Ray's retries spent), or its shared render failed
                        reason = _reason(exc)
                        if executor.transient(exc) and entry.attempt < BATCH_ATTEMPTS:
                            entry.errors.append(f"worker error: {reason}")
                            log.warning("run %s: batch %s failed (%s); trying it again", run_id, entry.batch.number, type(exc).__name__, extra={"run_id": run_id})
                            entry.attempt += 1
                            retry_at.append((time.monotonic() + backoff(entry.attempt - 1), entry.batch.number, entry))
                            continue
                        results = [CustomerResult(i.customer.row, i.customer.customer_id, "failed", token=i.token, error=f"worker error: {reason}")
                                   for i in entry.batch.items]
                        for r in results:
                            r.attempt_errors = [f"worker error: {reason}"]
                    for r in results:
                        r.attempts += entry.attempt - 1
                        r.attempt_errors = entry.errors + r.attempt_errors
                        record(r, entry.hashes[r.row])
                    rendered = [r.seconds for r in results if r.status == "ok"]
                    if rendered:
                        per_customer = 0.8 * per_customer + 0.2 * (sum(rendered) / len(rendered))

            def wait_some() -> None:
                """Collect what finished (waiting a second at most), resubmit failed batches whose time came, keep the journal moving."""
                now = time.monotonic()
                for item in [x for x in retry_at if x[0] <= now]:
                    retry_at.remove(item)
                    submit(item[2])
                if in_flight:
                    collect(executor.wait(in_flight, timeout=1.0))
                elif retry_at:
                    time.sleep(max(0.0, min(x[0] for x in retry_at) - time.monotonic()))
                lease.check()
                journal.tick()

            for n, item in enumerate(rows):
                if limit is not None and n >= limit:
                    break
                summary.rows += 1
                if isinstance(item, RowError):
                    invalid(item, item.public_str())
                    continue
                try:
                    variant = choose_variant(template, item.values, item.locale, item.strings_locale)
                except ExpressionError as exc:
                    invalid(RowError(item.row, item.customer_id, "", f"no variant: {exc}"), f"row {item.row}: no variant rule could be evaluated; see the error report")
                    continue
                summary.locales[item.locale] = summary.locales.get(item.locale, 0) + 1
                token = customer_token(settings.secret, template.name, run_id, item.customer_id)
                ref = str(item.values.get(template.payment.reference_field) or "")
                if template.experiment and assign_arm(template.experiment, item.customer_id) == HOLDOUT:  # no video, no page: the usual message
                    summary.holdout += 1
                    journaled({"row": item.row, "customer_id": item.customer_id, "status": HOLDOUT, "variant": variant or "", "arm": HOLDOUT,
                                 "ref": ref, "token": token})
                    progress(CustomerResult(item.row, item.customer_id, HOLDOUT, token=token, variant=variant or ""))
                    continue
                is_baked = token in journal_rows.baked  # by customer (token), not by row: a reordered export keeps it
                summary.baked += is_baked
                digest = build_hash(run_baked if is_baked else run, item)  # the driver's resume hash: what the journal compares
                if done_rows.has(item.row, digest):
                    summary.skipped += 1
                    summary.resumed += 1
                    progress(CustomerResult(item.row, item.customer_id, "skipped", token=token))
                    continue
                refs[item.row] = ref
                lk = (item.locale, item.strings_locale, variant)
                if lk not in shared_refs:
                    shared_refs[lk] = executor.submit(render_shared_scenes, template_ref, item.locale, item.strings_locale, variant, run.cache_root)
                base_ref = None
                if template.video.live:
                    played = played_by_rendition(template, item, variant)
                    if played is not None:
                        bk = lk + (played,)
                        if bk not in base_refs:
                            base_refs[bk] = executor.submit(base_videos_task, run_shared, item.locale, item.strings_locale, variant, played, shared_refs[lk])
                        base_ref = base_refs[bk]
                group = lk + (base_ref, is_baked)
                open_batches.setdefault(group, []).append((Item(item, token), digest))
                if len(open_batches[group]) >= size:
                    close_batch(group)
                    if time.monotonic() - checked >= CAPACITY_EVERY_S:  # an autoscaling cluster grows: more in flight
                        limit_in_flight, checked = executor.capacity(), time.monotonic()
                        ask_autoscaler(None if total is None else total - summary.rows)
                while len(in_flight) >= limit_in_flight:
                    wait_some()
            for group in list(open_batches):
                close_batch(group)
            ask_autoscaler(0)
            while in_flight or retry_at:
                wait_some()
            summary.shared_segments = publish_shared_segments(executor, list(shared_refs.values()), bucket)
        finally:
            if not lease.lost:  # taken over: the run's records are the other process's now
                journal.close()  # what finished is recorded even when the run stops here
            executor.close()
            if drop_personal_segments:
                summary.personal_segments_dropped = SegmentCache(settings.cache_dir, run_id).drop_personal().files

        summary.journal_parts = journal.parts
        lease.confirm()  # still this run's (a heartbeat now) before it assembles the manifest
        summary.manifest = keys.run_file(run_id, "manifest.csv")
        summary.manifest_parquet = keys.run_file(run_id, "manifest.parquet")
        summary.errors = keys.run_file(run_id, "errors.csv")
        summary.summary = keys.run_file(run_id, "summary.json")
        summary.manifest_counts = assemble(bucket, run_id).counts
        summary.cpu_seconds = round(summary.cpu_seconds, 2)
        summary.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        summary.seconds = round(time.perf_counter() - started, 2)
        with_backoff(bucket.put_bytes, summary.summary, summary.to_json().encode())
        log.info("run %s: %s ok, %s skipped, %s failed, %s invalid rows in %.1f s", run_id, summary.ok, summary.skipped, summary.failed, summary.invalid,
                 summary.seconds, extra={"run_id": run_id})
        return summary
