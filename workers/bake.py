"""Baking later: chosen customers of a published run get their video files and a page with the download link.

A run with ``video.bake: false`` publishes pages that play the shared base video with live stills and
have nothing to download. For the few customers who ask for a file, ``tailorcast bake`` renders their
videos with the same tokens (same secret, template and run id), adds ``video-<rendition>.mp4`` and
``poster-<rendition>.jpg`` to their folders and rewrites their pages, which keep playing live:

    runs/<id>/summary.json ── same template (name + content digest)? ──► otherwise TemplateError, nothing done
    chosen rows ── their latest journal records (published by this run?) ──┐
    template (bake forced on) ── render_customer ──► c/<token>/video-*.mp4, poster-*.jpg, index.html (last)
                                                                           ▼
    a journal part of its own: each baked customer's record, "baked": true ──► manifest.parquet/.csv assembled again

The run's records stay true: the manifest lists the video and poster of a baked customer, and every later
``tailorcast run`` of that id renders the row baked (a resume skips it as published; ``--force`` bakes it
again). Baking is idempotent: a customer whose latest record is already baked with the same build is
skipped without rendering, and when nothing changed nothing is uploaded (no journal part, no manifest).

It runs in this process, one customer after the other: it is meant for a handful of customers, not a run.
It holds the run id's lease while it writes (workers/lease.py), so it never overlaps a ``tailorcast run`` or
another bake of the same run id: started while one is going, it is refused before it writes anything.
"""

from __future__ import annotations

import dataclasses
import json
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
from tailorcast.errors import ExpressionError, Problem, RowError, StorageError, TemplateError
from tailorcast.payments.links import derive_key
from tailorcast.settings import Settings
from tailorcast.spec.model import Template
from tailorcast.tokens import customer_token

from .job import CustomerResult, RunContext, build_hash, render_customer, run_inputs
from .journal import BAKED, DONE, Journal, assemble, latest_by_token, with_backoff
from .lease import BAKE, HEARTBEAT_S, TTL_S, Lease

log = logging.getLogger("tailorcast.bake")


@dataclass
class BakeSummary:
    run_id: str
    results: list[CustomerResult] = field(default_factory=list)
    missing_rows: list[int] = field(default_factory=list)  # asked for with --rows, not in the file
    records: int = 0  # journal parts this bake wrote, one per customer baked (0: nothing changed, nothing uploaded)
    manifest_counts: dict = field(default_factory=dict)  # the manifest assembled again, by status ({} when not)

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


def run_record(bucket: Bucket, run_id: str) -> dict:
    """The run's ``summary.json``: which template (name, content digest) and API switch it published with.
    StorageError when the run never finished here (wrong run id or --out)."""
    data = with_backoff(bucket.get_bytes, keys.run_file(run_id, "summary.json"))
    if data is None:
        raise StorageError(bucket.describe(), f"no finished run '{run_id}' here ({keys.run_file(run_id, 'summary.json')} is missing): "
                                              "check the run id and --out, or let `tailorcast run` finish the run first")
    return json.loads(data)


def check_same_template(template: Template, record: dict) -> None:
    """Refuse a template that is not the one the run published with: baked pages would mix two versions."""
    digest = record.get("template_digest")
    if record.get("template") == template.name and (digest is None or digest == template.content_hash):
        if digest is None:  # a run published before runs recorded it
            log.warning("run %s does not record its template's digest; make sure %s is the version it published", record.get("run_id"), template.root)
        return
    was = f"'{record.get('template')}' (content digest {str(digest or '?')[:12]})"
    given = f"'{template.name}' (content digest {template.content_hash[:12]})"
    raise TemplateError(template.name, [Problem(str(template.root), (
        f"run {record.get('run_id')} was published with template {was}, but this folder is {given}: a baked page would mix two "
        "versions. Give `tailorcast bake` the template folder as it was for that run (e.g. from the same commit), or publish "
        "the new version with `tailorcast run` first"))])


def bake_customers(template: Template, customers: Path | str, bucket: Bucket, settings: Settings, run_id: str,
                   rows: Iterable[int] | None = None, api: bool | None = None, input_options: InputOptions | None = None,
                   on_result: Callable[[CustomerResult], None] | None = None, lease_ttl: float = TTL_S,
                   lease_heartbeat: float = HEARTBEAT_S) -> BakeSummary:
    """Bake the customers of ``customers`` (only ``rows``, when given) that run ``run_id`` published, record
    them in the run's journal and assemble its manifest again.

    ``api``: whether the pages call the public server; ``None`` takes what the run recorded. A customer the
    journal does not list as published by this run is ``failed`` ("not published by this run"), not rendered.

    It holds the run id's lease (workers/lease.py) while it writes: LeaseError when a run or another bake of that id
    is going, or one started while this bake read the journal (``lease_ttl``, ``lease_heartbeat``: its timing, for tests)."""
    check_template(template)
    rows_wanted = set(rows) if rows is not None else None
    items = read_customers(template, customers, input_options or InputOptions())  # InputError before any work
    bucket.check()
    keys.run_file(run_id, "summary.json")  # validates the run id
    record = run_record(bucket, run_id)
    check_same_template(template, record)
    api = bool(record.get("api", False)) if api is None else api
    tpl = baked(template)
    # the run id's lease: refused now when a run or another bake of this id is going (LeaseError, nothing written);
    # taken before the first write, so a bake that finds everything baked writes nothing
    lease = Lease(bucket, run_id, BAKE, ttl=lease_ttl, heartbeat=lease_heartbeat)
    lease.peek()
    try:
        shared_media = {}
        for name, f in shared_files(template).items():  # the run's own: the same keys, so the same build hash
            if not bucket.exists(f.key):
                lease.take()
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

        chosen = []
        for item in items:
            if rows_wanted is not None and item.row not in rows_wanted:
                continue
            seen.add(item.row)
            chosen.append(item)
        tokens = {i.row: customer_token(settings.secret, template.name, run_id, i.customer_id) for i in chosen if not isinstance(i, RowError)}
        published = latest_by_token(bucket, run_id, tokens.values())  # one pass over the journal
        journal: Journal | None = None
        for item in chosen:
            if isinstance(item, RowError):
                done(CustomerResult(item.row, item.customer_id, "failed", error=f"invalid row: {item.public_str()}"))
                continue
            try:
                variant = choose_variant(template, item.values, item.locale, item.strings_locale)
            except ExpressionError as exc:
                done(CustomerResult(item.row, item.customer_id, "failed", error=f"no variant: {exc}"))
                continue
            token = tokens[item.row]
            before = published.get(token)
            page_key = keys.customer_page(token)
            if before is None or before.get("status") not in DONE or not bucket.exists(page_key):
                done(CustomerResult(item.row, item.customer_id, "failed", token=token,
                                    error=f"not published by run {run_id}: check the run id, --out and TAILORCAST_SECRET"))
                continue
            digest = build_hash(run, item)  # the run's resume hash of a baked row (workers/run.py)
            if before.get(BAKED) and before.get("hash") == digest:  # baked already, this build: nothing to do, nothing uploaded
                done(CustomerResult(item.row, item.customer_id, "skipped", token=token, page=page_key, video=before.get("video", ""),
                                    poster=before.get("poster", ""), variant=before.get("variant", "")))
                continue
            lease.take()  # before this customer's first write (a run that came and went meanwhile: LeaseError)
            lease.check()
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
                        for rendition, (digest_b, path, poster) in render_base_videos(template, *group, played, {}, cache_root).items():
                            key = keys.shared_object("video", digest_b, "mp4")
                            for obj, file in ((keys.base_poster(key), poster), (key, path)):
                                if not bucket.exists(obj):
                                    bucket.put_file(obj, file)
                            found[rendition] = key
                        bases[group + (played,)] = found
                    base = bases[group + (played,)]
            result = render_customer(run, item, token, base)
            if result.status in DONE:  # published baked (or found so): the run's records say it from now on
                journal = journal or Journal(bucket, run_id, every=1)  # a part per customer, right after its page: a killed bake loses no record
                lease.check()
                journal.add(baked_record(before, result, digest))
            done(result)
        # a bake stopped before this point has its records in the journal; the next `tailorcast run` assembles the manifest
        if journal is not None:
            journal.close()
            lease.confirm()  # still this bake's (a heartbeat now) before it assembles the manifest
            summary.manifest_counts = assemble(bucket, run_id).counts
            summary.records = journal.parts
        if rows_wanted is not None:
            summary.missing_rows = sorted(rows_wanted - seen)
        return summary
    finally:
        lease.release()


def baked_record(before: dict, r: CustomerResult, digest: str) -> dict:
    """The run's record of a customer, now baked: its row, reference, arm and URL form (a CDN base URL the
    run used is kept) from the run's record, the video, poster and this bake's figures from ``r``."""
    prefix = before["page"][: -len(r.page)] if r.page and str(before.get("page", "")).endswith(r.page) else ""
    return {**before, "status": r.status, "variant": r.variant or before.get("variant", ""), "page": prefix + r.page,
            "video": prefix + r.video, "poster": prefix + r.poster, "error": "", "attempts": r.attempts,
            "attempt_errors": r.attempt_errors, "seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "bytes": r.bytes, "node": "bake",
            "hash": digest, BAKED: True}
