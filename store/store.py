"""The store's operations: page events, instalment requests, invoices and their payment, webhook deliveries.

Every method is one transaction and returns plain frozen values, never ORM
objects, so the public server and the staff studio can share one :class:`Store`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tailorcast.errors import InvoiceConflict, ReplayedDelivery

from .database import is_embedded, open_engine
from .migrate import require_head, upgrade
from .models import InstalmentRequest, Invoice, SiteEvent, WebhookDelivery


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


class Store:
    """Everything the servers remember; every method is one transaction, so several apps can share one store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> "Store":
        """The store at ``url``: embedded SQLite is brought to the current schema, a server database must be at it already."""
        engine = open_engine(url)
        try:
            if is_embedded(url):
                upgrade(engine)
            else:
                require_head(engine)
        except BaseException:
            engine.dispose()
            raise
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
        """One conditional UPDATE decides who paid: a row lock does nothing on SQLite, so two concurrent payers that
        both read "unpaid" would both report "paid"; ``WHERE paid_at IS NULL`` lets exactly one change the row."""
        self._issue(s, payment, at)
        done = s.execute(update(Invoice).where(Invoice.ref == payment.ref, Invoice.paid_at.is_(None))
                         .values(paid_at=at, paid_cents=payment.amount_cents, paid_via=via)
                         .execution_options(synchronize_session=False))
        return "paid" if done.rowcount == 1 else "already_paid"
