"""A finished run's manifest into the store, so its tokens can be tied to their arm, variant and send date.

The run writes ``runs/<run id>/manifest.csv`` (token, status, variant, arm, invoice reference, customer id) and
``summary.json`` (template, experiment declaration) to its bucket; ``import_run`` reads both from there and
replaces what the store held for that run, so importing again after a rerun is safe. Customer ids become
:func:`results.identity.customer_key`; nothing else personal is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from store.results import ResultsCustomer, ResultsRun
from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.csvfile import read_rows
from tailorcast.errors import ResultsInputError

from .identity import customer_key

ANALYSED = ("ok", "skipped", "holdout", "failed")  # manifest statuses that carry a customer
_CHUNK = 5000


@dataclass(frozen=True)
class ImportedRun:
    run_id: str
    customers: int
    experiment: str | None
    arms: dict[str, int]


def import_run(engine: Engine, bucket: Bucket, run_id: str, secret: bytes, sent_at: dt.datetime | None, now: dt.datetime) -> ImportedRun:
    """Store the run's customers; ``sent_at`` (default: kept from an earlier import, else ``now``) is the send date."""
    manifest_key = keys.run_file(run_id, "manifest.csv")
    data = bucket.get_bytes(manifest_key)
    if data is None:
        raise ResultsInputError(manifest_key, "no manifest there; check the run id and --from (the bucket the run published to), and that the run finished")
    summary = json.loads(bucket.get_bytes(keys.run_file(run_id, "summary.json")) or b"{}")
    declaration = summary.get("experiment")
    text = data.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)), [])
    missing = {"token", "status", "customer_id"} - set(header)
    if missing:
        raise ResultsInputError(manifest_key, f"the manifest has no {', '.join(sorted(missing))} column; is it a Tailorcast manifest?")
    rows, arms = [], {}
    for rec in read_rows(text):
        status, token = (rec.get("status") or "").strip(), (rec.get("token") or "").strip()
        if status not in ANALYSED or not token:
            continue
        arm = rec.get("arm") or None
        rows.append({"run_id": run_id, "token": token, "customer_key": customer_key(secret, rec["customer_id"]),
                     "ref": rec.get("ref") or None, "variant": rec.get("variant") or None, "arm": arm, "status": status})
        arms[arm or ""] = arms.get(arm or "", 0) + 1
    with engine.begin() as conn:
        old = conn.execute(select(ResultsRun.sent_at).where(ResultsRun.run_id == run_id)).scalar()
        conn.execute(delete(ResultsCustomer).where(ResultsCustomer.run_id == run_id))
        conn.execute(delete(ResultsRun).where(ResultsRun.run_id == run_id))
        conn.execute(insert(ResultsRun).values(run_id=run_id, template=str(summary.get("template") or run_id.rsplit("-", 1)[0]),
                                               experiment=(declaration or {}).get("id"),
                                               declaration=json.dumps(declaration, sort_keys=True) if declaration else None,
                                               sent_at=sent_at or old or now, imported_at=now))
        for start in range(0, len(rows), _CHUNK):
            conn.execute(insert(ResultsCustomer), rows[start:start + _CHUNK])
    return ImportedRun(run_id, len(rows), (declaration or {}).get("id"), arms)


@dataclass(frozen=True)
class RunListing:
    run_id: str
    template: str
    experiment: str | None
    sent_at: dt.datetime
    customers: int


def imported_runs(engine: Engine, limit: int = 200) -> list[RunListing]:
    """The runs in the results store, the latest send date first (the studio's results index)."""
    from sqlalchemy import func

    with engine.connect() as conn:
        rows = conn.execute(select(ResultsRun.run_id, ResultsRun.template, ResultsRun.experiment, ResultsRun.sent_at, func.count(ResultsCustomer.id))
                            .outerjoin(ResultsCustomer, ResultsCustomer.run_id == ResultsRun.run_id)
                            .group_by(ResultsRun.run_id, ResultsRun.template, ResultsRun.experiment, ResultsRun.sent_at)
                            .order_by(ResultsRun.sent_at.desc(), ResultsRun.run_id).limit(limit))
        return [RunListing(r[0], r[1], r[2], r[3] if r[3].tzinfo else r[3].replace(tzinfo=dt.timezone.utc), r[4]) for r in rows]
