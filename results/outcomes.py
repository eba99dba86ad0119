"""What happened to the customers of an imported run: their page events and their payments, counted in SQL.

The events are counted in the database, per arm, variant and kind, with each customer counted once
(``ix_public_events_token_kind_detail`` covers the join from a run's tokens to their events, in token order, so
SQLite streams it). Only payers come back one by one, for the days to pay and the amounts.

**Which payments count**, from the run's send date on: the billing system's records (``results_payments``) are
the ledger. A record meets its customer by invoice reference, or by customer id (keyed) when it is before that
customer's next imported run. A customer with no such record counts as paid when the invoice of their page was
paid on the site (demo checkout or webhook, ``public_invoices``): an online payment also shows up in the
billing system's records, and counting both would double it. The bound is in SQL: each customer's next send (looked
up in ``ix_results_customers_key_run_status``) ends the range read from ``ix_results_payments_key_paid_at`` (0005).

**First sends** (``first_in``, results.series): the customers a run counts in an experiment are copied once, for
all the runs of a series, into a temporary table on the connection (:func:`first_sends`: each customer key's
earliest analysed run in one ``GROUP BY``, then the rows at or before it); the run's queries read that table instead
of ``results_customers``, so they cost what the run counts, not what every earlier run of the experiment holds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import (BigInteger, Column, Connection, Engine, MetaData, String, Table, and_, case, distinct, func, insert, literal,
                        or_, select)
from sqlalchemy.orm import aliased

from store.models import Invoice, SiteEvent, UTCDateTime
from store.results import ResultsCustomer, ResultsPayment, ResultsRun
from tailorcast.errors import ResultsInputError

UTC = dt.timezone.utc
STARTED = "started"  # the pseudo-kind of customers with any of STARTED_KINDS
STARTED_KINDS = ("play", "play_25", "play_50", "play_75", "play_100")  # the player sends "play" when the video first plays
KINDS = ("view", "play_25", "play_50", "play_75", "play_100", "chapter", "cta_click", "pay_started", "play", "scene")  # the public server's
_STARTED_BITS = sum(1 << KINDS.index(k) for k in STARTED_KINDS)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    template: str
    sent_at: dt.datetime
    experiment: dict | None  # the declaration (id, arms, holdout, within, planned_per_arm, horizon_days)


@dataclass
class Payer:
    arm: str | None
    variant: str | None
    status: str
    days: float  # from the send date to the payment that counts (the earliest)
    amount_cents: dict[str, int] = field(default_factory=dict)  # currency → cents


@dataclass(frozen=True)
class RunData:
    """A run's facts, counted: group sizes, customers per event kind and per chapter, and the payers."""

    info: RunInfo
    sizes: dict[tuple, int]  # (arm, variant, status) → customers
    kinds: dict[tuple, int]  # (arm, variant, kind) → customers (not failed) with at least one such event
    chapters: dict[tuple, int]  # (arm, variant, scene) → customers (not failed) who reached that scene (played into it or jumped to it)
    payers: dict[str, Payer]  # token → the payment that counts
    shares: dict[str, float] | None = None  # expected share per arm when not the declaration's (several runs: results.series)
    compare: bool = True  # False: sends pooled over runs are not independent, so no arm is compared (results.series)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def run_info(engine: Engine, run_id: str) -> RunInfo:
    with engine.connect() as conn:
        r = conn.execute(select(ResultsRun.run_id, ResultsRun.template, ResultsRun.sent_at, ResultsRun.declaration)
                         .where(ResultsRun.run_id == run_id)).first()
    if r is None:
        raise ResultsInputError(run_id, "this run is not in the results store; import its manifest first: "
                                        f"tailorcast results import-run {run_id} --from DEST")
    return RunInfo(r.run_id, r.template, _aware(r.sent_at), json.loads(r.declaration) if r.declaration else None)


def _days_since(column, sent_at: dt.datetime, dialect: str):
    """Days from ``sent_at`` to ``column`` as a number computed by the database: no datetime object per row."""
    sent = sent_at.timestamp() / 86400
    if dialect == "sqlite":  # stored as UTC text; julianday 2440587.5 is the unix epoch
        return func.julianday(column) - (2440587.5 + sent)
    return func.extract("epoch", column) / 86400.0 - sent


_COUNTED = Table("tc_first_sends", MetaData(), Column("id", BigInteger), Column("run_id", String(80), primary_key=True),
                 Column("token", String(64), primary_key=True), Column("customer_key", String(64)), Column("ref", String(64)),
                 Column("variant", String(40)), Column("arm", String(40)), Column("status", String(16)),
                 prefixes=["TEMPORARY"])  # per connection, dropped after use; not part of the store's schema (Base.metadata)
FAR = dt.datetime(9999, 12, 31, tzinfo=UTC)  # "no next send"


@dataclass(frozen=True)
class FirstSends:
    """Which rows of some runs are their customers' first analysed send in an experiment (:func:`first_sends`): all of a
    run that no run of the experiment precedes (``whole``); of the others, those copied into a temporary table on the
    connection, which ``customers`` reads as :class:`ResultsCustomer`."""

    experiment: str
    whole: frozenset[str]
    copied: frozenset[str]
    customers: type[ResultsCustomer] | None


@contextmanager
def first_sends(conn: Connection, experiment: str | None, runs: list[RunInfo]) -> Iterator[FirstSends | None]:
    """``runs``' customers whose first analysed send in ``experiment`` is that run (no earlier run of the experiment carried
    them with a status other than failed; on the same send date, the lower run id is the earlier), for the block; None
    for no experiment. Once for all the runs: each customer key's earliest such run (a GROUP BY over the experiment's
    rows), then the rows of the runs at or before it copied into a temporary table on ``conn``, so that each run's
    queries read only the customers it counts instead of checking every customer against all their sends. The
    experiment's first run counts all its customers and is read in place (one month: nothing is copied)."""
    if experiment is None:
        yield None
        return
    r, c = ResultsRun, ResultsCustomer
    ordered = conn.execute(select(r.run_id).where(r.experiment == experiment).order_by(r.sent_at, r.run_id)).scalars().all()
    position = {run_id: n for n, run_id in enumerate(ordered)}  # in the database's order (its collation for run ids)
    for info in runs:
        if info.run_id not in position:  # a run outside the experiment: the number of the experiment's runs sent before it
            position[info.run_id] = conn.execute(select(func.count()).select_from(r).where(r.experiment == experiment, or_(
                r.sent_at < info.sent_at, and_(r.sent_at == info.sent_at, r.run_id < info.run_id)))).scalar()
    whole = frozenset(info.run_id for info in runs if position[info.run_id] == 0)
    later = [info.run_id for info in runs if position[info.run_id] > 0]
    if not later:
        yield FirstSends(experiment, whole, frozenset(), None)
        return
    ec = aliased(ResultsCustomer)
    first = (select(ec.customer_key.label("customer_key"), func.min(case(position, value=ec.run_id)).label("pos"))
             .where(ec.run_id.in_(ordered[:max(position[i] for i in later)]), ec.status != "failed").group_by(ec.customer_key)
             .subquery("first_send"))
    counted_rows = (select(c.id, c.run_id, c.token, c.customer_key, c.ref, c.variant, c.arm, c.status)
                    .outerjoin(first, first.c.customer_key == c.customer_key)
                    .where(c.run_id.in_(later), or_(first.c.pos.is_(None), first.c.pos >= case({i: position[i] for i in later}, value=c.run_id))))
    _COUNTED.drop(conn, checkfirst=True)
    _COUNTED.create(conn)
    try:
        conn.execute(insert(_COUNTED).from_select([col.name for col in _COUNTED.c], counted_rows))
        if conn.dialect.name == "postgresql":  # temporary tables are not analysed by autovacuum
            conn.exec_driver_sql(f"ANALYZE {_COUNTED.name}")
        conn.commit()  # only the temporary table was written; no transaction (SQLite: no lock on the store) stays open meanwhile
        yield FirstSends(experiment, whole, frozenset(later), aliased(ResultsCustomer, _COUNTED, adapt_on_names=True))
    finally:
        conn.rollback()  # an error may have left the transaction unusable (PostgreSQL)
        _COUNTED.drop(conn, checkfirst=True)
        conn.commit()


def _customers(info: RunInfo, firsts: FirstSends | None):
    """The entity to read the run's customers from, and the condition for this run's."""
    if firsts is None or info.run_id in firsts.whole:
        return ResultsCustomer, ResultsCustomer.run_id == info.run_id
    if info.run_id not in firsts.copied:
        raise ValueError(f"run {info.run_id} is not among the runs of these first sends")
    return firsts.customers, firsts.customers.run_id == info.run_id


def _payers(conn, info: RunInfo, c, mine) -> dict[str, Payer]:
    p = ResultsPayment
    dialect = conn.dialect.name
    who = (c.token, c.arm, c.variant, c.status)
    pay = (_days_since(p.paid_at, info.sent_at, dialect), p.amount_cents, p.currency)
    found: dict[str, list] = {}  # token → [arm, variant, status, earliest days, {currency: cents}]

    def add(token, arm, variant, status, days, cents, cur) -> None:
        entry = found.get(token)
        if entry is None:
            found[token] = [arm, variant, status, float(days), {cur: cents}]
            return
        entry[3] = min(entry[3], float(days))
        entry[4][cur] = entry[4].get(cur, 0) + cents

    for row in conn.execute(select(*who, *pay).join(p, p.ref == c.ref).where(mine, p.paid_at >= info.sent_at)):
        add(*row)
    keyed = and_(p.customer_key == c.customer_key, p.paid_at >= info.sent_at)
    if conn.execute(select(ResultsRun.run_id).where(ResultsRun.sent_at > info.sent_at).limit(1)).first() is not None:  # a later run exists
        # a payment by customer id before the customer's next send (any later run that carried them) is this run's; from
        # it on, the next run's. The next send bounds the range read from (customer_key, paid_at) (migration 0005), so
        # the customer's later payments are not read; it is looked up per customer in (customer_key, run_id, status).
        later, later_run = aliased(ResultsCustomer), aliased(ResultsRun)
        next_send = (select(func.min(later_run.sent_at)).select_from(later).join(later_run, later_run.run_id == later.run_id)
                     .where(later.customer_key == c.customer_key, later.run_id != info.run_id, later_run.sent_at > info.sent_at)
                     .scalar_subquery())
        keyed = and_(keyed, p.paid_at < func.coalesce(next_send, literal(FAR, UTCDateTime())))
    by_key = (select(*who, *pay).join(p, keyed)
              .where(mine, or_(p.ref.is_(None), c.ref.is_(None), p.ref != c.ref)))  # matched by reference above
    for row in conn.execute(by_key):
        add(*row)
    ledger = set(found)
    for row in conn.execute(select(*who, _days_since(Invoice.paid_at, info.sent_at, dialect), func.coalesce(Invoice.paid_cents, 0), Invoice.currency)
                            .join(Invoice, Invoice.token == c.token).where(mine, Invoice.paid_at.is_not(None), Invoice.paid_at >= info.sent_at)):
        if row[0] not in ledger:
            add(*row)
    # whole seconds survive the rounding; float noise from the database's day arithmetic does not
    return {token: Payer(arm, variant, status, round(days, 6), amounts) for token, (arm, variant, status, days, amounts) in found.items()}


def run_data(engine: Engine, run_id: str, first_in: str | None = None) -> RunData:
    """Everything the report needs: group sizes, one pass over the events, the chapters, and the payers (four queries).
    ``first_in``: an experiment id; only the customers whose first send in it is this run count (results.series)."""
    info = run_info(engine, run_id)
    with engine.connect() as conn, first_sends(conn, first_in, [info]) as firsts:
        return counted(conn, info, firsts)


def counted(conn: Connection, info: RunInfo, firsts: FirstSends | None = None) -> RunData:
    """:func:`run_data` on ``conn``; with ``firsts`` (:func:`first_sends` on the same connection), first sends only."""
    e = SiteEvent
    c, mine = _customers(info, firsts)
    analysed = and_(mine, c.status != "failed")
    sizes = {(arm, variant, status): n for arm, variant, status, n in
             conn.execute(select(c.arm, c.variant, c.status, func.count()).where(mine).group_by(c.arm, c.variant, c.status))}
    # one bit mask of event kinds per customer (the index hands each customer's events over in a row), then
    # customers per arm, variant and mask: one pass over the run's events. SQLite may name arm and variant bare
    # (one value per token); PostgreSQL wants them aggregated.
    bit = case(*((e.kind == k, 1 << i) for i, k in enumerate(KINDS)), else_=0)
    arm_of, variant_of = (c.arm, c.variant) if conn.dialect.name == "sqlite" else (func.min(c.arm), func.min(c.variant))
    masks = (select(arm_of.label("arm"), variant_of.label("variant"), func.sum(distinct(bit)).label("mask")).select_from(c)
             .join(e, e.token == c.token).where(analysed).group_by(c.token).subquery())
    kinds: dict[tuple, int] = defaultdict(int)
    for arm, variant, mask, n in conn.execute(select(masks.c.arm, masks.c.variant, masks.c.mask, func.count())
                                              .group_by(masks.c.arm, masks.c.variant, masks.c.mask)):
        for i, k in enumerate(KINDS):
            if int(mask) >> i & 1:
                kinds[(arm, variant, k)] += n
        if int(mask) & _STARTED_BITS:
            kinds[(arm, variant, STARTED)] += n
    chapters = {(arm, variant, scene): n for arm, variant, scene, n in conn.execute(
        select(c.arm, c.variant, e.detail, func.count(func.distinct(c.token))).select_from(c).join(e, e.token == c.token)
        .where(analysed, e.kind.in_(("scene", "chapter"))).group_by(c.arm, c.variant, e.detail))}
    payers = _payers(conn, info, c, mine)
    return RunData(info, sizes, dict(kinds), chapters, payers)


def customer_events(engine: Engine, run_id: str, first_in: str | None = None) -> tuple[RunInfo, list[tuple[str, str | None, str | None, int]], dict[str, Payer]]:
    """Per customer of the run: (token, arm, variant, number of events), in token order, and the payers (``first_in``: as run_data)."""
    info = run_info(engine, run_id)
    with engine.connect() as conn, first_sends(conn, first_in, [info]) as firsts:
        return customer_events_on(conn, info, firsts)


def customer_events_on(conn: Connection, info: RunInfo, firsts: FirstSends | None = None):
    """:func:`customer_events` on ``conn``; ``firsts`` as for :func:`counted`."""
    e = SiteEvent
    c, mine = _customers(info, firsts)
    rows = [tuple(r) for r in conn.execute(
        select(c.token, c.arm, c.variant, func.count(e.token)).select_from(c).outerjoin(e, e.token == c.token)
        .where(mine).group_by(c.token, c.arm, c.variant).order_by(c.token))]
    return info, rows, _payers(conn, info, c, mine)
