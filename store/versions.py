"""Template versions: every save is a version named by the digest of its files, kept with author and time.

A version's files are ``{path: blob digest}``; the bytes live once in ``studio_blobs``.
Saving files that an earlier version has makes that version the template's current
one again (``saved_at``). Its state moves draft → review → approved | rejected (a rejected
version may be submitted again). While a template has a version under review, nobody can save
it, and nobody approves their own version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tailorcast.errors import StudioRefused

from .models import StudioBlob, StudioReview, StudioVersion

STATES = ("draft", "review", "approved", "rejected")


@dataclass(frozen=True)
class VersionRow:
    id: int
    template: str
    digest: str
    files: Mapping[str, str]  # path → blob digest
    parent_id: int | None
    author: str
    note: str
    state: str
    created_at: dt.datetime
    saved_at: dt.datetime

    @property
    def short(self) -> str:
        return self.digest[:12]


@dataclass(frozen=True)
class ReviewRow:
    version_id: int
    action: str
    user: str
    comment: str
    at: dt.datetime


def blob_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_digest(files: Mapping[str, str]) -> str:
    """The digest of a set of files: their sorted paths and blob digests."""
    return hashlib.sha256("".join(f"{p}\0{d}\n" for p, d in sorted(files.items())).encode()).hexdigest()


def _row(v: StudioVersion) -> VersionRow:
    return VersionRow(v.id, v.template, v.digest, json.loads(v.files), v.parent_id, v.author, v.note, v.state, v.created_at, v.saved_at)


class Versions:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- saving

    def save(self, template: str, files: Mapping[str, bytes], author: str, at: dt.datetime,
             parent_id: int | None = None, note: str = "") -> tuple[VersionRow, bool]:
        """(version, made): the same files again return the version that has them, made False."""
        digests = {path: blob_digest(data) for path, data in files.items()}
        digest = version_digest(digests)
        for _attempt in range(2):  # a concurrent save of the same blob or version wins once
            try:
                with self._sessions.begin() as s:
                    pending = s.scalar(select(StudioVersion).where(StudioVersion.template == template, StudioVersion.state == "review"))
                    same = s.scalar(select(StudioVersion).where(StudioVersion.template == template, StudioVersion.digest == digest))
                    if same is not None:
                        same.saved_at = at
                        return _row(same), False
                    if pending is not None:
                        raise StudioRefused(f"template {template}", f"version {pending.digest[:12]} is under review; it cannot be edited "
                                                                    "until an approver approves or rejects it")
                    known = set(s.scalars(select(StudioBlob.digest).where(StudioBlob.digest.in_(set(digests.values())))))
                    for path, data in files.items():
                        if digests[path] not in known:
                            s.add(StudioBlob(digest=digests[path], size=len(data), data=data))
                            known.add(digests[path])
                    row = StudioVersion(template=template, digest=digest, files=json.dumps(digests, sort_keys=True), parent_id=parent_id,
                                        author=author, note=note[:200], state="draft", created_at=at, saved_at=at)
                    s.add(row)
                    s.flush()
                    return _row(row), True
            except IntegrityError:
                continue
        raise StudioRefused(f"template {template}", "another save of the same files happened at the same time; try again")

    # -- reading

    def get(self, version_id: int) -> VersionRow | None:
        with self._sessions() as s:
            v = s.get(StudioVersion, version_id)
            return None if v is None else _row(v)

    def history(self, template: str) -> list[VersionRow]:
        """Newest first."""
        with self._sessions() as s:
            return [_row(v) for v in s.scalars(select(StudioVersion).where(StudioVersion.template == template).order_by(StudioVersion.id.desc()))]

    def latest(self, template: str) -> VersionRow | None:
        """The template's current version: the one whose files were saved last."""
        with self._sessions() as s:
            v = s.scalar(select(StudioVersion).where(StudioVersion.template == template)
                         .order_by(StudioVersion.saved_at.desc(), StudioVersion.id.desc()).limit(1))
            return None if v is None else _row(v)

    def templates(self) -> list[VersionRow]:
        """The current version of every template, by name."""
        with self._sessions() as s:
            names = list(s.scalars(select(StudioVersion.template).distinct().order_by(StudioVersion.template)))
        return [self.latest(name) for name in names]

    def approved(self) -> list[VersionRow]:
        with self._sessions() as s:
            rows = s.scalars(select(StudioVersion).where(StudioVersion.state == "approved").order_by(StudioVersion.template, StudioVersion.id.desc()))
            return [_row(v) for v in rows]

    def files(self, version: VersionRow) -> dict[str, bytes]:
        with self._sessions() as s:
            blobs = {b.digest: b.data for b in s.scalars(select(StudioBlob).where(StudioBlob.digest.in_(set(version.files.values()))))}
        return {path: blobs[d] for path, d in sorted(version.files.items())}

    def file(self, version: VersionRow, path: str) -> bytes | None:
        digest = version.files.get(path)
        if digest is None:
            return None
        with self._sessions() as s:
            blob = s.get(StudioBlob, digest)
            return None if blob is None else blob.data

    def reviews(self, version_id: int) -> list[ReviewRow]:
        with self._sessions() as s:
            rows = s.scalars(select(StudioReview).where(StudioReview.version_id == version_id).order_by(StudioReview.id))
            return [ReviewRow(r.version_id, r.action, r.user, r.comment, r.at) for r in rows]

    # -- approval

    def submit(self, version_id: int, user: str, at: dt.datetime, comment: str = "") -> VersionRow:
        def work(s: Session, v: StudioVersion) -> None:
            if v.state not in ("draft", "rejected"):
                raise StudioRefused(f"version {v.digest[:12]}", f"is {v.state}; only a draft or rejected version can be submitted")
            pending = s.scalar(select(StudioVersion).where(StudioVersion.template == v.template, StudioVersion.state == "review"))
            if pending is not None:
                raise StudioRefused(f"template {v.template}", f"version {pending.digest[:12]} is already under review")
            v.state = "review"
            s.add(StudioReview(version_id=v.id, action="submitted", user=user, comment=comment, at=at))
        return self._change(version_id, work)

    def decide(self, version_id: int, user: str, approve: bool, comment: str, at: dt.datetime) -> VersionRow:
        """Approve or reject a version under review; never by its author; a rejection needs a comment."""
        def work(s: Session, v: StudioVersion) -> None:
            if v.state != "review":
                raise StudioRefused(f"version {v.digest[:12]}", f"is {v.state}, not under review; submit it first")
            if v.author == user:
                raise StudioRefused(f"version {v.digest[:12]}", "you saved it: another approver must decide")
            if not approve and not comment.strip():
                raise StudioRefused(f"version {v.digest[:12]}", "say why it is rejected in the comment")
            v.state = "approved" if approve else "rejected"
            s.add(StudioReview(version_id=v.id, action=v.state, user=user, comment=comment, at=at))
        return self._change(version_id, work)

    def _change(self, version_id: int, work) -> VersionRow:
        with self._sessions.begin() as s:
            v = s.get(StudioVersion, version_id, with_for_update=True)
            if v is None:
                raise StudioRefused(f"version {version_id}", "no such version")
            work(s, v)
            s.flush()
            return _row(v)
