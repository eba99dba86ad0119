"""The store's tables as SQLAlchemy 2.x declarative models, in portable SQL only.

No row holds a name, an e-mail, a phone number or an address: customers appear
only as their page token, invoices as their reference. A change here needs a new
migration in store/migrations/versions/ (tests/test_store.py fails until the two agree).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UTC = dt.timezone.utc
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER primary keys


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store aware datetimes only (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class SiteEvent(Base):
    __tablename__ = "public_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64))  # looked up by ix_public_events_token_kind_detail (store/results.py)
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(48))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class InstalmentRequest(Base):
    __tablename__ = "public_instalment_requests"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), index=True)
    instalments: Mapped[int] = mapped_column(Integer)
    contact: Mapped[str | None] = mapped_column(String(8))  # "phone" | "email" | None: a preference, never the number
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Invoice(Base):
    __tablename__ = "public_invoices"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(64), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    paid_cents: Mapped[int | None] = mapped_column(BigInteger)
    paid_via: Mapped[str | None] = mapped_column(String(16))


class WebhookDelivery(Base):
    __tablename__ = "public_webhook_deliveries"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# The studio's tables (staff only): users, template files and versions, reviews, runs, the audit log.
# Operations on them live in store/users.py, store/versions.py, store/runs.py and store/audit.py.


class StudioUser(Base):
    __tablename__ = "studio_users"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StudioBlob(Base):
    """A file's bytes, named by their SHA-256: versions that share a file share its row."""

    __tablename__ = "studio_blobs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class StudioVersion(Base):
    """One saved state of a template: its files ({path: blob digest}, JSON) named by their digest."""

    __tablename__ = "studio_versions"
    __table_args__ = (UniqueConstraint("template", "digest", name="uq_studio_versions_template_digest"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    template: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    files: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("studio_versions.id"))
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16))  # draft | review | approved | rejected
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # the last save of these files: the template's current version is the last saved


class StudioReview(Base):
    __tablename__ = "studio_reviews"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(_ID, ForeignKey("studio_versions.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # submitted | approved | rejected
    user: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StudioRun(Base):
    __tablename__ = "studio_runs"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(80), unique=True)
    version_id: Mapped[int] = mapped_column(_ID, ForeignKey("studio_versions.id"))
    template: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300))  # "upload: <file name>" or the bucket path
    out: Mapped[str] = mapped_column(String(300))
    folder: Mapped[str] = mapped_column(String(500))  # the run's working folder (input copy, log)
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed | cancelled
    pid: Mapped[int | None] = mapped_column(Integer)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    exit_code: Mapped[int | None] = mapped_column(Integer)


class AuditEntry(Base):
    __tablename__ = "studio_audit"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    user: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


from . import results as _results  # noqa: E402,F401  (the results room's tables join Base.metadata)
