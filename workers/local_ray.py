"""The billing run's Ray: join a cluster, or start a local instance and clean up what a crashed one left.

Ray ties the GCS and the raylet of a local instance to the driver, so they die
with it; the raylet's agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``)
do not: after a SIGKILLed ``tailorcast run`` they stay behind with parent 1,
ignore SIGTERM, and pile up over crashes. So every local start writes a record
to ``<state>/ray/<driver pid>.json`` (the driver's pid and start time, the boot,
Ray's node id and session folder), and the next start reads the records: where
the driver is gone, the processes of that instance (found by its session
folder, ``instance_processes``) are ended and the record removed. Only
instances we started and whose driver is gone are touched, never one from
``ray start`` or a run that is going. Finding processes reads ``/proc``: on
systems without it nothing is cleaned up.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tailorcast.procs import process_alive, start_time
from tailorcast.settings import Settings

log = logging.getLogger("tailorcast.ray")
PROC = Path("/proc")
OBJECT_STORE_BYTES = 512 * 1024 * 1024
TERM_GRACE_S = 3.0  # the agents ignore SIGTERM; those still alive after this get SIGKILL


@dataclass(frozen=True)
class LocalInstance:
    """Who owns a local Ray instance, and how to find its processes."""

    driver_pid: int
    driver_started: int  # start time in clock ticks after boot (/proc/<pid>/stat field 22): pids are reused
    boot_id: str
    node_id: str
    session_dir: str


def records_dir(settings: Settings) -> Path:
    return settings.state_dir / "ray"


def ray_init(settings: Settings, address: str | None):
    """Connect to ``address``'s cluster, or start a local instance (after cleaning up crashed ones): (ray, owned)."""
    import ray

    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # local, single user: no token file
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False, namespace="tailorcast")
    if address:
        with _keep_sigterm_handler():
            ray.init(address=address, **kwargs)
        return ray, True
    reap_orphans(records_dir(settings))
    with _keep_sigterm_handler():
        # address="local": always a new instance of our own, never a stray `ray start` cluster that ray.init()
        # would otherwise join (and then refuse num_cpus); joining is what --ray-address is for.
        ray.init(address="local", num_cpus=settings.num_cpus, object_store_memory=OBJECT_STORE_BYTES, **kwargs)
    record(records_dir(settings), ray)
    return ray, True


@contextmanager
def _keep_sigterm_handler():
    """ray.init installs its own SIGTERM handling in the driver; the caller's (``tailorcast run``: unwind, keep the
    journal, exit 143) comes back after it."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def record(folder: Path, ray) -> LocalInstance | None:
    """Write this driver's record of the local instance it just started."""
    me = os.getpid()
    started, boot = start_time(me), _boot_id()
    if started is None or boot is None:
        log.debug("no /proc: a crashed run's Ray agents will not be cleaned up")
        return None
    session = ray._private.worker._global_node.get_session_dir_path()
    inst = LocalInstance(me, started, boot, ray.get_runtime_context().get_node_id(), session)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{me}.json.tmp"
    tmp.write_text(json.dumps(asdict(inst)))
    os.replace(tmp, folder / f"{me}.json")
    return inst


def reap_orphans(folder: Path) -> int:
    """End the processes of local instances whose driver is gone; remove their records. Returns how many."""
    if not folder.is_dir() or _boot_id() is None:
        return 0
    ended = 0
    for path in sorted(folder.glob("[0-9]*.json")):
        try:
            inst = LocalInstance(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring unreadable Ray record %s (%s); delete it if no run is going", path, exc)
            continue
        if inst.boot_id == _boot_id() and process_alive(inst.driver_pid, inst.driver_started):
            continue  # its run is still going
        pids = instance_processes(inst.session_dir) if inst.boot_id == _boot_id() else []
        if pids:
            log.warning("ending %d processes left by a local Ray instance whose run was killed (session %s)", len(pids), inst.session_dir)
            _end(pids)
            ended += len(pids)
        path.unlink(missing_ok=True)
    return ended


def instance_processes(session_dir: str) -> list[int]:
    """Live processes of this user that belong to the Ray instance of ``session_dir``.

    Ray's own programs name the session folder in their arguments (gcs_server, raylet, log monitor);
    the agents and workers rename themselves (``ray::…``, which also overwrites their environment)
    but keep their log files in it open.
    """
    inside = session_dir.rstrip("/") + "/"
    out = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            args = [a.decode(errors="replace") for a in argv]
            mine = any(inside in a or a.endswith(session_dir) for a in args) or (
                args[0].startswith("ray::") and any(os.readlink(fd).startswith(inside) for fd in (entry / "fd").iterdir())
            )
        except (PermissionError, FileNotFoundError, ProcessLookupError):  # another user's, or gone meanwhile
            continue
        if mine and process_alive(int(entry.name)):
            out.append(int(entry.name))
    return out


def _end(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass  # exited on its own
        deadline = time.monotonic() + TERM_GRACE_S
        while time.monotonic() < deadline and any(process_alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if process_alive(p)]
        if not pids:
            return


def _boot_id() -> str | None:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except FileNotFoundError:
        return None
