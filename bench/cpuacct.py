"""Exact CPU of a process tree: a cgroup of its own (cgroup v1 ``cpuacct`` or v2 ``cpu.stat``), when we may make one.

Sampling /proc (``bench_run.TreeWatch``) loses every process that ends between two samples and is
not waited for by a process we still see; on a loaded machine that lost two thirds of a baked run's CPU
(108 CPU-s counted against 324 CPU-s the jobs measured themselves). A cgroup counts every task that
ever ran in it, waited for or killed, so Ray's workers, their ffmpeg children and Ray's own daemons are
all in the figure, and nothing else on the machine is.

    group = CpuGroup.create("bench-run")          # None when cgroups are not writable (not root, no mount)
    proc = subprocess.Popen(args, preexec_fn=group.enter if group else None)
    ...
    seconds = group.close()
"""

from __future__ import annotations

import os
import time
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpuacct")
V2_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


class CpuGroup:
    """A fresh cgroup; :meth:`enter` (in the child, before exec) puts the calling process in it."""

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version
        self._procs = str(path / "cgroup.procs")

    @classmethod
    def create(cls, name: str) -> CpuGroup | None:
        unique = f"{name}-{os.getpid()}-{time.monotonic_ns()}"
        if (V1 / "cpuacct.usage").exists():
            try:
                (V1 / unique).mkdir()
                return cls(V1 / unique, 1)
            except OSError:
                pass
        for root in V2_ROOTS:
            if (root / "cgroup.procs").exists() and (root / "cgroup.controllers").exists():
                try:
                    (root / unique).mkdir()
                except OSError:
                    continue
                if (root / unique / "cpu.stat").exists():
                    return cls(root / unique, 2)
                (root / unique).rmdir()
        return None

    def enter(self) -> None:
        """Called in the child between fork and exec (``preexec_fn``): only os calls, no Python locks."""
        fd = os.open(self._procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")  # "0" is the writing process itself
        finally:
            os.close(fd)

    def seconds(self) -> float:
        """CPU seconds (user + system) of every task that has run in the group."""
        if self.version == 1:
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6

    def close(self, wait_s: float = 15.0) -> float:
        """The group's CPU seconds once its last task is gone (Ray's daemons take a moment after the driver
        ends), then the group removed. Tasks still there after ``wait_s`` are counted as far as they got."""
        deadline = time.monotonic() + wait_s
        while (self.path / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.2)
        total = self.seconds()
        try:
            self.path.rmdir()
        except OSError:
            pass  # a task outlived wait_s: the empty group is left for the next boot, harmless
        return total
