"""Orphans after a crash: a SIGKILLed run's local Ray agents are ended by the next start, and nothing else is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from helpers.driver import parent_pid
from helpers.samples import ROOT
from tailorcast.procs import start_time
from workers import local_ray
from workers.local_ray import LocalInstance, instance_processes, reap_orphans

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the clean-up reads /proc (Linux)")

# a stand-in for ray::DashboardAgent: named ray::…, only its open log names the session folder, ignores SIGTERM
AGENT = ("import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); logs = os.environ.pop('LOGS'); os.makedirs(logs, exist_ok=True); "
         "log = open(os.path.join(logs, 'agent.out'), 'a'); print('up', flush=True); time.sleep(600)")


def _spawn_agent(session_dir: str) -> subprocess.Popen:
    argv = ["bash", "-c", 'exec -a "ray::FakeAgent" "$0" -c "$1"', sys.executable, AGENT]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ, "LOGS": f"{session_dir}/logs"})
    assert proc.stdout.readline().strip() == "up"
    assert Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(b"ray::FakeAgent\0")
    return proc


def _spawn_program(session_dir: str) -> subprocess.Popen:
    """A stand-in for the raylet or the log monitor: the session folder in its arguments."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", f"--session-dir={session_dir}"])


def _write_record(folder: Path, inst: LocalInstance) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{inst.driver_pid}.json"
    path.write_text(json.dumps(asdict(inst)))
    return path


def _instance(pid: int, node_id: str, tmp_path: Path) -> LocalInstance:
    return LocalInstance(pid, start_time(pid), local_ray._boot_id(), node_id, str(tmp_path / f"session_{node_id[:8]}"))


@pytest.fixture(autouse=True)
def short_grace(monkeypatch):
    monkeypatch.setattr(local_ray, "TERM_GRACE_S", 0.3)  # the stand-in agents ignore SIGTERM: keep the wait short


@pytest.fixture
def spawned():
    """Start stand-in processes with ``spawned(make, session_dir)``; whatever is left is killed at the end."""
    procs: list[subprocess.Popen] = []

    def spawn(make, session_dir: str) -> subprocess.Popen:
        procs.append(make(session_dir))
        return procs[-1]

    yield spawn
    for proc in procs:
        proc.kill()
        proc.wait()


def test_next_start_ends_only_the_processes_of_instances_whose_driver_is_gone(tmp_path, spawned):
    folder = tmp_path / "ray"
    dead_driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    time.sleep(0.2)
    crashed = _instance(dead_driver.pid, "a1" * 28, tmp_path)
    dead_driver.kill()
    dead_driver.wait()
    live = _instance(os.getpid(), "b2" * 28, tmp_path)  # this process is the driver of a run that is going
    agents = {name: spawned(_spawn_agent, inst.session_dir) for name, inst in (("crashed", crashed), ("live", live))}
    agents["crashed program"] = spawned(_spawn_program, crashed.session_dir)
    agents["ray start"] = spawned(_spawn_agent, str(tmp_path / "session_c3"))  # an instance we never recorded: someone's `ray start`
    crashed_record, live_record = _write_record(folder, crashed), _write_record(folder, live)
    assert sorted(instance_processes(crashed.session_dir)) == sorted([agents["crashed"].pid, agents["crashed program"].pid])
    started = time.monotonic()
    assert reap_orphans(folder) == 2
    assert agents["crashed"].wait(timeout=10) == -signal.SIGKILL  # SIGTERM was ignored
    assert agents["crashed program"].wait(timeout=10) == -signal.SIGTERM
    assert time.monotonic() - started < local_ray.TERM_GRACE_S + 2
    assert agents["live"].poll() is None and agents["ray start"].poll() is None
    assert not crashed_record.exists() and live_record.exists()
    assert reap_orphans(folder) == 0  # nothing more to do, and the live one is still left alone
    assert agents["live"].poll() is None


def test_a_record_of_a_reused_pid_counts_as_a_dead_driver(tmp_path, spawned):
    """Same pid, other start time: the driver of the record is gone (pids are reused)."""
    inst = _instance(os.getpid(), "d4" * 28, tmp_path)
    agent = spawned(_spawn_agent, inst.session_dir)
    _write_record(tmp_path, LocalInstance(inst.driver_pid, inst.driver_started - 1, inst.boot_id, inst.node_id, inst.session_dir))
    assert reap_orphans(tmp_path) == 1
    assert agent.wait(timeout=10) is not None


def test_records_of_another_boot_are_dropped_without_touching_anything(tmp_path, spawned):
    inst = _instance(os.getpid(), "e5" * 28, tmp_path)
    agent = spawned(_spawn_agent, inst.session_dir)
    path = _write_record(tmp_path, LocalInstance(inst.driver_pid, inst.driver_started, "another-boot", inst.node_id, inst.session_dir))
    assert reap_orphans(tmp_path) == 0
    assert not path.exists() and agent.poll() is None


DRIVER = """
import sys, time
from pathlib import Path
from tailorcast.settings import Settings
from workers.local_ray import ray_init
ray, owned = ray_init(Settings(state_dir=Path(sys.argv[1]), secret=b"x" * 40, num_cpus=1), None)
assert owned
print(ray._private.worker._global_node.get_session_dir_path(), flush=True)
if sys.argv[2] == "hold":
    time.sleep(600)
ray.shutdown()
"""


def _driver(state: Path, mode: str) -> tuple[subprocess.Popen, str]:
    """A driver process that starts Ray through ray_init: (process, its instance's session folder)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(state), mode], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    session = proc.stdout.readline().strip()
    assert "/session_" in session, f"the driver did not start Ray (exit {proc.poll()})"
    return proc, session


@pytest.mark.e2e
def test_a_sigkilled_runs_ray_agents_are_cleaned_up_by_the_next_start(tmp_path):
    """Real Ray: SIGKILL the driver, see its agents left with parent 1, start again, see them gone."""
    state = tmp_path / "state"
    crashed, session = _driver(state, "hold")
    try:
        crashed.send_signal(signal.SIGKILL)
        crashed.wait()
        time.sleep(3)  # the GCS and the raylet die with the driver, idle workers soon after them; the agents stay
        orphans = {p: (Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode(), parent_pid(p)) for p in instance_processes(session)}
        print("left behind by the killed run (name, parent):", orphans)
        assert orphans, "expected Ray's agents to outlive the SIGKILLed driver"
        assert all(parent not in orphans and parent != crashed.pid for _, parent in orphans.values())  # orphans: re-parented
        assert (state / "ray" / f"{crashed.pid}.json").exists()

        clean, second = _driver(state, "once")
        assert clean.wait(timeout=60) == 0
        assert second != session
        assert instance_processes(session) == [], "the next start should have ended the crashed run's agents"
        assert not (state / "ray" / f"{crashed.pid}.json").exists()
        deadline = time.monotonic() + 10
        while instance_processes(second) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert instance_processes(second) == []  # a clean shutdown leaves nothing either
    finally:
        local_ray._end(instance_processes(session))  # never leave them to the next test run


def test_a_local_start_never_joins_a_stray_cluster(tmp_path, monkeypatch):
    """Without --ray-address the run starts its own instance (address="local"): a bare ray.init() would join a
    `ray start` cluster left on the machine and then refuse num_cpus."""
    import ray

    from tailorcast.settings import Settings

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setattr(local_ray, "record", lambda folder, ray: None)
    settings = Settings(state_dir=tmp_path, secret=b"s" * 40, num_cpus=2)
    assert local_ray.ray_init(settings, None)[1] is True
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2
    local_ray.ray_init(settings, "10.0.0.1:6379")
    assert calls[1]["address"] == "10.0.0.1:6379" and "num_cpus" not in calls[1]
