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

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.orm import aliased

from store.models import Invoice, SiteEvent
from store.results import ResultsCustomer, ResultsPayment, ResultsRun
from tailorcast.errors import ResultsInputError

UTC = dt.timezone.utc
STARTED = "started"  # the pseudo-kind of customers with any of STARTED_KINDS
STARTED_KINDS = ("play", "play_25", "play_50", "play_75", "play_100")  # the player reports quartiles: "started" is "at least 25 %" until it sends "play"
KINDS = ("view", "play_25", "play_50", "play_75", "play_100", "chapter", "cta_click", "pay_started", "play")  # the public server's, and "play"
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
    paid_at: dt.datetime
    amount_cents: dict[str, int] = field(default_factory=dict)  # currency → cents

    def days(self, sent_at: dt.datetime) -> float:
        return (self.paid_at - sent_at).total_seconds() / 86400


@dataclass(frozen=True)
class RunData:
    """A run's facts, counted: group sizes, customers per event kind and per chapter, and the payers."""

    info: RunInfo
    sizes: dict[tuple, int]  # (arm, variant, status) → customers
    kinds: dict[tuple, int]  # (arm, variant, kind) → customers (not failed) with at least one such event
    chapters: dict[tuple, int]  # (arm, variant, scene) → customers (not failed) who used that chapter
    payers: dict[str, Payer]  # token → the payment that counts


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


def _payers(conn, info: RunInfo) -> dict[str, Payer]:
    c = ResultsCustomer
    mine = c.run_id == info.run_id
    who = (c.token, c.arm, c.variant, c.status)
    pay = (ResultsPayment.id, ResultsPayment.paid_at, ResultsPayment.amount_cents, ResultsPayment.currency)
    ledger: dict[str, dict] = defaultdict(dict)  # token → {payment id: (paid_at, cents, currency)}
    people: dict[str, tuple] = {}
    for token, arm, variant, status, pid, at, cents, cur in conn.execute(
            select(*who, *pay).join(ResultsPayment, ResultsPayment.ref == c.ref).where(mine, ResultsPayment.paid_at >= info.sent_at)):
        people[token] = (arm, variant, status)
        ledger[token][pid] = (_aware(at), cents, cur)
    later, later_run = aliased(ResultsCustomer), aliased(ResultsRun)
    next_send = {token: _aware(at) for token, at in conn.execute(
        select(c.token, func.min(later_run.sent_at)).join(later, and_(later.customer_key == c.customer_key, later.run_id != info.run_id))
        .join(later_run, later_run.run_id == later.run_id).where(mine, later_run.sent_at > info.sent_at).group_by(c.token))}
    for token, arm, variant, status, pid, at, cents, cur in conn.execute(
            select(*who, *pay).join(ResultsPayment, ResultsPayment.customer_key == c.customer_key).where(mine, ResultsPayment.paid_at >= info.sent_at)):
        at = _aware(at)
        if token in next_send and at >= next_send[token]:
            continue  # that payment belongs to the customer's next run
        people[token] = (arm, variant, status)
        ledger[token][pid] = (at, cents, cur)
    site: dict[str, list] = defaultdict(list)
    for token, arm, variant, status, at, cents, cur in conn.execute(
            select(*who, Invoice.paid_at, Invoice.paid_cents, Invoice.currency).join(Invoice, Invoice.token == c.token)
            .where(mine, Invoice.paid_at.is_not(None), Invoice.paid_at >= info.sent_at)):
        if token not in ledger:
            people[token] = (arm, variant, status)
            site[token].append((_aware(at), cents or 0, cur))
    payers = {}
    for token, (arm, variant, status) in people.items():
        payments = list(ledger[token].values()) if token in ledger else site[token]
        payer = Payer(arm, variant, status, min(p[0] for p in payments))
        for _, cents, cur in payments:
            payer.amount_cents[cur] = payer.amount_cents.get(cur, 0) + cents
        payers[token] = payer
    return payers


def run_data(engine: Engine, run_id: str) -> RunData:
    """Everything the report needs, in five small queries and one per kind of payment."""
    info = run_info(engine, run_id)
    c, e = ResultsCustomer, SiteEvent
    mine = c.run_id == run_id
    analysed = and_(mine, c.status != "failed")
    with engine.connect() as conn:
        sizes = {(arm, variant, status): n for arm, variant, status, n in
                 conn.execute(select(c.arm, c.variant, c.status, func.count()).where(mine).group_by(c.arm, c.variant, c.status))}
        # one row per customer and kind (in index order, so SQLite groups as it reads), then one bit mask of kinds per
        # customer, then customers per arm, variant and mask: one pass over the run's events
        pairs = (select(c.token.label("token"), c.arm.label("arm"), c.variant.label("variant"), e.kind.label("kind")).select_from(c)
                 .join(e, e.token == c.token).where(analysed).group_by(c.token, c.arm, c.variant, e.kind).subquery())
        bit = case(*((pairs.c.kind == k, 1 << i) for i, k in enumerate(KINDS)), else_=0)
        masks = (select(pairs.c.arm.label("arm"), pairs.c.variant.label("variant"), func.sum(bit).label("mask"))
                 .group_by(pairs.c.token, pairs.c.arm, pairs.c.variant).subquery())
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
            .where(analysed, e.kind == "chapter").group_by(c.arm, c.variant, e.detail))}
        payers = _payers(conn, info)
    return RunData(info, sizes, dict(kinds), chapters, payers)


def customer_events(engine: Engine, run_id: str) -> tuple[RunInfo, list[tuple[str, str | None, str | None, int]], dict[str, Payer]]:
    """Per customer of the run: (token, arm, variant, number of events), in token order, and the payers."""
    info = run_info(engine, run_id)
    c, e = ResultsCustomer, SiteEvent
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(
            select(c.token, c.arm, c.variant, func.count(e.token)).select_from(c).outerjoin(e, e.token == c.token)
            .where(c.run_id == run_id).group_by(c.token, c.arm, c.variant).order_by(c.token))]
        payers = _payers(conn, info)
    return info, rows, payers
