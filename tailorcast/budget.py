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
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")

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
_watchdog_pid: int | None = None  # the process whose watchdog thread runs (_watch never returns)


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
                try:
                    spent = _now(job.clock) - job.started
                except OSError:  # the thread is gone (its CPU clock with it): nothing to stop
                    continue
                if spent > job.seconds:
                    job.fired = True
                    _raise_in(tid, OutOfTime)
                elif job.rss_limit is not None and rss is not None and rss > job.rss_limit:
                    job.fired = True
                    _raise_in(tid, OutOfMemory)


def active() -> bool:
    """Whether this thread is inside a budget (an evaluation inside another is the outer one's)."""
    with _lock:
        return threading.get_ident() in _jobs


def run(fn: Callable[[], T], seconds: float, memory_bytes: int) -> T:
    """``fn()`` in at most ``seconds`` of this thread's CPU time while the process grows by at most
    ``memory_bytes``; else :class:`OutOfTime` / :class:`OutOfMemory` is raised inside it. Inside another budget,
    ``fn`` runs under the outer one.

    A call, not a context manager, on purpose: an exception sent from the watchdog lands at the next bytecode
    boundary of this thread, wherever that is. With ``with budget():`` it could land in contextlib's
    ``__exit__`` (at its first bytecode, once the block had ended), which then never resumed the generators
    below it: their ``finally`` ran at garbage collection, much later, and the thread's job stayed registered
    (CI once saw every later expression of the process fail that way). Here the job is registered and released
    in this one frame, and the release takes an exception that lands during it, so when ``run`` returns or
    raises, nothing is pending and nothing stays registered."""
    tid = threading.get_ident()
    job: _Job | None = None
    delivered = False  # the watchdog's exception came (then there is none to clear)
    try:
        with _lock:
            if tid not in _jobs:
                try:
                    clock: int | None = time.pthread_getcpuclockid(tid)
                except (AttributeError, OSError):
                    clock = None
                rss = _rss()
                job = _Job(clock, _now(clock), seconds, None if rss is None else rss + memory_bytes)
                _jobs[tid] = job
                _start_watchdog()
        try:
            return fn()
        except OverBudget:
            delivered = True
            raise
    finally:
        deferred: BaseException | None = None
        while job is not None:
            try:
                with _lock:
                    if _jobs.get(tid) is job:
                        del _jobs[tid]
                    if job.fired and not delivered:  # sent, not yet delivered: it must not fire outside the budget
                        _raise_in(tid, None)  # (clearing costs every thread a slower path until the next one: only then)
                job = None
            except OverBudget:  # sent just as ``fn`` ended: taken here (the result stands), then released
                delivered = True
                continue
            except BaseException as exc:  # a signal handler's SystemExit or KeyboardInterrupt: release, then raise it
                deferred = exc
                continue
        if deferred is not None:
            raise deferred


def _start_watchdog() -> None:
    """Once per process (a forked child has no threads: it starts its own). Not ``Thread.is_alive()`` on every
    call: a signal handler's exception landing inside it marks a live thread stopped (3.11's threading)."""
    global _watchdog_pid
    if _watchdog_pid != os.getpid():
        threading.Thread(target=_watch, name="tailorcast-budget", daemon=True).start()
        _watchdog_pid = os.getpid()
