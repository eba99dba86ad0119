"""The ``tailorcast`` command: a thin layer over the library.

Expected errors print one clear message (what, where, how to fix) and exit
with status 2, without a traceback; ``--debug`` shows the traceback anyway.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from . import __version__
from .errors import TailorcastError
from .params import RUN_ID

# soft_wrap: a message is one line however long its path (the terminal folds it; a log or a pipe keeps it whole)
console = Console(stderr=True, soft_wrap=True)
EXIT_USAGE = 2
EXIT_SIGTERM = 143  # 128 + SIGTERM, as a shell reports it: the run was stopped, run it again to resume


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    if console.is_terminal:
        logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]",
                            handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)], force=True)
    else:  # a log file or a pipe: one whole line per record (rich folds them at 80 columns there), dated
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z",
                            handlers=[logging.StreamHandler(sys.stderr)], force=True)


def _exit_on_sigterm() -> list[int]:
    """Until the command ends, SIGTERM (what a scheduler sends first) raises SystemExit(143) in the main thread, so the
    command unwinds through its ``finally`` blocks. The returned list records that it came: Ray turns the exit status
    into 1 on the way out of its calls, and the caller says 143 again."""
    import signal

    terminated: list[int] = []

    def on_sigterm(*_) -> None:
        terminated.append(signal.SIGTERM)
        sys.exit(EXIT_SIGTERM)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    click.get_current_context().call_on_close(lambda: signal.signal(signal.SIGTERM, previous))
    return terminated


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TailorcastError as exc:
            if ctx.params.get("debug") or (ctx.obj or {}).get("debug"):
                raise
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            sys.exit(EXIT_USAGE)
        except MemoryError:  # a template's expressions are bounded; this is the machine, not the input
            if ctx.params.get("debug") or (ctx.obj or {}).get("debug"):
                raise
            console.print("[bold red]error:[/] out of memory; free memory or lower --workers, then run again", highlight=False)
            sys.exit(EXIT_USAGE)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="tailorcast")
@click.option("-v", "--verbose", count=True, help="More log lines: -v per-customer progress, -vv debug (may show personal data).")
@click.option("--debug", is_flag=True, help="Show tracebacks for expected errors too.")
@click.pass_context
def main(ctx: click.Context, verbose: int, debug: bool) -> None:
    """Personalized bill videos and pay-now microsites from a CRM export.

    \b
    Example:
      tailorcast run templates/bill-explainer \\
          --customers templates/bill-explainer/sample-customers.csv --out public/
      tailorcast serve public/
    """
    ctx.obj = {"debug": debug}
    _setup_logging(verbose)


def _input_options(command):
    """--encoding and --decimal: how the customers file is written (run, validate, preview)."""
    command = click.option("--decimal", type=click.Choice([".", ","]), default=".", show_default=True,
                           help="Decimal mark in money and number cells: ',' when the export writes 1.234,56.")(command)
    return click.option("--encoding", default=None, metavar="NAME",
                        help="Character set of a CSV without a byte order mark, e.g. cp1252 or latin-1 (default UTF-8).")(command)


_ENDPOINT_OPTION = click.option("--endpoint-url", default=None, help="S3-compatible endpoint for an s3:// customers file (MinIO, R2, a local test server); AWS when omitted.")
_CUSTOMERS_HELP = "CRM export: .csv (header row; delimiter , ; tab or | detected), .jsonl or .parquet; a path or s3://BUCKET/KEY."


@main.command()
@click.argument("template", type=click.Path(file_okay=False, path_type=Path))
@click.option("--customers", "customers", required=True, help=_CUSTOMERS_HELP)
@_input_options
@click.option("--out", default="public/", show_default=True, help="Where to publish: a folder, or s3://BUCKET/PREFIX.")
@click.option("--endpoint-url", default=None, help="S3-compatible endpoint of --out and of an s3:// --customers (MinIO, R2, a local test server); AWS when omitted.")
@click.option("--run-id", type=RUN_ID, metavar="RUN_ID", default=None, help="Name of the run; default: derived from the template and the input, so a rerun resumes.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N rows.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="CPUs for the local Ray instance (default: all).")
@click.option("--ray-address", default=None, help="Join a running Ray cluster (e.g. 'auto') instead of starting one.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local state folder (secret, segment cache); default .tailorcast or $TAILORCAST_STATE.")
@click.option("--api/--no-api", default=False, show_default=True,
              help="Pages call the public server on their own origin (/api/: views, paid status, instalment form); "
                   "publish with --api only where one answers (tailorcast serve, or the public server behind your CDN).")
@click.option("--drop-personal-segments", is_flag=True,
              help="When the run ends, remove its customers' encoded scenes from this machine's segment cache (personal data).")
@click.option("--journal-seconds", type=click.FloatRange(min=0.1, max=3600), default=5.0, show_default=True, metavar="SECONDS",
              help="Write the journal at least this often while customers finish: a killed driver renders at most that much work again.")
@click.option("--force", is_flag=True, help="Render and publish every customer again, even those this run id already published; "
                                            "customers baked later (tailorcast bake) are baked again and keep their video.")
@click.option("--cdn-base-url", default=None, metavar="URL",
              help="Public base URL of --out (e.g. https://bills.example.com): the manifest then lists public links instead of bucket keys.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table; errors only (the exit status tells the outcome).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object per line on stderr (log lines with run_id and row, progress lines, the summary), for a scheduler.")
def run(template: Path, customers: str, encoding: str | None, decimal: str, out: str, endpoint_url: str | None, run_id: str | None, limit: int | None,
        workers: int | None, ray_address: str | None, state: Path | None, api: bool, drop_personal_segments: bool, journal_seconds: float,
        force: bool, cdn_base_url: str | None, quiet: bool, log_format: str) -> None:
    """Render and publish every customer of a CRM export (a billing run).

    Each customer gets a video, a poster, captions and a microsite under an
    unguessable folder c/<token>/. Every outcome goes to the run's journal under
    runs/<run-id>/journal/ as the run goes; the manifest (CSV and Parquet), the
    error report (bad rows with their row number and reason) and a summary are
    assembled from it at the end under runs/<run-id>/, which must stay private.
    Run it again to resume: what the journal lists as published is not done
    again (--force does everything again). Customers given a video later by
    `tailorcast bake` stay baked: a resume leaves them alone, --force bakes
    them again.

    One run or bake of a run id at a time: the run holds the run id's lease
    (runs/<run-id>/lease/) from its first write to its end. Started while
    another run or a bake of that id is going, it writes nothing and exits
    with 2, naming it (host, pid, last heartbeat). The lease of a holder that
    was killed is free at once on its own machine, elsewhere 120 s after its
    last heartbeat.

    Exit status: 0 every valid customer is published (invalid rows are in the
    error report); 1 some customers failed (run again to retry them) or no row
    could be published; 2 the run could not start (template, input, bucket,
    settings, a run or bake of that run id going), or another process took its
    lease over; 143 stopped by SIGTERM (what finished is in the journal).

    Pages are plain static pages unless --api is given. Encoded scenes stay in
    the segment cache of the state folder for the next run; --drop-personal-segments
    removes this run's personal ones when it ends (and `tailorcast cache prune`
    removes what has not been used for a while).

    \b
    Example:
      tailorcast run templates/bill-explainer \\
          --customers templates/bill-explainer/sample-customers.csv --out public/ --api
      tailorcast run templates/bill-explainer --customers export.csv \\
          --out s3://my-bucket/bills --endpoint-url http://127.0.0.1:9000 --drop-personal-segments
      tailorcast run templates/bill-explainer --customers export.csv --out s3://my-bucket/bills \
          --ray-address auto --log-format json --cdn-base-url https://bills.example.com
    """

    from workers.run import run_billing

    from .jsonlog import json_line, use_json_logs
    from .runprogress import RunProgress

    from . import keys
    from .bucket import open_bucket
    from .customers import InputOptions, read_customers
    from .settings import load_settings
    from .spec.load import load_template

    level = logging.getLogger().level
    if quiet:
        level = max(level, logging.ERROR)
    if log_format == "json":
        use_json_logs(level)
    else:
        logging.getLogger().setLevel(level)
    # a scheduler's SIGTERM unwinds the run: the journal keeps what finished, the lease is released, Ray is shut down
    terminated = _exit_on_sigterm()
    settings = load_settings(state_dir=state)
    if workers:
        settings = settings.with_(num_cpus=workers)
    from renderer.checks import check_template

    tmpl = load_template(template)
    check_template(tmpl)
    bucket = open_bucket(out, endpoint_url)
    options = InputOptions(encoding, decimal, endpoint_url)
    if next(read_customers(tmpl, customers, options), None) is None:  # preflight: unreadable input fails here, before Ray starts
        console.print(f"customers '{customers}': no customer rows (only a header); nothing to publish", highlight=False)
        sys.exit(1)
    bucket.check()
    mode = "json" if log_format == "json" else "quiet" if quiet or not console.is_terminal else "bar"
    try:
        with RunProgress(mode, console, f"rendering {tmpl.name}") as progress:
            summary = run_billing(tmpl, customers, bucket, settings, run_id=run_id, limit=limit, ray_address=ray_address, on_progress=progress.update,
                                  api=api, drop_personal_segments=drop_personal_segments, force=force, cdn_base_url=cdn_base_url,
                                  journal_seconds=journal_seconds, input_options=options)
    except SystemExit:
        if terminated:
            sys.exit(EXIT_SIGTERM)
        raise

    failed = summary.failed > 0 or (summary.ok + summary.skipped + summary.holdout == 0 and summary.rows > 0)
    if log_format == "json":
        json_line("summary", run_id=summary.run_id, rows=summary.rows, ok=summary.ok, skipped=summary.skipped, failed=summary.failed,
                  invalid=summary.invalid, holdout=summary.holdout, seconds=summary.seconds, cpu_seconds=summary.cpu_seconds, bytes_uploaded=summary.bytes_uploaded,
                  manifest=bucket.describe(summary.manifest), errors=bucket.describe(summary.errors), exit_status=int(failed))
        sys.exit(int(failed))
    if quiet:
        sys.exit(int(failed))
    table = Table(title=f"run {summary.run_id}", show_header=False)
    for label, value in (("rows", summary.rows), ("ok", summary.ok), ("skipped (already published)", summary.skipped),
                         ("failed", summary.failed), ("invalid rows", summary.invalid), ("seconds", summary.seconds)):
        table.add_row(label, str(value))
    if summary.holdout:
        table.add_row(f"holdout of experiment {tmpl.experiment.id} (no page; see the manifest)", str(summary.holdout))
    console.print(table)
    console.print(f"Manifest:     {bucket.describe(summary.manifest)}")
    console.print(f"Error report: {bucket.describe(summary.errors)}  ({summary.failed + summary.invalid} rows)")
    if drop_personal_segments:
        console.print(f"Segment cache: {summary.personal_segments_dropped} personal segments of this run removed from {settings.cache_dir}")
    if summary.example_page:
        console.print(f"Published to: {bucket.describe()}")
        if not out.startswith("s3://"):
            page = summary.example_page.removesuffix(keys.PAGE_NAME)
            demo = " --demo-checkout" if "/demo/checkout" in (tmpl.payment.link or "") else ""  # its pay button goes there
            console.print(f"Open one microsite:  tailorcast serve {out}{demo}  →  http://127.0.0.1:8000/{page}")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("run_id", type=RUN_ID)
@click.argument("template", type=click.Path(file_okay=False, path_type=Path))
@click.option("--customers", "customers", required=True, help="The run's customers file, or a file with only the customers to bake (same columns). " + _CUSTOMERS_HELP)
@click.option("--rows", default=None, metavar="ROWS", help="Only these rows of --customers, as in the manifest and error report: 2,7,9 or 2-5,9 (default: every row).")
@_input_options
@click.option("--out", required=True, help="Where the run published: a folder, or s3://BUCKET/PREFIX.")
@click.option("--endpoint-url", default=None, help="S3-compatible endpoint of --out and of an s3:// --customers; AWS when omitted.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local state folder (secret, segment cache); default .tailorcast or $TAILORCAST_STATE.")
@click.option("--api/--no-api", default=None, help="Whether the rewritten pages call the public server on their origin (default: as the run recorded).")
def bake(run_id: str, template: Path, customers: str, rows: str | None, encoding: str | None, decimal: str, out: str, endpoint_url: str | None,
         state: Path | None, api: bool | None) -> None:
    """Bake chosen customers of a published run: add their video files and the download link.

    For a run of a template with video.bake: false (no per-customer video), this
    renders the chosen customers' videos with the same tokens (same
    TAILORCAST_SECRET and run id), adds video-<rendition>.mp4 and
    poster-<rendition>.jpg to their folders and rewrites their pages with the
    download link; the pages keep playing live. TEMPLATE must be the version
    the run published (the run records its content digest; another version is
    refused). Each baked customer is recorded in the run's journal and the
    manifest (CSV and Parquet) is assembled again with its video and poster;
    later runs of that id keep it baked (a resume leaves it alone, run --force
    bakes it again). Customers already baked are skipped and nothing is
    uploaded for them. It runs in this process, for a handful of customers.
    It holds the run id's lease while it writes, as a run does: started while
    a run or another bake of that run id is going, it is refused before it
    writes anything (exit status 2, naming the holder: host, pid, last
    heartbeat); wait for that one to end and start it again.

    Exit status: 0 every chosen customer is baked; 1 some could not be (not
    published by that run, invalid row, render failure), or --rows names rows
    the file does not have; 2 it could not start (template not the run's
    version, input, bucket, no finished run of that id, a run or bake of that
    run id going), or another process took its lease over; 143 stopped by SIGTERM (the customers baked so far are in
    the run's journal; the next run assembles the manifest).

    \b
    Example:
      tailorcast bake bill-explainer-3f2a9c1d0e4b templates/bill-explainer \\
          --customers export.csv --rows 2,7,9 --out public/
    """

    from workers.bake import bake_customers, parse_rows

    from . import keys
    from .bucket import open_bucket
    from .customers import InputOptions
    from .settings import load_settings
    from .spec.load import load_template

    try:
        wanted = parse_rows(rows) if rows is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rows") from None
    _exit_on_sigterm()  # a SIGTERM unwinds the bake like a run's: the run id's lease is released on the way out
    settings = load_settings(state_dir=state)
    tmpl = load_template(template)
    bucket = open_bucket(out, endpoint_url)
    summary = bake_customers(tmpl, customers, bucket, settings, run_id, wanted, api, InputOptions(encoding, decimal, endpoint_url))
    table = Table(title=f"bake {run_id}")
    for col in ("row", "status", "page", "reason"):
        table.add_column(col)
    for r in summary.results:
        table.add_row(str(r.row), r.status, bucket.describe(r.page) if r.page else "", r.error)
    console.print(table)
    if summary.records:
        console.print(f"Manifest:     {bucket.describe(keys.run_file(run_id, 'manifest.csv'))}  (assembled again with the baked videos)", highlight=False)
    if summary.missing_rows:
        console.print(f"rows not in {customers}: {', '.join(map(str, summary.missing_rows))}", highlight=False)
    if summary.count("failed") or summary.missing_rows or not summary.results:
        sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--api/--no-api", default=True, show_default=True, help="Also answer /api/ (events, paid status, instalments), as the public server would.")
@click.option("--demo-checkout", is_flag=True, help="Local demos only: with --api, also enable /demo/checkout (anyone with a signed link can mark it paid).")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local state folder (secret, database).")
def serve(folder: Path, host: str, port: int, api: bool, demo_checkout: bool, state: Path | None) -> None:
    """Serve a published folder as the CDN would: only c/ and shared/, with their cache and security headers.

    With --api (the default) the public server's endpoints answer on the same
    origin, so pages can report views and show the paid status locally;
    --demo-checkout adds the stand-in payment page of local demos.

    \b
    Example:
      tailorcast serve public/ --demo-checkout    # then open http://127.0.0.1:8000/c/<token>/
    """
    from public_server.static import create_static_app, same_origin

    app = create_static_app(folder)
    if api:
        from public_server.app import create_public_app
        from public_server.config import public_config

        from .settings import load_settings

        app = same_origin(app, create_public_app(public_config(load_settings(state_dir=state), demo_checkout=demo_checkout)))
    elif demo_checkout:
        raise click.UsageError("--demo-checkout needs --api (the checkout is part of the public server)")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its access log would print tokens
    console.print(f"Serving {folder} on http://{host}:{port}/ (Ctrl+C to stop)")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True)


@main.command("public-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo-checkout", is_flag=True, help="Local demos only: enable /demo/checkout (anyone with a signed link can mark it paid).")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local state folder (secret, default database).")
def public_server(host: str, port: int, demo_checkout: bool, state: Path | None) -> None:
    """Serve the public API: events, paid status, instalment requests, payment webhooks.

    Configure with TAILORCAST_DATABASE_URL (default SQLite in the state folder,
    upgraded on start; a PostgreSQL database must be brought to the code's schema
    first with `tailorcast db upgrade`) and TAILORCAST_WEBHOOK_SECRET. In production
    run it behind a WSGI server: public_server.app:create_public_app. See
    docs/public-server.md.

    \b
    Example:
      tailorcast public-server --demo-checkout
    """
    from public_server.app import create_public_app
    from public_server.config import public_config

    from .settings import load_settings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its access log would print tokens
    app = create_public_app(public_config(load_settings(state_dir=state), demo_checkout=demo_checkout))
    console.print(f"Public server on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, threaded=True)


@main.group()
def db() -> None:
    """The servers' database: its schema, made and upgraded by migrations (Alembic).

    The URL is the one the public server uses: TAILORCAST_DATABASE_URL, or SQLite
    in the state folder. Upgrade a PostgreSQL database before starting the
    servers of a new version; they refuse one that is behind.

    \b
    Example:
      TAILORCAST_DATABASE_URL=postgresql://tailorcast@db.internal/tailorcast tailorcast db upgrade
      tailorcast db current --state .tailorcast
    """


_STATE_OPTION = click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None,
                             help="Local state folder (its SQLite database is the default).")


@db.command("upgrade")
@_STATE_OPTION
def db_upgrade(state: Path | None) -> None:
    """Bring the database to the schema this code needs, and print its revision.

    \b
    Example:
      tailorcast db upgrade --state /srv/tailorcast
    """
    from store.database import database_url, open_engine, shown
    from store.migrate import upgrade

    from .settings import load_settings

    url = database_url(load_settings(state_dir=state))
    engine = open_engine(url)
    try:
        revision = upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database {shown(url)}: at revision {revision} (head)")


@db.command("current")
@_STATE_OPTION
def db_current(state: Path | None) -> None:
    """Print the database's revision and the one this code needs; exit status 1 when they differ.

    \b
    Example:
      tailorcast db current
    """
    from store.database import database_url, open_engine, shown
    from store.migrate import current_revision, head_revision

    from .settings import load_settings

    url = database_url(load_settings(state_dir=state))
    engine = open_engine(url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    if current == head:
        click.echo(f"database {shown(url)}: at revision {current} (head)")
        return
    click.echo(f"database {shown(url)}: at revision {current or 'none (no tables)'}, code needs {head}: run `tailorcast db upgrade`")
    sys.exit(1)


@main.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Staff only: keep 127.0.0.1 unless a reverse proxy with HTTPS is in front.")
@click.option("--port", default=8002, show_default=True, type=click.IntRange(1, 65535))
@click.option("--ray-address", default=None, help="Runs join this Ray cluster (e.g. 'auto'); default: each run starts a local Ray.")
@click.option("--endpoint-url", default=None, help="S3-compatible endpoint of runs' s3:// input and output (MinIO, R2); AWS when omitted.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local state folder (secret, database, studio files).")
@click.pass_context
def studio(ctx: click.Context, host: str, port: int, ray_address: str | None, endpoint_url: str | None, state: Path | None) -> None:
    """The studio: design, preview and approve templates, start and follow runs (staff only).

    Users log in with accounts made by `tailorcast studio create-user`. The
    database is the servers' (TAILORCAST_DATABASE_URL, or SQLite in the state
    folder). See docs/studio.md.

    \b
    Example:
      printf '%s\\n' "$ADMIN_PASSWORD" | tailorcast studio create-user ada --role admin --password-stdin
      tailorcast studio --port 8002
    """
    ctx.ensure_object(dict)["state"] = state
    if ctx.invoked_subcommand is not None:
        return
    from studio.app import create_studio_app
    from studio.config import studio_config

    from .settings import load_settings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_studio_app(studio_config(load_settings(state_dir=state), ray_address=ray_address, endpoint_url=endpoint_url))
    console.print(f"Studio on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, threaded=True)


@studio.command("create-user")
@click.argument("name")
@click.option("--role", required=True, metavar="ROLE",
              help="designer (templates, previews), approver (approves versions), operator (runs), viewer (read-only), admin (users).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from the first line of standard input (never from an argument).")
@click.pass_context
def studio_create_user(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a studio user, reading the password from standard input.

    \b
    Example:
      printf '%s\\n' "$PASSWORD" | tailorcast studio create-user olga --role operator --password-stdin
    """
    import datetime as dt

    from store.store import Store
    from store.database import database_url
    from store.users import Users

    from .settings import load_settings

    password = sys.stdin.readline().rstrip("\r\n")
    store = Store.open(database_url(load_settings(state_dir=(ctx.obj or {}).get("state"))))
    try:
        Users(store.engine).create(name, role, password, dt.datetime.now(dt.timezone.utc))
    finally:
        store.close()
    console.print(f"user {name} ({role}) created")


@main.group()
def cache() -> None:
    """The segment cache in the state folder: encoded scenes and audio tracks reused across runs.

    Personal segments (a customer's encoded scenes) are personal data: prune
    them on a schedule that matches your retention rules.

    \b
    Example:
      tailorcast cache prune --older-than 30
    """


@cache.command("prune")
@click.option("--older-than", "days", type=click.FloatRange(min=0), required=True, metavar="DAYS",
              help="Remove every cached file not used for DAYS days (0: empty the cache).")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local state folder; default .tailorcast or $TAILORCAST_STATE.")
def cache_prune(days: float, state: Path | None) -> None:
    """Remove cached segments and audio tracks that no run used for DAYS days.

    A run that reuses a file refreshes its time. Reports how many files and
    bytes went, never their names. With DAYS above 0 it is safe while runs are
    going (a file a run uses was touched when it was used); 0 empties the cache
    and belongs between runs.

    \b
    Example:
      tailorcast cache prune --older-than 30 --state /srv/tailorcast
    """
    from renderer.cache import SegmentCache

    from .settings import load_settings

    root = load_settings(state_dir=state).cache_dir
    removed = SegmentCache(root).prune(days * 86400)
    console.print(f"removed {removed.files} files ({removed.bytes / 1e6:.1f} MB) not used for {days:g} days from {root}")


@main.command()
@click.argument("template", type=click.Path(file_okay=False, path_type=Path))
@click.option("--customers", default=None, help="Also check every row of this file: .csv, .jsonl or .parquet; a path or s3://BUCKET/KEY.")
@_input_options
@_ENDPOINT_OPTION
def validate(template: Path, customers: str | None, encoding: str | None, decimal: str, endpoint_url: str | None) -> None:
    """Check a template (and optionally a customers file); report every problem at once.

    Exit status 0 when everything is valid, 1 otherwise.

    \b
    Example:
      tailorcast validate templates/bill-explainer --customers templates/bill-explainer/sample-customers.csv
    """
    from .customers import InputOptions, read_customers
    from .errors import RowError, TemplateError
    from .spec.load import load_template

    from renderer.checks import check_template

    try:
        tmpl = load_template(template)
        check_template(tmpl)
    except TemplateError as exc:
        console.print(f"[bold red]invalid:[/] {exc}", highlight=False)
        sys.exit(1)
    console.print(f"template '{tmpl.name}' v{tmpl.version}: valid ({len(tmpl.scenes)} scenes, locales {', '.join(tmpl.locales)})")
    if customers is None:
        return
    bad = total = 0
    for item in read_customers(tmpl, customers, InputOptions(encoding, decimal, endpoint_url)):
        total += 1
        if isinstance(item, RowError):
            bad += 1
            console.print(f"  {item}", highlight=False)
    if total == 0:
        console.print(f"customers '{customers}': no customer rows (only a header)", highlight=False)
        sys.exit(1)
    console.print(f"customers: {total - bad} valid, {bad} invalid of {total} rows")
    if bad:
        sys.exit(1)


@main.command()
@click.argument("template", type=click.Path(file_okay=False, path_type=Path))
@click.option("--row", type=int, required=True, help="Row number as in error reports (CSV: the first customer is row 2).")
@click.option("--customers", default=None, help="A path or s3://BUCKET/KEY (.csv, .jsonl, .parquet); default TEMPLATE/sample-customers.csv.")
@_input_options
@_ENDPOINT_OPTION
@click.option("--scene", default=None, help="Scene id; --at is then a time inside that scene (default: its middle).")
@click.option("--at", "at", type=float, default=None, help="Seconds (in the whole video, or in --scene).")
@click.option("--rendition", default=None, help="Rendition name (default: the template's default rendition).")
@click.option("--video", is_flag=True, help="Render this customer's whole video instead of one still.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Output file (default preview.png or preview.mp4).")
def preview(template: Path, row: int, customers: str | None, encoding: str | None, decimal: str, endpoint_url: str | None, scene: str | None, at: float | None, rendition: str | None,
            video: bool, out: Path | None) -> None:
    """Write one customer's still (PNG) or whole video (MP4), for designing templates.

    \b
    Example:
      tailorcast preview templates/bill-explainer --row 2 --scene amount --at 3
      tailorcast preview templates/payment-reminder --row 6 --rendition landscape --video
    """
    import shutil
    import tempfile
    import time

    from renderer.cache import SegmentCache
    from renderer.preview import preview_still
    from renderer.video import render_video

    from .context import customer_context
    from .customers import InputOptions, find_row
    from .errors import RenderError
    from .expressions import ExpressionError
    from .settings import load_settings
    from .spec.load import load_template

    tmpl = load_template(template)
    cust = find_row(tmpl, customers or Path(template) / "sample-customers.csv", row, InputOptions(encoding, decimal, endpoint_url))
    try:
        ctx = customer_context(tmpl, cust)
    except ExpressionError as exc:
        raise RenderError("preview", f"row {row}: {exc}") from None
    started = time.perf_counter()
    if video:
        out = out or Path("preview.mp4")
        with tempfile.TemporaryDirectory(prefix="tc-preview-") as tmp:
            result = render_video(tmpl, ctx, Path(tmp), SegmentCache(load_settings().cache_dir), 1, rendition)
            shutil.copyfile(result.video, out)
        console.print(f"wrote {out} ({result.duration:.1f} s, {time.perf_counter() - started:.2f} s to render)")
        return
    out = out or Path("preview.png")
    img, scene_id, local = preview_still(tmpl, ctx, scene, at, rendition)
    img.save(out, compress_level=1)
    console.print(f"wrote {out}: scene '{scene_id}' at {local:.2f} s, {img.width}x{img.height} ({(time.perf_counter() - started) * 1000:.0f} ms)")


def _register_results() -> None:
    from results.cli import results  # the results room's commands (results/cli.py)

    main.add_command(results)


_register_results()


if __name__ == "__main__":  # pragma: no cover
    main()
