"""Billing runs started from the studio: which approved version, from what input, by whom, and how they ended.

The run itself is a ``tailorcast run`` process (studio/launcher.py); this table is
its history. Progress is read from the process's own files, not stored here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from tailorcast.errors import StudioRefused

from .models import StudioRun

FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class RunRow:
    id: int
    run_id: str
    version_id: int
    template: str
    source: str
    out: str
    folder: str
    state: str
    pid: int | None
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    exit_code: int | None


def _row(r: StudioRun) -> RunRow:
    return RunRow(r.id, r.run_id, r.version_id, r.template, r.source, r.out, r.folder, r.state, r.pid, r.started_by, r.started_at,
                  r.finished_at, r.exit_code)


class Runs:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, run_id: str, version_id: int, template: str, source: str, out: str, folder: str, started_by: str, at: dt.datetime) -> RunRow:
        with self._sessions.begin() as s:
            row = StudioRun(run_id=run_id, version_id=version_id, template=template, source=source[:300], out=out[:300], folder=folder,
                            state="running", started_by=started_by, started_at=at)
            s.add(row)
            s.flush()
            return _row(row)

    def started(self, run_id: str, pid: int) -> None:
        with self._sessions.begin() as s:
            s.scalar(select(StudioRun).where(StudioRun.run_id == run_id)).pid = pid

    def finish(self, run_id: str, state: str, exit_code: int | None, at: dt.datetime) -> RunRow:
        """Record the end once: a run already finished keeps its first ending (a cancel racing the exit)."""
        if state not in FINAL:
            raise ValueError(state)
        with self._sessions.begin() as s:
            row = s.scalar(select(StudioRun).where(StudioRun.run_id == run_id).with_for_update())
            if row is None:
                raise StudioRefused(f"run {run_id}", "no such run")
            if row.state not in FINAL:
                row.state, row.exit_code, row.finished_at = state, exit_code, at
            return _row(row)

    def get(self, run_id: str) -> RunRow | None:
        with self._sessions() as s:
            row = s.scalar(select(StudioRun).where(StudioRun.run_id == run_id))
            return None if row is None else _row(row)

    def history(self, limit: int = 100) -> list[RunRow]:
        with self._sessions() as s:
            return [_row(r) for r in s.scalars(select(StudioRun).order_by(StudioRun.id.desc()).limit(limit))]

    def going(self) -> list[RunRow]:
        with self._sessions() as s:
            return [_row(r) for r in s.scalars(select(StudioRun).where(StudioRun.state == "running"))]
