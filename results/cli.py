"""``tailorcast results``: the results room's commands, registered on the front door by tailorcast/cli.py.

``tailorcast results RUN_ID`` is short for ``tailorcast results show RUN_ID``. Expected errors are
TailorcastErrors, which the front door prints without a traceback (exit status 2).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from tailorcast.csvfile import csv_bytes, write_csv
from tailorcast.dialects import DECIMAL_MARKS
from tailorcast.errors import ResultsInputError
from tailorcast.params import RUN_ID

UTC = dt.timezone.utc
_STATE = click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help="Local state folder (secret, and the default SQLite database); default .tailorcast or $TAILORCAST_STATE.")


class _ResultsGroup(click.Group):
    """A first argument that is not a command is a run id or an option of ``show``: ``results RUN_ID`` → ``results show RUN_ID``,
    ``results --template NAME`` → ``results show --template NAME``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["show", *args]
        return super().parse_args(ctx, args)


def _open(state: Path | None):
    from store.database import database_url
    from store.store import Store
    from tailorcast.settings import load_settings

    settings = load_settings(state_dir=state)
    return settings, Store.open(database_url(settings))


@click.group(cls=_ResultsGroup)
def results() -> None:
    """What came of a run: funnel per arm or variant, payments, time to pay, experiment comparisons.

    Import the run's manifest once it is sent, and the billing system's payments as they come;
    then ask for the results as often as you like.

    \b
    Example:
      tailorcast results import-run payment-reminder-3f2a9c1d0b7e --from public/ --sent-at 2026-11-02
      tailorcast results import-payments payments-2026-11.csv
      tailorcast results payment-reminder-3f2a9c1d0b7e --format table
      tailorcast results --template payment-reminder --experiment nov-tone
    """


@results.command("show")
@click.argument("run_id", type=RUN_ID, required=False)
@click.option("--template", "template", default=None, metavar="NAME",
              help="Every imported run of this template as one report (sends pooled; with --experiment: that experiment's runs).")
@click.option("--experiment", default=None, metavar="ID",
              help="With RUN_ID: the experiment the run must have (refused when it is another). Without: every run that carried it, "
                   "each customer counted once, at their first send.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table for people; json (arms, comparisons) for tools; csv: one row per customer (token, arm, events, paid; "
                   "across runs also the run).")
@_STATE
def show(run_id: str | None, template: str | None, experiment: str | None, fmt: str, state: Path | None) -> None:
    """Results of a run, or of a template's or an experiment's runs: funnel, paid within 7/14/30 days, median days to pay, comparisons.

    Across runs (--template, --experiment without RUN_ID) an experiment counts each customer once, at their
    first send in it (assignment is stable, so they stay in one arm); a template without --experiment pools
    every send and compares nothing. See docs/results.md.

    \b
    Example:
      tailorcast results payment-reminder-3f2a9c1d0b7e --experiment nov-tone --format json
      tailorcast results --template payment-reminder --experiment nov-tone
      tailorcast results --experiment nov-tone --format csv
    """
    if run_id is not None and template is not None:
        raise click.UsageError("give a run id or --template, not both")
    if run_id is None and template is None and experiment is None:
        raise click.UsageError("name a run id, --template NAME or --experiment ID; e.g. tailorcast results --template payment-reminder")
    if run_id is None:
        _show_series(template, experiment, fmt, state)
        return
    from .outcomes import customer_events, run_data, run_info
    from .report import CSV_FIELDS, build_report, customer_rows

    _, store = _open(state)
    try:
        have = (run_info(store.engine, run_id).experiment or {}).get("id")
        if experiment is not None and experiment != have:
            raise ResultsInputError(run_id, f"this run's experiment is {have or 'none'}, not {experiment!r}; leave out --experiment or pick another run")
        if fmt == "csv":
            _, rows, payers = customer_events(store.engine, run_id)
            sys.stdout.buffer.write(csv_bytes(CSV_FIELDS, customer_rows(rows, payers)))
            return
        data = run_data(store.engine, run_id)
    finally:
        store.close()
    report = build_report(data, dt.datetime.now(UTC))
    _print(report, fmt)


def _show_series(template: str | None, experiment: str | None, fmt: str, state: Path | None) -> None:
    from .series import SERIES_CSV_FIELDS, series_customers, series_report

    _, store = _open(state)
    try:
        if fmt == "csv":
            sys.stdout.buffer.write(csv_bytes(SERIES_CSV_FIELDS, series_customers(store.engine, template, experiment)))
            return
        report = series_report(store.engine, template, experiment, dt.datetime.now(UTC))
    finally:
        store.close()
    _print(report, fmt)


def _print(report: dict, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=False))
        return
    from .table import print_report

    print_report(report)


@results.command("import-run")
@click.argument("run_id", type=RUN_ID)
@click.option("--from", "source", required=True, help="Where the run published: a folder or s3://BUCKET/PREFIX (its runs/RUN_ID/manifest.csv).")
@click.option("--endpoint-url", default=None, help="S3-compatible endpoint (MinIO, R2, a local test server); AWS when omitted.")
@click.option("--sent-at", default=None, metavar="DATE", help="When the messages went out (2026-11-02 or 2026-11-02T08:00:00Z, UTC); default: now, or the date of an earlier import.")
@_STATE
def import_run_command(run_id: str, source: str, endpoint_url: str | None, sent_at: str | None, state: Path | None) -> None:
    """Import a run's manifest (token, arm, variant, invoice reference, status) into the results store.

    Customer ids are stored only as keyed hashes. Importing again replaces the run's customers.

    \b
    Example:
      tailorcast results import-run payment-reminder-3f2a9c1d0b7e --from s3://bills/2026-11 --sent-at 2026-11-02
    """
    from tailorcast.bucket import open_bucket

    from .runs import import_run

    when = None
    if sent_at:
        try:
            when = dt.datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{sent_at!r} is not a date; write it like 2026-11-02 or 2026-11-02T08:00:00Z", param_hint="--sent-at") from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    settings, store = _open(state)
    try:
        done = import_run(store.engine, open_bucket(source, endpoint_url), run_id, settings.secret, when, dt.datetime.now(UTC))
    finally:
        store.close()
    arms = ", ".join(f"{name or '(none)'} {n}" for name, n in sorted(done.arms.items()))
    click.echo(f"run {done.run_id}: {done.customers} customers imported" + (f"; experiment {done.experiment}: {arms}" if done.experiment else ""))


@results.command("import-payments")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--encoding", default=None, metavar="NAME",
              help="Character set of a CSV without a byte order mark, e.g. cp1252 or latin-1 (default UTF-8).")
@click.option("--decimal", type=click.Choice(DECIMAL_MARKS), default=".", show_default=True,
              help="Decimal mark of the amounts: ',' when the export writes 1.234,56.")
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the rejected rows (row, column, reason) to this CSV file.")
@_STATE
def import_payments_command(file: Path, encoding: str | None, decimal: str, errors_file: Path | None, state: Path | None) -> None:
    """Import the billing system's payment records (CSV or Parquet); the same file twice changes nothing.

    Columns: ref (or invoice_ref, invoice_id) and/or customer_id, paid_at, amount, channel; optional
    currency and payment_id. A CSV is read like a CRM export for ``tailorcast run``: delimiter , ; tab
    or | detected, byte order mark or --encoding, --decimal , for 1.234,56. Bad rows are listed with
    their row number and reason and skipped (exit status 1); the good rows are imported.

    \b
    Example:
      tailorcast results import-payments payments-2026-11.parquet
      tailorcast results import-payments pagamenti.csv --encoding cp1252 --decimal , --errors rejected.csv
    """
    from .payments import ERROR_FIELDS, error_rows, import_payments

    settings, store = _open(state)
    try:
        done = import_payments(store.engine, file, settings.secret, dt.datetime.now(UTC), encoding, decimal)
    finally:
        store.close()
    for problem in done.rejected:
        click.echo(f"{file.name}: {problem}", err=True)
    if errors_file is not None:
        try:
            write_csv(errors_file, ERROR_FIELDS, error_rows(done.rejected))
        except OSError as exc:
            raise ResultsInputError(str(errors_file), f"cannot write the error report ({exc.strerror}); the good rows are imported: run again with another --errors path to list the rejected ones") from None
    click.echo(f"{file.name}: {done.rows} rows, {done.added} payments added, {done.already} already imported, {len(done.rejected)} rejected"
               + (f"; rejected rows in {errors_file}" if errors_file is not None and done.rejected else ""))
    if done.rejected:
        sys.exit(1)
