"""Processes of this machine: is one still running, and is it still the same one (its pid not reused), from /proc.

Used by the run id's lease (workers/lease.py), the reaping of killed runs' Ray agents (workers/local_ray.py) and
the studio's runs and renders."""

from __future__ import annotations

import os
from pathlib import Path


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process from /proc, or None when it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime field 22
    return fields[0], int(fields[19])


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), to tell it from a later process with its number; None
    when it is gone or there is no /proc."""
    stat = proc_stat(pid)
    return stat[1] if stat else None


def process_alive(pid: int | None, start: int | None = None) -> bool:
    """Whether process ``pid`` of this machine is running; with ``start`` (its start time from /proc), whether it is
    still that process and not a later one that got its number."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    stat = proc_stat(pid)
    if stat is None:
        return not Path("/proc/self/stat").exists()  # no /proc here: os.kill is all we know; with /proc: it just ended
    state, started = stat
    if state in ("Z", "X"):  # ended, not yet reaped by its parent
        return False
    return start is None or started == start
