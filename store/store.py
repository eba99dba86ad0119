"""What the public server remembers: page events, instalment requests, invoices and their payment, webhook deliveries.

SQLAlchemy 2.x, portable SQL only: SQLite by default, PostgreSQL by URL. No row
holds a name, an e-mail, a phone number or an address: customers appear only
as their page token, invoices as their reference.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Engine, Integer, String, TypeDecorator, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from tailorcast.errors import ConfigError, TailorcastError

UTC = dt.timezone.utc
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER primary keys


class InvoiceConflict(TailorcastError):
    """A payment or a link disagrees with what was issued for the invoice; it is not marked paid."""

    def __init__(self, ref: str, field: str, issued: str, got: str) -> None:
        super().__init__(ref, field, issued, got)
        self.ref = ref
        self.field = field
        self.issued = issued
        self.got = got

    def __str__(self) -> str:
        return f"invoice {self.ref}: the {self.field} ({self.got}) differs from what was issued ({self.issued}); refused, the invoice is unchanged"


class ReplayedDelivery(TailorcastError):
    """A webhook event id seen before: it is never processed twice."""

    def __init__(self, event_id: str) -> None:
        super().__init__(event_id)
        self.event_id = event_id

    def __str__(self) -> str:
        return f"webhook event {self.event_id} was already received; it is not processed again"


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


@dataclass(frozen=True)
class PaidStatus:
    paid: bool
    paid_at: dt.datetime | None = None


@dataclass(frozen=True)
class Payment:
    """A payment as reported by the demo checkout or a provider: amounts in cents."""

    ref: str
    amount_cents: int
    currency: str
    token: str = ""


@dataclass(frozen=True)
class EventRow:
    token: str
    kind: str
    detail: str | None
    at: dt.datetime


@dataclass(frozen=True)
class InvoiceRow:
    ref: str
    token: str | None
    amount_cents: int
    currency: str
    paid_at: dt.datetime | None
    paid_via: str | None


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, in-memory SQLite one shared connection."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database URL {url!r} cannot be parsed ({exc}); use e.g. 'sqlite:///state/public.db' or 'postgresql+psycopg://user@host/db'") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_pre_ping=True)


class Store:
    """The public server's storage; every method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> "Store":
        engine = open_engine(url)
        Base.metadata.create_all(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- events and requests

    def add_event(self, token: str, kind: str, detail: str | None, at: dt.datetime) -> None:
        with self._sessions.begin() as s:
            s.add(SiteEvent(token=token, kind=kind, detail=detail, at=at))

    def events(self, token: str) -> list[EventRow]:
        with self._sessions() as s:
            rows = s.scalars(select(SiteEvent).where(SiteEvent.token == token).order_by(SiteEvent.id))
            return [EventRow(r.token, r.kind, r.detail, r.at) for r in rows]

    def count_events(self) -> int:
        with self._sessions() as s:
            return s.scalar(select(func.count()).select_from(SiteEvent)) or 0

    def add_instalment_request(self, token: str, instalments: int, contact: str | None, at: dt.datetime) -> int:
        with self._sessions.begin() as s:
            row = InstalmentRequest(token=token, instalments=instalments, contact=contact, at=at)
            s.add(row)
            s.flush()
            return row.id

    def instalment_requests(self, token: str) -> list[tuple[int, str | None]]:
        with self._sessions() as s:
            rows = s.scalars(select(InstalmentRequest).where(InstalmentRequest.token == token).order_by(InstalmentRequest.id))
            return [(r.instalments, r.contact) for r in rows]

    # -- invoices and payments

    def invoice(self, ref: str) -> InvoiceRow | None:
        with self._sessions() as s:
            row = s.get(Invoice, ref)
            return None if row is None else InvoiceRow(row.ref, row.token, row.amount_cents, row.currency, row.paid_at, row.paid_via)

    def issue(self, payment: Payment, at: dt.datetime) -> InvoiceRow:
        """Remember what was asked for ``payment.ref`` (the first issue wins); a disagreeing one raises :class:`InvoiceConflict`."""
        row = self._transaction(lambda s: self._issue(s, payment, at))
        return InvoiceRow(row.ref, row.token, row.amount_cents, row.currency, row.paid_at, row.paid_via)

    def pay(self, payment: Payment, via: str, at: dt.datetime) -> str:
        """Mark the invoice paid: ``"paid"`` or ``"already_paid"``; :class:`InvoiceConflict` if the terms differ."""
        return self._transaction(lambda s: self._pay(s, payment, via, at))

    def apply_webhook(self, event_id: str, event_type: str, payment: Payment | None, at: dt.datetime) -> str:
        """Record the delivery and apply its payment in one transaction, the outcome stored with it.

        A conflicting payment is recorded (``amount_mismatch``, ``currency_mismatch``,
        ``token_mismatch``) and raises; a retry of that event id is then a replay.
        """

        def work(s: Session) -> tuple[str, InvoiceConflict | None]:
            if s.get(WebhookDelivery, event_id) is not None:
                raise ReplayedDelivery(event_id)
            delivery = WebhookDelivery(event_id=event_id, type=event_type, outcome="ignored", at=at)
            s.add(delivery)
            s.flush()  # a concurrent twin fails here; the retry then sees it and raises ReplayedDelivery
            if payment is None:
                return delivery.outcome, None
            try:
                delivery.outcome = self._pay(s, payment, "webhook", at)
            except InvoiceConflict as exc:  # nothing was changed yet: record the refusal, keep the invoice as it was
                delivery.outcome = f"{exc.field}_mismatch"
                return delivery.outcome, exc
            return delivery.outcome, None

        outcome, conflict = self._transaction(work)
        if conflict is not None:
            raise conflict
        return outcome

    def webhook_outcome(self, event_id: str) -> str | None:
        with self._sessions() as s:
            row = s.get(WebhookDelivery, event_id)
            return None if row is None else row.outcome

    def status(self, token: str) -> PaidStatus:
        """Paid when any invoice linked to the token is paid (one page shows one bill)."""
        with self._sessions() as s:
            paid_at = s.scalar(select(func.min(Invoice.paid_at)).where(Invoice.token == token, Invoice.paid_at.is_not(None)))
            return PaidStatus(paid_at is not None, paid_at)

    # -- inside a transaction

    def _transaction(self, work):
        """Run ``work(session)`` in one transaction, once more if a concurrent insert of the same key won."""
        for attempt in range(2):
            try:
                with self._sessions.begin() as s:
                    return work(s)
            except IntegrityError:
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _issue(self, s: Session, payment: Payment, at: dt.datetime) -> Invoice:
        row = s.get(Invoice, payment.ref, with_for_update=True)
        if row is None:
            row = Invoice(ref=payment.ref, token=payment.token or None, amount_cents=payment.amount_cents,
                          currency=payment.currency, issued_at=at)
            s.add(row)
            s.flush()  # issued concurrently → IntegrityError → _transaction retries and compares with the winner
            return row
        if row.amount_cents != payment.amount_cents:
            raise InvoiceConflict(row.ref, "amount", f"{row.amount_cents} cents", f"{payment.amount_cents} cents")
        if row.currency != payment.currency:
            raise InvoiceConflict(row.ref, "currency", row.currency, payment.currency)
        if payment.token:
            if row.token and row.token != payment.token:
                raise InvoiceConflict(row.ref, "token", "the token of its page", "another token")
            row.token = payment.token
        return row

    def _pay(self, s: Session, payment: Payment, via: str, at: dt.datetime) -> str:
        row = self._issue(s, payment, at)
        if row.paid_at is not None:
            return "already_paid"
        row.paid_at, row.paid_cents, row.paid_via = at, payment.amount_cents, via
        return "paid"
