"""The run's journal: every row's outcome, written to the bucket in parts as the run goes.

    runs/<run-id>/journal/<session ms>-<n>.jsonl   one JSON line per row, sorted by row within a part

A part is written every ``every`` records or ``seconds`` seconds, so a killed driver loses at most the
last few seconds of records (and those customers' pages are found complete by the job's own check).
A rerun reads the parts to learn which rows are done (``read_done``: a compact array, not one request
per customer), and the final manifest and error report are assembled from the parts at the end
(``assemble``) through a spill to local disk in row ranges, so the driver never holds every result.
Within one run id the record written last wins. ``tailorcast bake`` adds parts of its own to a run's
journal: a baked customer's record says ``"baked": true``, and every later run of that id renders that
customer baked again (``read_done(...).baked``, by token, whatever its row), so neither a resume nor ``--force`` takes
its video away.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from tailorcast import keys
from tailorcast.bucket import Bucket
from tailorcast.csvfile import write_csv
from tailorcast.errors import TransientError

log = logging.getLogger("tailorcast.journal")

BAKED = "baked"  # a record's flag: the customer was baked later (tailorcast bake); sticky for the row
DONE = ("ok", "skipped")  # a row with one of these outcomes is published completely
VALID = ("ok", "skipped", "failed", "holdout")  # rows that reach the manifest (holdout: no page, by experiment); "invalid" ones only the error report
MANIFEST_FIELDS = ["row", "customer_id", "status", "variant", "arm", "ref", "token", "page", "video", "poster", "error", "attempts", "seconds",
                   "attempt_errors", "cpu_seconds", "bytes", "node"]
ERROR_FIELDS = ["row", "customer_id", "column", "reason", "attempts"]
CHUNK_ROWS = 100_000  # rows per spill file at assembly: the driver's memory at the end is one chunk
WRITE_ATTEMPTS = 5


def row_hash(digest: str) -> int:
    """A build hash as a non-zero 63-bit number, for the done array (0 means "not done")."""
    return (int(digest[:16], 16) & 0x7FFF_FFFF_FFFF_FFFF) or 1


def with_backoff(fn: Callable, *args, attempts: int = WRITE_ATTEMPTS, base: float = 0.5, cap: float = 8.0):
    """Call ``fn`` again after a TransientError, waiting base·2ⁿ seconds (at most ``cap``), ``attempts`` times in all."""
    for attempt in range(attempts):
        try:
            return fn(*args)
        except TransientError:
            if attempt == attempts - 1:
                raise
            time.sleep(min(cap, base * 2**attempt))


class Journal:
    """Appends records and writes them to the bucket in parts; ``close`` writes the last one."""

    def __init__(self, bucket: Bucket, run_id: str, every: int = 1000, seconds: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.bucket, self.run_id, self.every, self.seconds, self.clock = bucket, run_id, every, seconds, clock
        self.session = int(clock() * 1000)
        self.parts = 0
        self._buffer: list[dict] = []
        self._flushed = clock()

    def add(self, record: dict) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.every or self.clock() - self._flushed >= self.seconds:
            self.flush()

    def tick(self) -> None:
        """Write a part when records have waited ``seconds`` (the run calls this while it waits for workers)."""
        if self._buffer and self.clock() - self._flushed >= self.seconds:
            self.flush()

    def flush(self) -> None:
        self._flushed = self.clock()
        if not self._buffer:
            return
        records, self._buffer = sorted(self._buffer, key=lambda r: r["row"]), []
        data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode()
        with_backoff(self.bucket.put_bytes, keys.journal_part(self.run_id, self.session, self.parts), data)
        self.parts += 1

    def close(self) -> None:
        self.flush()


def read_records(bucket: Bucket, run_id: str) -> Iterator[dict]:
    """Every record of the run's journal, part by part in the order they were written."""
    for key in bucket.list_keys(keys.journal_prefix(run_id)):
        if not key.endswith(".jsonl"):
            continue
        data = with_backoff(bucket.get_bytes, key)
        for line in (data or b"").splitlines():
            if line.strip():
                yield json.loads(line)


class DoneRows:
    """Row number → build hash of the rows a run has published completely; 8 bytes per row number.
    ``baked``: the tokens of the customers whose latest record is baked (the few ``tailorcast bake`` gave a video),
    by customer, not by row, so an export written in another order under the same run id keeps them baked."""

    def __init__(self) -> None:
        self._hashes = np.zeros(1024, dtype=np.int64)
        self.baked: set[str] = set()

    def set(self, row: int, digest: str | None) -> None:
        if row >= len(self._hashes):
            grown = np.zeros(max(row + 1, 2 * len(self._hashes)), dtype=np.int64)
            grown[: len(self._hashes)] = self._hashes
            self._hashes = grown
        self._hashes[row] = row_hash(digest) if digest else 0

    def __len__(self) -> int:
        return int(np.count_nonzero(self._hashes))

    def has(self, row: int, digest: str) -> bool:
        return row < len(self._hashes) and int(self._hashes[row]) == row_hash(digest)


def read_done(bucket: Bucket, run_id: str) -> DoneRows:
    """What the journal says is published: the latest record of each row, when it is ok or skipped; and
    which customers are baked."""
    done = DoneRows()
    for r in read_records(bucket, run_id):
        row = int(r["row"])
        done.set(row, r.get("hash") if r.get("status") in DONE else None)
        token = r.get("token") or ""
        if r.get(BAKED) and token:
            done.baked.add(token)
        elif token:
            done.baked.discard(token)
    return done


def latest_by_token(bucket: Bucket, run_id: str, tokens: Iterable[str]) -> dict[str, dict]:
    """The latest record of each of ``tokens`` (customer folders) in the run's journal: one pass over it,
    keeping only those (``tailorcast bake`` looks up a handful of customers)."""
    wanted, out = set(tokens), {}
    for r in read_records(bucket, run_id):
        if r.get("token") in wanted:
            out[r["token"]] = r
    return out


def _manifest_row(r: dict) -> dict:
    return {**{f: r.get(f, "") for f in MANIFEST_FIELDS}, "attempt_errors": " | ".join(r.get("attempt_errors") or [])}


def _error_row(r: dict) -> dict:
    return {"row": r["row"], "customer_id": r.get("customer_id", ""), "column": r.get("column", ""), "reason": r.get("error", ""),
            "attempts": r.get("attempts", "")}


def _latest_by_row(records: Iterable[dict], spill: Path) -> Iterator[dict]:
    """The last record of each row, in row order, through spill files of ``CHUNK_ROWS`` rows each."""
    files: dict[int, io.TextIOWrapper] = {}
    try:
        for n, r in enumerate(records):
            chunk = int(r["row"]) // CHUNK_ROWS
            if chunk not in files:
                files[chunk] = open(spill / f"{chunk:08d}.jsonl", "w+", encoding="utf-8")
            files[chunk].write(json.dumps([n, r]) + "\n")
        for chunk in sorted(files):
            fh = files[chunk]
            fh.seek(0)
            latest: dict[int, tuple[int, dict]] = {}
            for line in fh:
                n, r = json.loads(line)
                row = int(r["row"])
                if row not in latest or latest[row][0] < n:
                    latest[row] = (n, r)
            for row in sorted(latest):
                yield latest[row][1]
            fh.close()
            (spill / f"{chunk:08d}.jsonl").unlink()
    finally:
        for fh in files.values():
            fh.close()


_PARQUET_TYPES = {"row": "int64", "attempts": "int32", "seconds": "float64", "cpu_seconds": "float64", "bytes": "int64",
                  "attempt_errors": "list<string>"}  # every other manifest column is text


def parquet_schema():
    import pyarrow as pa

    types = {"int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(), "list<string>": pa.list_(pa.string())}
    return pa.schema([(name, types[_PARQUET_TYPES[name]] if name in _PARQUET_TYPES else pa.string()) for name in MANIFEST_FIELDS])


class Assembled:
    """What ``assemble`` wrote: the counts of the final manifest, by status."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}


def _parquet_row(r: dict) -> dict:
    out = {name: str(r.get(name) or "") for name in MANIFEST_FIELDS if name not in _PARQUET_TYPES}
    return {**out, "row": int(r["row"]), "attempts": int(r.get("attempts") or 1), "seconds": float(r.get("seconds") or 0),
            "cpu_seconds": float(r.get("cpu_seconds") or 0), "bytes": int(r.get("bytes") or 0),
            "attempt_errors": [str(e) for e in r.get("attempt_errors") or []]}


def assemble(bucket: Bucket, run_id: str, rows_per_group: int = 50_000) -> Assembled:
    """Write the final manifest (Parquet + CSV) and the error report from the journal: one line per row,
    the row's latest record, in row order, streamed (the CSVs through tailorcast.csvfile, spreadsheet-safe)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    result = Assembled()
    with tempfile.TemporaryDirectory(prefix="tc-manifest-") as tmp:
        tmp_path = Path(tmp)
        spill = tmp_path / "spill"
        spill.mkdir()
        manifest_csv, errors_csv, parquet = tmp_path / "manifest.csv", tmp_path / "errors.csv", tmp_path / "manifest.parquet"
        error_lines = tmp_path / "errors.jsonl"
        with pq.ParquetWriter(parquet, schema) as pw, open(error_lines, "w+", encoding="utf-8") as ef:
            group: list[dict] = []

            def write_group() -> None:
                if group:
                    pw.write_table(pa.Table.from_pylist(group, schema=schema))
                    group.clear()

            def manifest_rows() -> Iterator[dict]:
                for r in _latest_by_row(read_records(bucket, run_id), spill):
                    status = r.get("status", "")
                    result.counts[status] = result.counts.get(status, 0) + 1
                    if status in ("failed", "invalid"):
                        ef.write(json.dumps(_error_row(r)) + "\n")
                    if status not in VALID:
                        continue
                    group.append(_parquet_row(r))
                    if len(group) >= rows_per_group:
                        write_group()
                    yield _manifest_row(r)
                write_group()

            write_csv(manifest_csv, MANIFEST_FIELDS, manifest_rows())
            ef.seek(0)
            write_csv(errors_csv, ERROR_FIELDS, (json.loads(line) for line in ef))
        for path in (parquet, manifest_csv, errors_csv):
            with_backoff(bucket.put_file, keys.run_file(run_id, path.name), path)
    return result
