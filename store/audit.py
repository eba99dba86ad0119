"""The studio's audit log: who saved, submitted, approved, rejected, started or cancelled what, and when.

Entries are only ever added. ``target`` names a template version, a run or a
user, never a customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from .models import AuditEntry


@dataclass(frozen=True)
class AuditRow:
    at: dt.datetime
    user: str
    action: str
    target: str
    detail: str


class Audit:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, at: dt.datetime, user: str, action: str, target: str, detail: str = "") -> None:
        with self._sessions.begin() as s:
            s.add(AuditEntry(at=at, user=user, action=action, target=target[:200], detail=detail))

    def recent(self, limit: int = 200, user: str | None = None) -> list[AuditRow]:
        with self._sessions() as s:
            q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if user:
                q = q.where(AuditEntry.user == user)
            return [AuditRow(e.at, e.user, e.action, e.target, e.detail) for e in s.scalars(q)]
