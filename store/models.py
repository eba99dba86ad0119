"""The store's tables as SQLAlchemy 2.x declarative models, in portable SQL only.

No row holds a name, an e-mail, a phone number or an address: customers appear
only as their page token, invoices as their reference. A change here needs a new
migration in store/migrations/versions/ (tests/test_store.py fails until the two agree).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Integer, String, TypeDecorator
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
    token: Mapped[str] = mapped_column(String(64), index=True)
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
