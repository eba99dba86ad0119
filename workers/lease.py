"""One writer per run id: a lease in the bucket, taken by ``tailorcast run`` and ``tailorcast bake``.

    runs/<run-id>/lease/<generation, 8 digits>.json   one object per holder; the highest generation is the lease now

A run and a bake both write the run's journal and assemble its manifest, so two of them on one run id at
once (a bake during the run, the studio and a cron job) would leave an inconsistent manifest. Before its
first write, each takes the lease:

- **Take.** Read the latest generation. It may be taken over when it is released, when its heartbeat is
  older than its TTL (default 120 s: the holder is gone, on whatever machine), or when its holder ran on
  this machine (same host name and process namespace) and its process is gone (a SIGKILLed driver: the
  resume right after it need not wait). Then generation + 1 is created with ``Bucket.put_new`` (create if
  absent: ``os.link`` in a folder, ``If-None-Match: *`` on S3), so of two processes racing for it exactly
  one wins. A live lease, or a lost race, is a :class:`LeaseError` naming the holder (run or bake, host,
  pid, start, last heartbeat) and when its lease lapses.
- **Heartbeat.** While it holds the lease, a thread of the holder rewrites its object every 20 s: one LIST
  and one PUT, whatever the number of customers. When a newer generation exists, the holder was presumed
  gone and taken over: it stops writing, and ``check`` (which the run calls while it waits for workers and
  before each journal record) raises :class:`LeaseError`. It does the same when it could not renew the
  lease for longer than TTL − heartbeat, before anyone may take it.
- **Release.** On the way out (normal end, an error, SIGTERM's SystemExit) the object is rewritten with
  ``"released": true``. A SIGKILLed holder cannot release: the process check or the TTL does it.

The lease holds no customer data: kind, session, host name, pid, times, TTL and the Tailorcast version.
Staleness compares the holder's heartbeat (its clock, UTC) with the reader's clock: machines sharing a
bucket must keep their clocks within a few seconds of each other (NTP), far below the TTL.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from tailorcast import __version__, keys
from tailorcast.bucket import Bucket
from tailorcast.errors import LeaseError, StorageError
from tailorcast.procs import process_alive, start_time

from .journal import with_backoff

log = logging.getLogger("tailorcast.lease")

RUN, BAKE = "run", "bake"
TTL_S = 120.0  # a lease whose heartbeat is older than this may be taken over
HEARTBEAT_S = 20.0  # how often the holder rewrites its lease
_WHAT = {RUN: "a `tailorcast run`", BAKE: "a `tailorcast bake`"}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _hms(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S UTC")


def _day_hms(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pid_namespace() -> str:
    """This process's pid namespace ("pid:[4026531836]"), so a container with the same host name is not "this machine"."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Holder:
    """What a lease object says about its holder."""

    generation: int
    kind: str
    session: str
    host: str
    pid: int
    pid_ns: str
    pid_start: int | None
    started: float  # epoch seconds
    heartbeat: float
    ttl: float
    released: bool

    @classmethod
    def parse(cls, generation: int, data: bytes) -> Holder:
        d = json.loads(data)
        return cls(generation, str(d["kind"]), str(d["session"]), str(d["host"]), int(d["pid"]), str(d.get("pid_ns") or ""),
                   int(d["pid_start"]) if d.get("pid_start") is not None else None, datetime.fromisoformat(d["started"]).timestamp(),
                   datetime.fromisoformat(d["heartbeat"]).timestamp(), float(d["ttl_seconds"]), bool(d["released"]))

    @property
    def lapses(self) -> float:
        return self.heartbeat + self.ttl

    def describe(self) -> str:
        return (f"{_WHAT.get(self.kind, repr(self.kind))} on host {self.host}, pid {self.pid}, started {_day_hms(self.started)}, "
                f"last heartbeat {_hms(self.heartbeat)}")


class Lease:
    """The lease of ``run_id`` for one holder (``kind`` RUN or BAKE).

    ``acquire()`` (or ``with lease:``) takes it at once. A bake first calls ``peek()`` (refused early when another
    holds it; nothing written) and ``take()`` only before its first write: the lease it takes is then the
    generation after the one it saw, so a run that came and went while it read the journal is noticed.
    ``ttl``, ``heartbeat``, ``clock``, ``host`` and ``pid`` are for tests."""

    def __init__(self, bucket: Bucket, run_id: str, kind: str, ttl: float = TTL_S, heartbeat: float = HEARTBEAT_S,
                 clock: Callable[[], float] = time.time, host: str | None = None, pid: int | None = None) -> None:
        if kind not in _WHAT:
            raise ValueError(f"lease kind {kind!r} is not one of {sorted(_WHAT)}")
        if not 0 < heartbeat < ttl:
            raise ValueError(f"the heartbeat ({heartbeat} s) must be shorter than the TTL ({ttl} s)")
        self.bucket, self.run_id, self.kind, self.ttl, self.heartbeat, self.clock = bucket, run_id, kind, ttl, heartbeat, clock
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.pid_ns = _pid_namespace()
        self.pid_start = start_time(self.pid)
        self.session = secrets.token_hex(8)
        self.generation = 0  # held: its generation; 0 before take and after release
        self.lost: str | None = None  # why the lease is not this holder's any more
        self.started = 0.0
        self._seen: int | None = None  # the latest generation peek() saw
        self._superseded: str | None = None  # the holder peek() found gone, whose lease take() takes over
        self._renewed = 0.0  # clock() of the last heartbeat written
        self._released = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading

    def _latest(self) -> int:
        gens = [g for g in (keys.lease_generation(self.run_id, k) for k in with_backoff(self.bucket.list_keys, keys.lease_prefix(self.run_id))) if g]
        return max(gens, default=0)

    def _read(self, generation: int) -> Holder | None:
        key = keys.lease_object(self.run_id, generation)
        data = with_backoff(self.bucket.get_bytes, key)
        if data is None:  # removed since the listing: nobody holds it
            return None
        try:
            return Holder.parse(generation, data)
        except (ValueError, KeyError, TypeError) as exc:
            raise LeaseError(self.run_id, (
                f"{self.bucket.describe(key)} is not a lease this version of Tailorcast can read ({type(exc).__name__}: {exc}). If no run or "
                f"bake of this run id is going on any machine, delete {self.bucket.describe(keys.lease_prefix(self.run_id))} and start again")) from None

    def _same_machine(self, holder: Holder) -> bool:
        return holder.host == self.host and (not holder.pid_ns or not self.pid_ns or holder.pid_ns == self.pid_ns)

    def _free(self, holder: Holder | None) -> bool:
        """Whether ``holder``'s lease may be taken: none, released, lapsed, or its process on this machine is gone."""
        if holder is None or holder.released or self.clock() >= holder.lapses:
            return True
        return self._same_machine(holder) and not process_alive(holder.pid, holder.pid_start)

    def _refusal(self, holder: Holder, what: str) -> LeaseError:
        where = self.bucket.describe(keys.lease_object(self.run_id, holder.generation))
        if self._same_machine(holder):
            lapse = f"it is running on this machine, and its lease ({where}) is released when it ends"
        else:
            lapse = (f"if that process is gone on another machine, its lease lapses at {_hms(holder.lapses)} ({holder.ttl:g} s after "
                     f"its last heartbeat; {where})")
        return LeaseError(self.run_id, (
            f"{what}: {holder.describe()}. Only one run or bake of a run id may write its journal and manifest at a time. "
            f"Wait for it to end, then start this again; {lapse}"))

    def peek(self) -> None:
        """Refuse now (LeaseError) when another process holds the lease; remember the generation seen. Writes nothing."""
        latest = self._latest()
        holder = self._read(latest) if latest else None
        if not self._free(holder):
            raise self._refusal(holder, f"{_WHAT[self.kind][2:]} cannot start, this run id is busy")
        self._seen = latest
        self._superseded = None
        if holder is not None and not holder.released:
            self._superseded = f"{holder.describe()} ({'its heartbeat lapsed' if self.clock() >= holder.lapses else 'its process is gone'})"

    # --- holding

    def _record(self, now: float, released: bool = False) -> bytes:
        return json.dumps({"run_id": self.run_id, "generation": self.generation, "kind": self.kind, "session": self.session, "host": self.host,
                           "pid": self.pid, "pid_ns": self.pid_ns, "pid_start": self.pid_start, "started": _iso(self.started),
                           "heartbeat": _iso(now), "ttl_seconds": self.ttl, "released": released, "tailorcast": __version__},
                          indent=1, sort_keys=True).encode()

    def take(self) -> None:
        """Create the generation after the one ``peek`` saw (peeking first if it did not); LeaseError when another process
        created it first. Starts the heartbeat. Nothing happens when this holder has it already."""
        if self.generation:
            return
        if self._released:
            raise RuntimeError("a released lease is not taken again: make a new Lease")
        if self._seen is None:
            self.peek()
        generation = self._seen + 1
        now = self.clock()
        self.generation, self.started = generation, now
        if not with_backoff(self.bucket.put_new, keys.lease_object(self.run_id, generation), self._record(now)):
            other = self._read(generation)
            if other is not None and other.session == self.session:  # this process's write, whose answer was lost and retried
                return self._held(now)
            self.generation = 0
            what = f"{_WHAT[self.kind][2:]} cannot go on, another process took this run id's lease first"
            if other is None or self._free(other):  # it came and went while this one read the journal: what it read may be stale
                ended = f" ({other.describe()}), and has ended already" if other else ""
                raise LeaseError(self.run_id, f"{what}{ended}: start this again, it reads the run's journal again")
            raise self._refusal(other, what)
        self._held(now)

    def _held(self, now: float) -> None:
        self._renewed = now
        if self._superseded:
            log.warning("run %s: took over the lease of %s", self.run_id, self._superseded, extra={"run_id": self.run_id})
        log.info("run %s: lease %s taken (%s, session %s)", self.run_id, self.generation, self.kind, self.session, extra={"run_id": self.run_id})
        self._thread = threading.Thread(target=self._keep_alive, name=f"lease-{self.run_id}", daemon=True)
        self._thread.start()

    def acquire(self) -> Lease:
        self.peek()
        self.take()
        return self

    def beat(self) -> None:
        """One heartbeat now: when a newer generation exists the lease was taken over (``lost``, nothing written);
        otherwise the lease object is rewritten with this time. The heartbeat thread calls it every ``heartbeat`` s."""
        with self._lock:
            if not self.generation or self._released or self.lost:
                return
            latest = self._latest()
            if latest > self.generation:
                try:
                    holder = self._read(latest)
                    who = holder.describe() if holder else f"generation {latest}"
                except LeaseError:  # an object this version cannot read: taken over all the same
                    who = f"generation {latest}"
                self.lost = ("another process took over this run id's lease, presumed this one gone (no heartbeat for "
                             f"{self.ttl:g} s): " + who +
                             ". This one stops here and writes nothing more; the run's records are the other one's now")
                log.error("run %s: %s", self.run_id, self.lost, extra={"run_id": self.run_id})
                return
            now = self.clock()
            with_backoff(self.bucket.put_bytes, keys.lease_object(self.run_id, self.generation), self._record(now))
            self._renewed = now

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                self.beat()
            except (StorageError, OSError) as exc:  # the bucket failed this time: check() stops the holder before the lease can lapse
                log.warning("run %s: the lease could not be renewed (%s); trying again in %g s", self.run_id, exc, self.heartbeat,
                            extra={"run_id": self.run_id})
            if self.lost:
                return

    def check(self) -> None:
        """No I/O: LeaseError when the lease was taken over, or could not be renewed for so long that another process may
        take it over soon. The holder calls this before it writes its records."""
        if self.lost:
            raise LeaseError(self.run_id, self.lost)
        if self.generation and self.clock() - self._renewed > self.ttl - self.heartbeat:
            self.lost = (f"the lease could not be renewed for {self.clock() - self._renewed:.0f} s (the bucket failed; see the log), so "
                         f"another process may take it over at {_hms(self._renewed + self.ttl)}: stopping here. Run it again when the bucket answers")
            raise LeaseError(self.run_id, self.lost)

    def confirm(self) -> None:
        """A heartbeat now, then ``check``: before the holder assembles the manifest. A bucket error of the heartbeat is
        logged and left to ``check`` (the assembly that follows meets the bucket anyway)."""
        try:
            self.beat()
        except (StorageError, OSError) as exc:
            log.warning("run %s: the lease could not be renewed (%s)", self.run_id, exc, extra={"run_id": self.run_id})
        self.check()

    def release(self) -> None:
        """Stop the heartbeat and mark the lease released (not when it was taken over: the newer holder's lease is left
        alone). A failure to write is logged: the lease then lapses after the TTL."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.heartbeat)
        with self._lock:
            if not self.generation or self._released:
                return
            self._released = True
            if self.lost:
                return
            try:
                with_backoff(self.bucket.put_bytes, keys.lease_object(self.run_id, self.generation), self._record(self.clock(), released=True))
            except (StorageError, OSError) as exc:
                log.warning("run %s: the lease could not be released (%s); it lapses at %s", self.run_id, exc, _hms(self._renewed + self.ttl),
                            extra={"run_id": self.run_id})

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
