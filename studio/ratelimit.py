"""Failed log-ins, counted per user name and per address in this process's memory."""

from __future__ import annotations

import math
import threading
from collections import deque


class FailureLimiter:
    """At most ``limit`` failures per key in a sliding ``window`` of seconds; success does not reset the count."""

    def __init__(self, limit: int, window: int) -> None:
        self.limit, self.window = limit, window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def wait(self, key: str, now: float) -> int:
        """0 when ``key`` may try now, else the seconds until it may."""
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[0] + self.window - now))

    def fail(self, key: str, now: float) -> None:
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # an address flood must not grow memory without bound
                for k in [k for k, v in self._failures.items() if not v]:
                    del self._failures[k]

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
