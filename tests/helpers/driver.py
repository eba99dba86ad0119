"""``tailorcast run`` as an operator runs it, in a subprocess, on the tiny template; and Ray's processes found in /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from helpers.tiny import write_tiny

SECRET = "driver-test-secret-" + "x" * 32


def tiny_customers(folder: Path, rows: int, bad: tuple[int, ...] = ()) -> tuple[Path, Path]:
    """(tiny template folder, customers.csv with ``rows`` customers C0001…; the indexes in ``bad`` have an unknown locale)."""
    template = write_tiny(folder / "tiny")
    lines = ["customer_id,locale,first_name"] + [f"C{n:04d},{'xx' if n in bad else 'en'},Name{n}" for n in range(1, rows + 1)]
    customers = folder / "customers.csv"
    customers.write_text("\n".join(lines) + "\n")
    return template, customers


def run_command(template: Path, customers: Path, out: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "tailorcast.cli", "run", str(template), "--customers", str(customers), "--out", out, *options]


def start_run(template: Path, customers: Path, out: str, state: Path, *options: str, env: dict | None = None) -> subprocess.Popen:
    """A ``tailorcast run`` in its own process group, writing JSON lines to stderr (kept in ``state``/run.log)."""
    state.mkdir(parents=True, exist_ok=True)
    log = open(state / "run.log", "ab")
    full_env = {**os.environ, "TAILORCAST_SECRET": SECRET, "TAILORCAST_STATE": str(state), "RAY_AUTH_MODE": "disabled", **(env or {})}
    return subprocess.Popen(run_command(template, customers, out, "--log-format", "json", *options), stdout=log, stderr=log,
                            env=full_env, start_new_session=True, cwd=state)


def finish(proc: subprocess.Popen, timeout: float = 300) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def pages(out: Path) -> list[Path]:
    return sorted(out.glob("c/*/index.html"))


def wait_for(condition, timeout: float = 120, every: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def parent_pid(pid: int) -> int | None:
    """The parent of process ``pid`` (field 4 of /proc/<pid>/stat), or None when it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])  # after "pid (name) ": the state, then the parent


def ray_task_pids(name: str, session_dir: str) -> list[int]:
    """Worker processes of the Ray instance of ``session_dir`` running the task ``name`` now (their title is
    ``ray::<name>``); never another instance's, even one of another test run on this machine."""
    from workers.local_ray import instance_processes

    found = []
    for pid in instance_processes(session_dir):
        proc = Path("/proc") / str(pid)
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(f"ray::{name}"):
            found.append(int(proc.name))
    return found


def kill_running_task(name: str, session_dir: str) -> int | None:
    """SIGKILL one worker process of the Ray instance of ``session_dir`` that runs the task ``name`` at this moment
    (its title is checked right before)."""
    import signal

    for pid in ray_task_pids(name, session_dir):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(f"ray::{name}".encode()):
                os.kill(pid, signal.SIGKILL)
                return pid
        except OSError:
            continue
    return None


def manifest(out: Path, run_id: str) -> list[dict]:
    """The final manifest's rows from its Parquet file (exact values; the CSV guards spreadsheet formulas with a quote)."""
    import pyarrow.parquet as pq

    return pq.read_table(out / "runs" / run_id / "manifest.parquet").to_pylist()
