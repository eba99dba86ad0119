"""The results room's tables: the runs imported for results, their customers, and the billing system's payments.

A customer appears as the page token and as a keyed hash of the customer id (``customer_key``,
:func:`results.identity.customer_key`), never as the id itself; invoices as their reference. The
indexes serve the per-run aggregation in :mod:`results.outcomes` (the event index covers the
join from a run's tokens to their events, so SQLite and PostgreSQL read only the index).
Imported by :mod:`store.models`, so these tables are part of ``Base.metadata`` and its migrations.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import _ID, Base, SiteEvent, UTCDateTime


class ResultsRun(Base):
    """A billing run whose manifest was imported for results: when it was sent, and its experiment as declared."""

    __tablename__ = "results_runs"

    run_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    experiment: Mapped[str | None] = mapped_column(String(64), index=True)
    declaration: Mapped[str | None] = mapped_column(Text)  # the experiment section as JSON (arms, weights, holdout, …)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ResultsCustomer(Base):
    """One manifest row: token, keyed customer id, invoice reference, variant, arm (or holdout) and status."""

    __tablename__ = "results_customers"
    __table_args__ = (UniqueConstraint("run_id", "token", name="uq_results_customers_run_token"),
                      # a customer's sends, covered (0005): first sends and next sends across runs (results.outcomes)
                      Index("ix_results_customers_key_run_status", "customer_key", "run_id", "status"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(80), ForeignKey("results_runs.run_id"))
    token: Mapped[str] = mapped_column(String(64), index=True)
    customer_key: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    variant: Mapped[str | None] = mapped_column(String(40))
    arm: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))


class ResultsPayment(Base):
    """A payment from the billing system's records; ``row_key`` (a digest of the record) makes a re-import change nothing."""

    __tablename__ = "results_payments"
    # a customer's payments in time order (0005): one run's keyed payments are the range from its send to the next
    __table_args__ = (Index("ix_results_payments_key_paid_at", "customer_key", "paid_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    row_key: Mapped[str] = mapped_column(String(64), unique=True)
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_key: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# A run's events in one index range per token, without touching the table (results.outcomes).
EVENTS_BY_TOKEN = Index("ix_public_events_token_kind_detail", SiteEvent.token, SiteEvent.kind, SiteEvent.detail)
