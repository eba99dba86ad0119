"""Fixed-window rate limits (per token, per client address, per server), counted in this process's memory."""

from __future__ import annotations

import math
import threading


class FixedWindowLimiter:
    """At most N hits per key per window.

    Windows are aligned for every key, so the table is emptied at each boundary
    and never holds more than one window of traffic. Several server processes
    each count on their own.
    """

    def __init__(self, window_seconds: int = 60) -> None:
        self.window = window_seconds
        self._lock = threading.Lock()
        self._start: int | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def hit(self, key: tuple[str, str], limit: int, now: float) -> int:
        """0 when allowed, else the seconds until the window resets."""
        start = int(now // self.window) * self.window
        with self._lock:
            if start != self._start:
                self._start, self._counts = start, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        return 0 if count <= limit else max(1, math.ceil(start + self.window - now))
