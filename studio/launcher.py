"""Billing runs in processes of their own: ``tailorcast run`` on an exported copy of an approved version.

Never inside a web request: the studio starts the process (its own session, so a
cancel reaches Ray's children too), a thread waits for it and records how it ended.
Progress is read from what the run writes (the coupling stays thin): its JSON log
lines when the CLI has ``--log-format json``, and its journal parts
(``runs/<run id>/journal/*.jsonl``, one line per row) in a local ``--out`` folder.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from store.runs import FINAL, RunRow, Runs
from tailorcast import keys
from tailorcast.bucket import open_bucket
from tailorcast.errors import StorageError, StudioRefused
from tailorcast.procs import process_alive

from .config import StudioConfig

log = logging.getLogger("tailorcast.studio")
KILL_AFTER = 15.0  # seconds between SIGTERM and SIGKILL on cancel
LOG_TAIL_BYTES = 64 * 1024
LOG_READ_BYTES = 8 * 1024 * 1024  # the JSON log read for progress lines and failures
CHUNK = 64 * 1024  # a run file from a bucket reaches the browser in pieces of this size
_RUN_ID = re.compile(r"[^a-z0-9-]+")


def run_command(python: str, folder: Path, customers: str, out: str, run_id: str, state_dir: Path,
                ray_address: str | None = None, workers: int | None = None, json_log: bool = False, endpoint_url: str | None = None) -> list[str]:
    """The ``tailorcast run`` argument list (a pure function: tests assert on it)."""
    cmd = [python, "-m", "tailorcast.cli", "run", str(folder), "--customers", customers, "--out", out, "--run-id", run_id,
           "--state", str(state_dir)]
    if ray_address:
        cmd += ["--ray-address", ray_address]
    elif workers:
        cmd += ["--workers", str(workers)]
    if json_log:
        cmd += ["--log-format", "json"]
    if endpoint_url:
        cmd += ["--endpoint-url", endpoint_url]
    return cmd


def new_run_id(template: str, now: float) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return f"{_RUN_ID.sub('-', template.lower())[:30]}-{stamp}-{secrets.token_hex(2)}"


@dataclass
class Progress:
    """What a run has done so far, from its own files."""

    state: str
    total: int | None
    counts: dict = field(default_factory=lambda: {"ok": 0, "skipped": 0, "failed": 0, "invalid": 0})
    failures: list = field(default_factory=list)  # (row, reason), the first few
    seconds: float = 0.0
    log_tail: str = ""
    reason: str = ""  # why a failed run stopped: its last ``error:`` line, else its exit status

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def rate(self) -> float | None:
        return self.done / self.seconds if self.seconds > 0 and self.done else None

    @property
    def eta(self) -> float | None:
        if self.state != "running" or not self.rate or self.total is None:
            return None
        return max(self.total - self.done, 0) / self.rate

    def as_json(self) -> dict:
        return {"state": self.state, "total": self.total, "done": self.done, "counts": self.counts, "failures": self.failures[:50],
                "seconds": round(self.seconds, 1), "rate": None if self.rate is None else round(self.rate, 3),
                "eta": None if self.eta is None else round(self.eta), "log_tail": self.log_tail,
                "reason": self.reason}


@dataclass
class RunFile:
    """One of a run's files, opened where the run published it (a folder or a bucket), to send in pieces."""

    size: int | None
    chunks: Iterator[bytes]  # closes what it read from when it ends (or when the response is closed)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _body_chunks(body) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


class Launcher:
    def __init__(self, config: StudioConfig, runs: Runs, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.runs = runs
        self.clock = clock
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen] = {}
        self._cancelled: set[str] = set()
        self._json_log: bool | None = None

    @property
    def root(self) -> Path:
        return self.config.work_dir / "runs"

    def folder(self, run_id: str) -> Path:
        return self.root / run_id

    def json_log_supported(self) -> bool:
        """Does this ``tailorcast run`` have ``--log-format json``? Asked once, from its --help."""
        if self._json_log is None:
            try:
                out = subprocess.run([self._python(), "-m", "tailorcast.cli", "run", "--help"], capture_output=True, text=True, timeout=60)
                self._json_log = "--log-format" in out.stdout
            except (OSError, subprocess.TimeoutExpired):
                self._json_log = False
        return self._json_log

    def _python(self) -> str:
        return self.config.python or sys.executable

    def start(self, run_id: str, export: Path, customers: str, out: str, env: dict | None = None) -> subprocess.Popen:
        """Start ``tailorcast run``; the store row must exist already (Runs.add)."""
        folder = self.folder(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        cmd = run_command(self._python(), export, customers, out, run_id, self.config.state_dir, self.config.ray_address,
                          self.config.run_workers, self.json_log_supported(), self.config.endpoint_url)
        child_env = {**os.environ, **(env or {})}
        child_env.setdefault("RAY_AUTH_MODE", "disabled")
        if not self.config.ray_address:  # a local run starts its own Ray, never joins a cluster `ray start` left on this machine
            child_env["RAY_ADDRESS"] = "local"
        with open(folder / "log.txt", "ab") as logfile:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT, cwd=folder,
                                    env=child_env, start_new_session=True)
        with self._lock:
            self._procs[run_id] = proc
        self.runs.started(run_id, proc.pid)
        threading.Thread(target=self._wait, args=(run_id, proc), name=f"studio-run-{run_id}", daemon=True).start()
        return proc

    def _wait(self, run_id: str, proc: subprocess.Popen) -> None:
        code = proc.wait()
        with self._lock:
            self._procs.pop(run_id, None)
            cancelled = run_id in self._cancelled
        run = self.runs.get(run_id)
        finished = code == 0 or (code == 1 and run is not None and self._summary(run) is not None)  # 1: it ended, some customers failed
        self.runs.finish(run_id, "cancelled" if cancelled else "done" if finished else "failed", code, _utc(self.clock()))
        shutil.rmtree(self.folder(run_id) / "input", ignore_errors=True)  # the uploaded export is personal data: gone once read

    def cancel(self, run: RunRow) -> None:
        """SIGTERM to the run's process group, SIGKILL after :data:`KILL_AFTER` seconds if it is still there."""
        if run.state in FINAL:
            raise StudioRefused(f"run {run.run_id}", f"is {run.state} already")
        with self._lock:
            self._cancelled.add(run.run_id)
            proc = self._procs.get(run.run_id)
        pid = proc.pid if proc else run.pid
        if not process_alive(pid):
            self.runs.finish(run.run_id, "cancelled", None, _utc(self.clock()))
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

        def kill_later() -> None:
            time.sleep(KILL_AFTER)
            try:  # the whole group, even when its leader has ended (a zombie): what it started may still run
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc is None:  # started by an earlier studio: nobody waits for it
                self.runs.finish(run.run_id, "cancelled", None, _utc(self.clock()))

        threading.Thread(target=kill_later, daemon=True).start()
        if proc is None:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return

    def reconcile(self) -> None:
        """Runs recorded as running whose process is gone ended while no studio watched them: failed, unless finished files say done."""
        for run in self.runs.going():
            if run.run_id in self._procs or process_alive(run.pid):
                continue
            self.runs.finish(run.run_id, "done" if self._summary(run) is not None else "failed", None, _utc(self.clock()))

    def local_run_file(self, run: RunRow, name: str) -> Path | None:
        """A run file in a local ``--out`` folder; None for a bucket."""
        if run.out.startswith("s3://"):
            return None
        out = Path(run.out)
        if not out.is_absolute():
            out = self.folder(run.run_id) / out
        return out / "runs" / run.run_id / name

    def open_run_file(self, run: RunRow, name: str) -> RunFile | None:
        """A run file (``manifest.csv``, ``errors.csv``, ``summary.json``) where the run wrote it, or None when it is
        not there (yet). An ``s3://`` output is read through tailorcast/s3.py with the studio's endpoint, streamed;
        StorageError when the bucket cannot be read (no such bucket, access denied, no answer)."""
        local = self.local_run_file(run, name)
        if local is not None:
            return RunFile(local.stat().st_size, _file_chunks(local)) if local.is_file() else None
        bucket = open_bucket(run.out, self.config.endpoint_url)
        key = keys.run_file(run.run_id, name)
        if not bucket.exists(key):  # StorageError (denied) or TransientError (no answer) say what is wrong
            bucket.check()  # a HEAD of a key in a missing bucket is a bare 404 too: say which it is
            return None
        try:
            got = bucket.client.get_object(Bucket=bucket.name, Key=bucket.prefix + key)
        except Exception as exc:  # botocore's errors: only tailorcast/s3.py imports boto3 and botocore
            raise StorageError(bucket.describe(key), f"cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        return RunFile(got.get("ContentLength"), _body_chunks(got["Body"]))

    def _summary(self, run: RunRow) -> dict | None:
        """The run's summary.json, where it wrote it; None when it is not there or cannot be read."""
        try:
            found = self.open_run_file(run, "summary.json")
            return json.loads(b"".join(found.chunks)) if found is not None else None
        except (StorageError, ValueError, OSError):
            return None

    def progress(self, run: RunRow) -> Progress:
        folder = self.folder(run.run_id)
        total = None
        meta = folder / "meta.json"
        if meta.is_file():
            total = json.loads(meta.read_text()).get("rows")
        end = run.finished_at.timestamp() if run.finished_at else self.clock()
        p = Progress(run.state, total, seconds=max(end - run.started_at.timestamp(), 0.0))
        journal = self.local_run_file(run, "journal")
        seen: dict[int, dict] = {}
        if journal is not None and journal.is_dir():
            for part in sorted(journal.glob("*.jsonl")):
                for line in part.read_text(encoding="utf-8", errors="replace").splitlines():
                    try:
                        record = json.loads(line)
                        seen[int(record.get("row", 0))] = record
                    except (ValueError, AttributeError):
                        continue
        for row, record in sorted(seen.items()):
            status = record.get("status", "invalid")
            p.counts[status if status in p.counts else "failed"] = p.counts.get(status if status in p.counts else "failed", 0) + 1
            if status in ("failed", "invalid") and len(p.failures) < 200:
                p.failures.append((row, record.get("error") or record.get("reason") or ""))
        self._read_log(folder / "log.txt", p)
        if run.state == "failed":
            p.reason = _stopped_because(p.log_tail, run.exit_code)
        local = self.local_run_file(run, "summary.json")
        # a bucket is asked only once the run ended (the page polls every second while it runs)
        data = self._summary(run) if (local is not None and local.is_file()) or (local is None and run.state in FINAL) else None
        if data is not None:
            try:
                p.counts = {k: int(data.get(k, p.counts.get(k, 0))) for k in ("ok", "skipped", "failed", "invalid")}
                p.total = data.get("rows", p.total)
            except (ValueError, TypeError, AttributeError):
                pass
        return p

    @staticmethod
    def _read_log(logfile: Path, p: Progress) -> None:
        """The log's tail for people; with ``--log-format json``, its last ``progress`` line and the rows it warned about."""
        if not logfile.is_file():
            return
        with open(logfile, "rb") as fh:
            fh.seek(max(logfile.stat().st_size - LOG_READ_BYTES, 0))
            text = fh.read().decode("utf-8", errors="replace")
        p.log_tail = _readable_log(text[-LOG_TAIL_BYTES:])
        last = None
        failures = {}
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "progress":
                last = record
            elif record.get("row") is not None and record.get("level") in ("warning", "error"):
                failures[int(record["row"])] = record.get("message", "")
        if last is not None and int(last.get("done") or 0) >= p.done:
            p.counts = {k: int(last.get(k) or 0) for k in ("ok", "skipped", "failed", "invalid")}
            p.total = last.get("total", p.total)
        known = {row for row, _ in p.failures}
        p.failures += [(row, reason) for row, reason in sorted(failures.items()) if row not in known][:200]


def _readable_log(text: str) -> str:
    """The log's last lines, without the terminal's control codes (the CLI draws a progress bar)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-40:])


def _stopped_because(log_tail: str, exit_code: int | None) -> str:
    """The CLI's own words for why a run stopped (its last ``error:`` line: a busy run id, an unreadable export, a
    template that is not valid), else what the exit status says."""
    for line in reversed(log_tail.splitlines()):
        if line.startswith("error: "):
            return line[len("error: "):]
    if exit_code is None:
        return "the run's process ended while no studio watched it, without a summary; see the log"
    if exit_code < 0 or exit_code in (137, 143):
        return f"the run's process was stopped by a signal (exit status {exit_code}); see the log"
    return f"the run's process ended with exit status {exit_code}; see the log"


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
