"""One run or bake of a run id at a time: the run id's lease in the bucket (workers/lease.py).

Unit level against a folder and moto's S3 over HTTP (``put_new``: ``os.link`` and ``If-None-Match: *``), with an
injected clock; ``run_billing`` and ``tailorcast bake`` in this process; and one end-to-end test: a second
``tailorcast run`` of a run id while the first is going (real subprocesses, real local Ray).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from click.testing import CliRunner

from helpers.driver import SECRET, finish, manifest, pages, run_command, start_run, tiny_customers, wait_for

HOUR = 3600.0
LEASE_FIELDS = {"run_id", "generation", "kind", "session", "host", "pid", "pid_ns", "pid_start", "started", "heartbeat", "ttl_seconds",
                "released", "tailorcast"}


class Clock:
    """A clock the test moves: epoch seconds."""

    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["folder", "s3"])
def bucket(request, tmp_path):
    """A LocalBucket folder, or a fresh bucket (with a prefix) on the session's moto S3 server over HTTP."""
    from tailorcast.bucket import LocalBucket

    if request.param == "folder":
        return LocalBucket(tmp_path / "pub")
    import boto3

    from tailorcast.s3 import S3Bucket

    endpoint = request.getfixturevalue("s3_server")
    name = f"lease-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return S3Bucket(name, "bills", endpoint_url=endpoint)


def _lease(bucket, run_id="oct", kind="run", **kw):
    """A lease whose heartbeat thread never fires during a test (tests call beat() themselves), unless told."""
    from workers.lease import Lease

    kw.setdefault("ttl", 120.0)
    kw.setdefault("heartbeat", 20.0)
    return Lease(bucket, run_id, kind, **kw)


def _object(bucket, run_id: str, generation: int) -> dict:
    from tailorcast import keys

    return json.loads(bucket.get_bytes(keys.lease_object(run_id, generation)))


def _lease_keys(bucket, run_id="oct") -> list[str]:
    from tailorcast import keys

    return bucket.list_keys(keys.lease_prefix(run_id))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_acquire_release_and_acquire_again(bucket):
    clock = Clock()
    first = _lease(bucket, clock=clock).acquire()
    assert first.generation == 1
    held = _object(bucket, "oct", 1)
    assert set(held) == LEASE_FIELDS  # who and when, nothing about customers
    assert (held["kind"], held["host"], held["pid"], held["released"], held["session"]) == ("run", socket.gethostname(), os.getpid(), False, first.session)
    assert held["started"] == held["heartbeat"] == "2026-09-21T14:13:20.000+00:00" and held["ttl_seconds"] == 120.0
    other_run = _lease(bucket, "nov", clock=clock).acquire()  # another run id: never in the way
    clock.t += 5
    first.beat()
    assert _object(bucket, "oct", 1)["heartbeat"] == "2026-09-21T14:13:25.000+00:00"
    first.release()
    assert _object(bucket, "oct", 1)["released"] is True
    first.release()  # twice: nothing more
    bake = _lease(bucket, kind="bake", clock=clock).acquire()  # free at once, no waiting for a TTL
    assert bake.generation == 2 and _object(bucket, "oct", 2)["kind"] == "bake"
    bake.release()
    other_run.release()
    assert [k.rsplit("/", 1)[1] for k in _lease_keys(bucket)] == ["00000001.json", "00000002.json"]


def test_a_live_lease_refuses_a_second_holder_and_says_who_holds_it(bucket):
    from tailorcast.errors import LeaseError

    clock = Clock()
    run = _lease(bucket, clock=clock, host="render-7.example").acquire()  # a run on another machine
    clock.t += 30
    before = {k: bucket.get_bytes(k) for k in _lease_keys(bucket)}
    with pytest.raises(LeaseError) as err:
        _lease(bucket, kind="bake", clock=clock).acquire()
    text = str(err.value)
    assert text.startswith("run 'oct': `tailorcast bake` cannot start, this run id is busy: a `tailorcast run` on host render-7.example, "
                           f"pid {os.getpid()}, started 2026-09-21 14:13:20 UTC, last heartbeat 14:13:20 UTC.")
    assert "Wait for it to end, then start this again; if that process is gone on another machine, its lease lapses at 14:15:20 UTC" in text
    assert bucket.describe(_lease_keys(bucket)[0]) in text
    assert {k: bucket.get_bytes(k) for k in _lease_keys(bucket)} == before  # the refused one wrote nothing

    with pytest.raises(LeaseError, match="`tailorcast run` cannot start"):  # a second run as well
        _lease(bucket, clock=clock).acquire()
    run.release()

    here = _lease(bucket, clock=clock).acquire()  # held by a live process on this machine: this one
    with pytest.raises(LeaseError) as err:
        _lease(bucket, kind="bake", clock=clock).acquire()
    assert f"host {socket.gethostname()}, pid {os.getpid()}" in str(err.value)
    assert "it is running on this machine" in str(err.value)
    here.release()


def test_a_stale_lease_is_taken_over_and_its_holder_stops_at_its_next_heartbeat(bucket):
    from tailorcast.errors import LeaseError

    clock = Clock()
    stalled = _lease(bucket, clock=clock, host="render-7.example").acquire()
    clock.t += 119  # its heartbeat 119 s old: still live
    with pytest.raises(LeaseError):
        _lease(bucket, clock=clock).acquire()
    clock.t += 1.5  # 120.5 s: lapsed
    taker = _lease(bucket, kind="bake", clock=clock).acquire()
    assert taker.generation == 2
    stalled.beat()  # its next heartbeat sees generation 2 and writes nothing
    with pytest.raises(LeaseError) as err:
        stalled.check()
    assert "another process took over this run id's lease" in str(err.value) and "a `tailorcast bake` on host" in str(err.value)
    assert _object(bucket, "oct", 1)["heartbeat"] == "2026-09-21T14:13:20.000+00:00"  # not renewed
    stalled.release()
    assert _object(bucket, "oct", 1)["released"] is False  # superseded: left as it was
    assert _object(bucket, "oct", 2)["released"] is False  # and the taker's lease untouched
    taker.release()


def test_a_holder_that_cannot_renew_stops_before_its_lease_may_lapse(tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import LeaseError

    clock = Clock()
    lease = _lease(LocalBucket(tmp_path / "pub"), clock=clock).acquire()
    clock.t += 100  # ttl 120 − heartbeat 20: no renewal for 100 s is still fine
    lease.check()
    clock.t += 1
    with pytest.raises(LeaseError, match="could not be renewed for 101 s"):
        lease.check()
    lease.release()


def test_a_lease_that_cannot_be_released_is_logged_and_lapses(tmp_path, caplog):
    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import StorageError

    class Refusing(LocalBucket):
        refuse = False

        def put_bytes(self, key, data):
            if self.refuse:
                raise StorageError(self.describe(key), "access denied (AccessDenied); check the credentials and the bucket policy")
            super().put_bytes(key, data)

    bucket = Refusing(tmp_path / "pub")
    clock = Clock()
    lease = _lease(bucket, clock=clock).acquire()
    bucket.refuse = True
    lease.release()  # in a finally: it must not hide the error that got there
    assert _object(bucket, "oct", 1)["released"] is False
    assert "the lease could not be released" in caplog.text and "AccessDenied" in caplog.text and "it lapses at 14:15:20 UTC" in caplog.text


def test_a_same_host_holder_whose_process_is_gone_is_taken_over_at_once(bucket):
    from tailorcast.errors import LeaseError

    clock = Clock()
    dead = _dead_pid()
    killed = _lease(bucket, clock=clock, pid=dead).acquire()  # SIGKILLed: never released...
    killed._stop.set()  # ...and its heartbeat died with it (left going, it would log its take-over into later tests)
    elsewhere = _lease(bucket, "nov", clock=clock, pid=dead, host="render-7.example").acquire()
    resumed = _lease(bucket, clock=clock).acquire()  # the same clock: the heartbeat is fresh, the process is gone
    assert resumed.generation == 2 and _object(bucket, "oct", 2)["pid"] == os.getpid()
    with pytest.raises(LeaseError):  # a pid on another machine cannot be checked from here: the TTL decides
        _lease(bucket, "nov", clock=clock).acquire()
    resumed.release()
    elsewhere.release()


def test_process_alive():
    from tailorcast.procs import proc_stat as _proc_stat, process_alive

    assert process_alive(os.getpid()) and process_alive(os.getpid(), _proc_stat(os.getpid())[1])
    assert not process_alive(os.getpid(), _proc_stat(os.getpid())[1] + 1)  # the same number, a later process
    assert not process_alive(_dead_pid()) and not process_alive(0) and not process_alive(-1)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: _proc_stat(zombie.pid)[0] == "Z", timeout=30, what="the child to end (not reaped)")
    assert not process_alive(zombie.pid)
    zombie.wait()


def test_of_acquirers_racing_for_one_generation_exactly_one_wins(bucket):
    from tailorcast.errors import LeaseError

    racers = [_lease(bucket, kind="run" if n % 2 else "bake") for n in range(6)]
    for r in racers:
        r.peek()  # every one saw the lease free (generation 0)
    start, outcome = threading.Barrier(len(racers)), {}

    def race(n: int) -> None:
        start.wait()
        try:
            racers[n].take()
            outcome[n] = "won"
        except LeaseError as exc:
            outcome[n] = str(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(len(racers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [n for n, o in outcome.items() if o == "won"]
    assert len(outcome) == len(racers) and len(winners) == 1, outcome
    assert _lease_keys(bucket) == [_lease_keys(bucket)[0]] and _object(bucket, "oct", 1)["session"] == racers[winners[0]].session
    for n, text in outcome.items():
        if n != winners[0]:
            assert "another process took this run id's lease first" in text and f"pid {os.getpid()}" in text
    racers[winners[0]].release()


def test_a_bake_that_peeked_notices_a_run_that_came_and_went(tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import LeaseError

    bucket = LocalBucket(tmp_path / "pub")
    bake = _lease(bucket, kind="bake")
    bake.peek()  # then it reads the journal...
    run = _lease(bucket).acquire()  # ...while a run starts and ends
    run.release()
    with pytest.raises(LeaseError, match="and has ended already: start this again, it reads the run's journal again"):
        bake.take()


def test_the_heartbeat_thread_renews_the_lease_and_stops_when_it_is_taken_over(tmp_path):
    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import LeaseError

    bucket = LocalBucket(tmp_path / "pub")
    holder = _lease(bucket, ttl=5.0, heartbeat=0.05).acquire()
    first = _object(bucket, "oct", 1)["heartbeat"]
    wait_for(lambda: _object(bucket, "oct", 1)["heartbeat"] != first, timeout=10, what="a heartbeat")
    # another machine that believes it stalled (its clock an hour ahead) takes the lease over
    taker = _lease(bucket, kind="bake", clock=lambda: time.time() + HOUR, host="render-7.example").acquire()
    wait_for(lambda: holder.lost, timeout=10, what="the holder to see it at its next heartbeat")
    with pytest.raises(LeaseError, match="another process took over this run id's lease"):
        holder.check()
    renewed = _object(bucket, "oct", 1)["heartbeat"]
    time.sleep(0.3)
    assert _object(bucket, "oct", 1)["heartbeat"] == renewed  # the holder writes nothing more
    holder.release()
    taker.release()


# --- run_billing and tailorcast bake, in this process


def _tiny(tmp_path, rows: int):
    from tailorcast.settings import Settings
    from tailorcast.spec.load import load_template

    template, customers = tiny_customers(tmp_path, rows)
    return load_template(template), customers, Settings(state_dir=tmp_path / "state", secret=SECRET.encode())


def test_a_run_whose_lease_is_taken_over_stops_without_another_journal_part(tmp_path):
    from tailorcast import keys
    from tailorcast.bucket import LocalBucket
    from tailorcast.errors import LeaseError
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings = _tiny(tmp_path, 4)
    bucket = LocalBucket(tmp_path / "pub")
    taker = []

    def after_first(done, total, item) -> None:
        if not taker:  # a process elsewhere, whose clock says the run went silent an hour ago, takes the run id over
            taker.append(_lease(bucket, "took", kind="bake", clock=lambda: time.time() + HOUR, host="render-7.example").acquire())
            time.sleep(0.5)  # the run's heartbeat (every 0.05 s) sees it

    with pytest.raises(LeaseError, match="another process took over this run id's lease") as err:
        run_billing(template, customers, bucket, settings, run_id="took", executor=InProcessExecutor(), batch=1, journal_every=1,
                    on_progress=after_first, lease_ttl=5.0, lease_heartbeat=0.05)
    assert "a `tailorcast bake` on host render-7.example" in str(err.value)
    parts = bucket.list_keys(keys.journal_prefix("took"))
    assert len(parts) == 1  # the first customer's record; nothing after the take-over, not even the last part
    assert not bucket.exists(keys.run_file("took", "manifest.csv")) and not bucket.exists(keys.run_file("took", "summary.json"))
    taker[0].release()
    resumed = run_billing(template, customers, bucket, settings, run_id="took", executor=InProcessExecutor())
    assert (resumed.ok + resumed.skipped, resumed.failed) == (4, 0)
    assert _object(bucket, "took", 3)["released"] is True


def test_a_run_stopped_by_sigterm_or_an_error_releases_its_lease(tmp_path):
    """The CLI turns SIGTERM into SystemExit(143) in the run's thread: the run unwinds and lets the lease go."""
    from tailorcast.bucket import LocalBucket
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings = _tiny(tmp_path, 3)
    bucket = LocalBucket(tmp_path / "pub")
    for n, stop in enumerate((SystemExit(143), RuntimeError("a bug")), start=1):
        def stopped(done, total, item, stop=stop):
            raise stop

        with pytest.raises(type(stop)):
            run_billing(template, customers, bucket, settings, run_id="stopped", executor=InProcessExecutor(), on_progress=stopped)
        assert _object(bucket, "stopped", n)["released"] is True
    assert run_billing(template, customers, bucket, settings, run_id="stopped", executor=InProcessExecutor()).failed == 0


def test_bake_is_refused_while_a_run_of_that_id_holds_the_lease(tmp_path, monkeypatch):
    from tailorcast import keys
    from tailorcast.bucket import LocalBucket
    from tailorcast.cli import main
    from workers.executors import InProcessExecutor
    from workers.run import run_billing

    template, customers, settings = _tiny(tmp_path, 2)
    out = tmp_path / "pub"
    bucket = LocalBucket(out)
    run_billing(template, customers, bucket, settings, run_id="busy", executor=InProcessExecutor())
    assert _object(bucket, "busy", 1)["released"] is True  # the finished run let it go
    run = _lease(bucket, "busy", host="render-7.example").acquire()  # a rerun of that id going on another machine
    snapshot = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    monkeypatch.setenv("TAILORCAST_SECRET", SECRET)
    res = CliRunner().invoke(main, ["bake", "busy", str(template.root), "--customers", str(customers), "--out", str(out),
                                    "--state", str(settings.state_dir)])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "error: run 'busy': `tailorcast bake` cannot start, this run id is busy: a `tailorcast run` on host render-7.example" in text
    assert re.search(r"its lease lapses at \d\d:\d\d:\d\d UTC", text)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == snapshot  # nothing written
    run.release()
    res = CliRunner().invoke(main, ["bake", "busy", str(template.root), "--customers", str(customers), "--out", str(out), "--rows", "2",
                                    "--state", str(settings.state_dir)])
    assert res.exit_code == 0, res.output
    assert len(bucket.list_keys(keys.journal_prefix("busy"))) == 2 and _object(bucket, "busy", 3)["kind"] == "bake"


# --- end to end: two `tailorcast run` of one run id


@pytest.mark.e2e
def test_a_second_run_of_a_run_id_that_is_going_is_refused_and_writes_nothing(tmp_path):
    template, customers = tiny_customers(tmp_path, 60)
    out, state = tmp_path / "pub", tmp_path / "state"
    first = start_run(template, customers, str(out), state, "--workers", "2", "--run-id", "twice")
    lease = out / "runs" / "twice" / "lease" / "00000001.json"
    wait_for(lease.is_file, timeout=180, what="the first run's lease")  # taken before Ray starts: the second one starts meanwhile
    assert not json.loads(lease.read_text())["released"]
    parts = sorted(p.name for p in (out / "runs" / "twice" / "journal").glob("*.jsonl"))

    env = {**os.environ, "TAILORCAST_SECRET": SECRET, "TAILORCAST_STATE": str(state), "RAY_AUTH_MODE": "disabled"}  # as a cron job would
    second = subprocess.run(run_command(template, customers, str(out), "--workers", "2", "--run-id", "twice"), capture_output=True, text=True,
                            env=env, timeout=120, cwd=tmp_path)
    assert first.poll() is None and len(pages(out)) < 60, "the first run ended before the second was refused: give it more customers"
    text = " ".join((second.stdout + second.stderr).split())
    assert second.returncode == 2, text
    assert "Traceback" not in text
    assert "error: run 'twice': `tailorcast run` cannot start, this run id is busy: a `tailorcast run` on host" in text
    assert f"pid {first.pid}" in text and "it is running on this machine" in text
    assert sorted(p.name for p in (out / "runs" / "twice" / "lease").iterdir()) == ["00000001.json"]  # the refused one took nothing

    assert finish(first) == 0, (state / "run.log").read_text()[-3000:]
    sessions = {p.name.split("-")[0] for p in (out / "runs" / "twice" / "journal").glob("*.jsonl")}
    assert len(sessions) == 1 and {p.split("-")[0] for p in parts} <= sessions  # every journal part is the first run's
    rows = manifest(out, "twice")
    assert len(rows) == 60 and len({r["customer_id"] for r in rows}) == 60 and all(r["status"] == "ok" for r in rows)
    assert json.loads(lease.read_text())["released"] is True
