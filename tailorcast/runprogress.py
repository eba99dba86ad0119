"""A billing run's progress, for people (a live bar) or for schedulers (JSON lines), or nothing (``--quiet``).

The bar shows rows done out of the total, customers per second, the time left, and the ok, skipped,
failed and invalid counts. In JSON mode a ``progress`` line with the same numbers is written at
most every ``every`` seconds and once at the end. Neither shows anything about a customer but counts.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .jsonlog import json_line

MODES = ("bar", "json", "quiet")


class RunProgress:
    def __init__(self, mode: str, console: Console, title: str, every: float = 10.0) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode, self.console, self.title, self.every = mode, console, title, every
        self.counts = {"ok": 0, "skipped": 0, "failed": 0, "invalid": 0, "holdout": 0}
        self.done, self.total = 0, None
        self.started = self._last = time.monotonic()
        self._bar: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> "RunProgress":
        if self.mode == "bar":
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self.console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.title, total=None, rate="", status="starting…")
        return self

    def rate(self) -> float:
        """Customers per second so far."""
        return self.done / max(time.monotonic() - self.started, 1e-6)

    def update(self, done: int, total: int | None, item: Any) -> None:
        self.counts[getattr(item, "status", "invalid")] += 1
        self.done, self.total = done, total
        if self._bar is not None:
            c = self.counts
            self._bar.update(self._task, completed=done, total=total, rate=f"{self.rate():.2f}/s",
                             status=f"[green]{c['ok']} ok[/] {c['skipped']} skipped [red]{c['failed']} failed[/] [yellow]{c['invalid']} invalid[/]")
        elif self.mode == "json" and time.monotonic() - self._last >= self.every:
            self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        left = None if self.total is None or not self.done else round((self.total - self.done) / max(self.rate(), 1e-9), 1)
        json_line("progress", done=self.done, total=self.total, rate=round(self.rate(), 3), eta_seconds=left, **self.counts)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        elif self.mode == "json":
            self._line()
