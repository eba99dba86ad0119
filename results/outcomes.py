"""What happened to the customers of an imported run: their page events and their payments, counted in SQL.

The events are counted in the database, per arm, variant and kind, with each customer counted once
(``ix_public_events_token_kind_detail`` covers the join from a run's tokens to their events, in token order, so
SQLite streams it). Only payers come back one by one, for the days to pay and the amounts.

**Which payments count**, from the run's send date on: the billing system's records (``results_payments``) are
the ledger. A record meets its customer by invoice reference, or by customer id (keyed) when it is before that
customer's next imported run. A customer with no such record counts as paid when the invoice of their page was
paid on the site (demo checkout or webhook, ``public_invoices``): an online payment also shows up in the
billing system's records, and counting both would double it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, case, distinct, exists, func, or_, select
from sqlalchemy.orm import aliased

from store.models import Invoice, SiteEvent
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


def first_send(info: RunInfo, experiment: str):
    """A condition on ``ResultsCustomer``: this run is the customer's first analysed send in ``experiment`` (no earlier run of
    it carried them with a status other than failed; on the same send date, the lower run id is the earlier)."""
    c, ec, er = ResultsCustomer, aliased(ResultsCustomer), aliased(ResultsRun)
    return ~exists().where(ec.customer_key == c.customer_key, ec.status != "failed", er.run_id == ec.run_id, er.experiment == experiment,
                           or_(er.sent_at < info.sent_at, and_(er.sent_at == info.sent_at, er.run_id < info.run_id)))


def _mine(info: RunInfo, first_in: str | None):
    mine = ResultsCustomer.run_id == info.run_id
    return mine if first_in is None else and_(mine, first_send(info, first_in))


def _payers(conn, info: RunInfo, first_in: str | None = None) -> dict[str, Payer]:
    c, p = ResultsCustomer, ResultsPayment
    mine = _mine(info, first_in)
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
    next_send: dict[str, float] = {}
    if conn.execute(select(ResultsRun.run_id).where(ResultsRun.sent_at > info.sent_at).limit(1)).first() is not None:  # a later run exists
        later, later_run = aliased(ResultsCustomer), aliased(ResultsRun)
        next_send = {token: float(days) for token, days in conn.execute(
            select(c.token, func.min(_days_since(later_run.sent_at, info.sent_at, dialect)))
            .join(later, and_(later.customer_key == c.customer_key, later.run_id != info.run_id))
            .join(later_run, later_run.run_id == later.run_id).where(mine, later_run.sent_at > info.sent_at).group_by(c.token))}
    by_key = (select(*who, *pay).join(p, p.customer_key == c.customer_key)
              .where(mine, p.paid_at >= info.sent_at, or_(p.ref.is_(None), c.ref.is_(None), p.ref != c.ref)))  # matched by reference above
    for row in conn.execute(by_key):
        if row[0] not in next_send or row[4] < next_send[row[0]]:  # else it belongs to the customer's next run
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
    c, e = ResultsCustomer, SiteEvent
    mine = _mine(info, first_in)
    analysed = and_(mine, c.status != "failed")
    with engine.connect() as conn:
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
        payers = _payers(conn, info, first_in)
    return RunData(info, sizes, dict(kinds), chapters, payers)


def customer_events(engine: Engine, run_id: str, first_in: str | None = None) -> tuple[RunInfo, list[tuple[str, str | None, str | None, int]], dict[str, Payer]]:
    """Per customer of the run: (token, arm, variant, number of events), in token order, and the payers (``first_in``: as run_data)."""
    info = run_info(engine, run_id)
    c, e = ResultsCustomer, SiteEvent
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(
            select(c.token, c.arm, c.variant, func.count(e.token)).select_from(c).outerjoin(e, e.token == c.token)
            .where(_mine(info, first_in)).group_by(c.token, c.arm, c.variant).order_by(c.token))]
        payers = _payers(conn, info, first_in)
    return info, rows, payers
