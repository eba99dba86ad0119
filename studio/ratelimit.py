"""Failed log-ins, counted per user name and per address in this process's memory.

Each studio process counts on its own: behind a server with N worker processes an attacker gets up to N times
the limit (docs/studio.md). The memory is bounded: at most ``MAX_KEYS`` keys, each with at most ``limit`` times.
"""

from __future__ import annotations

import math
import threading
from collections import deque

MAX_KEYS = 10_000


class FailureLimiter:
    """At most ``limit`` failures per key in a sliding ``window`` of seconds; success does not reset the count."""

    def __init__(self, limit: int, window: int) -> None:
        self.limit, self.window = limit, window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def wait(self, key: str, now: float) -> int:
        """0 when ``key`` may try now, else the seconds until it may."""
        with self._lock:
            times = self._recent(key, now) if key in self._failures else ()  # asking adds no key: only failures do
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[0] + self.window - now))

    def fail(self, key: str, now: float) -> None:
        with self._lock:
            times = self._recent(key, now)
            times.append(now)
            while len(times) > self.limit:  # one key never holds more than the limit needs
                times.popleft()
            if len(self._failures) > MAX_KEYS:  # a flood of names or addresses must not grow memory without bound
                for k in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[k]
                while len(self._failures) > MAX_KEYS * 9 // 10:  # still too many: the oldest keys go (their limit is forgotten)
                    del self._failures[next(iter(self._failures))]

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
