"""A time and memory budget for one piece of template evaluation, enforced from a watchdog thread.

Jinja runs a template as Python bytecode in the caller's thread, so a loop that runs too long or keeps
allocating can be stopped between two bytecodes: one daemon thread watches every budgeted thread's CPU time
(``pthread_getcpuclockid``: contention from other processes does not count) and the process's resident
memory, and raises :class:`OverBudget` in a thread that went over (``PyThreadState_SetAsyncExc``). Single
operations that could allocate a lot in one C call are refused before they start by the sandbox's operand
bounds (tailorcast/bounds.py); the budget catches what is made of many small steps.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

TICK_S = 0.02  # how often the watchdog looks


class OverBudget(BaseException):
    """Raised inside a budgeted thread; a BaseException so that no ``except Exception`` on the way swallows it."""

    kind = "budget"


class OutOfTime(OverBudget):
    kind = "time"


class OutOfMemory(OverBudget):
    kind = "memory"


@dataclass
class _Job:
    clock: int | None  # the thread's CPU clock, None where the platform has none (then wall time counts)
    started: float
    seconds: float
    rss_limit: int | None
    fired: bool = False


_lock = threading.Lock()
_jobs: dict[int, _Job] = {}
_watchdog: threading.Thread | None = None


def _rss() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _now(clock: int | None) -> float:
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


def _raise_in(tid: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc) if exc else None)


def _watch() -> None:
    never = threading.Event()  # waiting on it is a sleep that code patching time.sleep (tests) does not see
    while True:
        never.wait(TICK_S)
        rss = _rss()
        with _lock:
            for tid, job in _jobs.items():
                if job.fired:
                    continue
                if _now(job.clock) - job.started > job.seconds:
                    job.fired = True
                    _raise_in(tid, OutOfTime)
                elif job.rss_limit is not None and rss is not None and rss > job.rss_limit:
                    job.fired = True
                    _raise_in(tid, OutOfMemory)


@contextmanager
def budget(seconds: float, memory_bytes: int) -> Iterator[None]:
    """Run the block in at most ``seconds`` of this thread's CPU time while the process grows by at most
    ``memory_bytes``; else :class:`OutOfTime` / :class:`OutOfMemory` is raised inside it. A nested budget
    runs under the outer one."""
    global _watchdog
    tid = threading.get_ident()
    with _lock:
        if tid in _jobs:
            nested = True
        else:
            nested = False
            try:
                clock: int | None = time.pthread_getcpuclockid(tid)
            except (AttributeError, OSError):
                clock = None
            rss = _rss()
            _jobs[tid] = _Job(clock, _now(clock), seconds, None if rss is None else rss + memory_bytes)
            if _watchdog is None or not _watchdog.is_alive():
                _watchdog = threading.Thread(target=_watch, name="tailorcast-budget", daemon=True)
                _watchdog.start()
    if nested:
        yield
        return
    try:
        yield
    finally:
        while True:  # an exception sent just as the block ended may land here: take it, then clean up
            try:
                with _lock:
                    job = _jobs.pop(tid, None)
                    if job is not None and job.fired:
                        _raise_in(tid, None)  # one sent but not yet delivered must not fire outside the block
                break
            except OverBudget:
                continue
