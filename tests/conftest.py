"""Shared fixtures: one real local Ray per session, the published runs the end-to-end and browser tests
inspect, a real S3 server over HTTP, Chromium, the web judges; and the guard that keeps the fast tier fast.

Tiers: unit tests carry no mark; ``e2e`` tests use a real Ray, real-size video or a slow server; ``browser``
tests drive Chromium. ``make test-fast`` runs ``-m "not e2e and not browser"``; a test that asks for the
Ray, PostgreSQL or Chromium fixture without its mark fails with a message saying which mark to add.

Browser tests need Debian's Chromium at /usr/bin/chromium, the store's PostgreSQL
tests Debian's postgresql (initdb, pg_ctl: a throw-away server per session). Without
them they are skipped with a loud reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.browser import CHROMIUM, CHROMIUM_ARGS
from helpers.runs import Published, publish
from helpers.samples import REMINDER_DIR, ROOT, SAMPLE_CSV, TEMPLATE_DIR, pick_rows
from helpers.tiers import missing_tier_mark

# rows of the sample file used by the end-to-end tests: 3 good (it, en, tr), the hostile name, 4 bad rows
E2E_IDS = ["CUST-00001", "CUST-00005", "CUST-00003", "CUST-00051", "CUST-00052", "CUST-00053", "CUST-00054"]
# rows of the reminder's sample file: R-0001 (69.30, no instalment offer), R-0005 (Arabic, friendly, 189.40:
# the instalment offer is on), R-0010 (Arabic, firm, 129.90)
REMINDER_IDS = ["R-0001", "R-0005", "R-0010"]


def pytest_configure(config):
    # Fake credentials for the local S3 server, set before Ray starts so its workers inherit them.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def pytest_collection_modifyitems(config, items):
    """The Lighthouse tests last (a stable sort keeps every other order): in ``make test`` they wait for the other
    lane to end, so that Lighthouse measures the page on a machine that is not busy (tests/lanes.py)."""
    items.sort(key=lambda item: "lighthouse" in getattr(item, "fixturenames", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture starts Ray or Chromium: a test that needs them carries the mark of its tier."""
    problem = missing_tier_mark(item.fixturenames, (m.name for m in item.iter_markers()))
    if problem:
        pytest.fail(f"{item.nodeid} {problem}", pytrace=False)


@pytest.fixture(scope="session")
def template():
    from tailorcast.spec.load import load_template

    return load_template(TEMPLATE_DIR)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def settings(state_dir):
    from tailorcast.settings import Settings

    return Settings(state_dir=state_dir, secret=b"test-secret-" + b"x" * 40)


@pytest.fixture(scope="session")
def ray_session():
    """One small real local Ray instance for the whole session."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024,
             log_to_driver=False, configure_logging=False, namespace="tailorcast-tests")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def e2e_csv(tmp_path_factory) -> Path:
    """A few sample rows, in sample-file order (the last one repeats CUST-00003's id)."""
    return pick_rows(SAMPLE_CSV, E2E_IDS, tmp_path_factory.mktemp("input") / "customers.csv")


# The published runs below are rendered once per session and shared by every test that only reads them.

@pytest.fixture(scope="session")
def local_run(template, e2e_csv, settings, ray_session, tmp_path_factory) -> Published:
    """The bill-explainer run end to end into a local folder, pages without an API: (out, summary)."""
    return publish(template, e2e_csv, settings, tmp_path_factory.mktemp("public"))


@pytest.fixture(scope="session")
def api_run(template, e2e_csv, settings, ray_session, tmp_path_factory) -> Published:
    """The same rows published for an origin with the public server (``api=True``; segments come from the cache)."""
    run = publish(template, e2e_csv, settings, tmp_path_factory.mktemp("api-run"), api=True)
    assert run.summary.ok == 4, run.summary  # three sample customers and the hostile name
    return run


@pytest.fixture(scope="session")
def reminder_run(settings, ray_session, tmp_path_factory) -> Published:
    """The payment-reminder's :data:`REMINDER_IDS`, published for an origin with the public server."""
    from tailorcast.spec.load import load_template

    tmp = tmp_path_factory.mktemp("reminder-run")
    customers = pick_rows(REMINDER_DIR / "sample-customers.csv", REMINDER_IDS, tmp / "reminders.csv")
    run = publish(load_template(REMINDER_DIR), customers, settings, tmp / "pub", api=True)
    assert (run.summary.ok, run.summary.failed, run.summary.invalid) == (3, 0, 0), run.summary
    return run


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 over real HTTP on 127.0.0.1 (port chosen by the OS)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Playwright driving Debian's Chromium; skipped loudly without it, never under CI=true."""
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} not found: browser tests need Debian's chromium (apt-get install chromium; `make test` does it as root)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true: " + msg)
        pytest.skip("SKIPPED LOUDLY: " + msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield p, browser
        browser.close()


TOOLS = ROOT / "tools" / "node_modules"
WEBTOOLS = {
    "lighthouse": TOOLS / "lighthouse" / "cli" / "index.js",
    "axe": TOOLS / "axe-core" / "axe.min.js",
    "vnu": TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar",
}


def _missing_webtool(name: str) -> str | None:
    if not WEBTOOLS[name].exists():
        return f"web tool {name} missing ({WEBTOOLS[name].relative_to(ROOT)}): run `make webtools` (npm ci --prefix tools)"
    needs = {"lighthouse": "node", "vnu": "java"}.get(name)
    if needs and shutil.which(needs) is None:
        return f"web tool {name} needs `{needs}` on PATH"
    return None


def _need_webtool(name: str) -> Path:
    msg = _missing_webtool(name)
    if msg:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true: " + msg)
        pytest.skip("SKIPPED LOUDLY: " + msg)
    return WEBTOOLS[name]


# Session-scoped, so a missing tool skips (or fails) before any run is rendered for the test.
@pytest.fixture(scope="session")
def lighthouse_cli() -> Path:
    """npm lighthouse 12's CLI (run with node); skipped loudly when missing, failed under CI=true."""
    return _need_webtool("lighthouse")


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """npm axe-core's axe.min.js, to inject into a page; skipped loudly when missing, failed under CI=true."""
    return _need_webtool("axe")


@pytest.fixture(scope="session")
def vnu_jar() -> Path:
    """npm vnu-jar's vnu.jar (run with java); skipped loudly when missing, failed under CI=true."""
    return _need_webtool("vnu")


# ---- PostgreSQL: a throw-away server for the store's tests (Debian's postgresql package: initdb + pg_ctl)

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_MISSING = ("PostgreSQL's initdb/pg_ctl not found (PATH or /usr/lib/postgresql/*/bin): the store's PostgreSQL tests need "
              "Debian's postgresql (apt-get install postgresql; `make test` does it as root)")


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_binaries() -> tuple[str, str] | None:
    """initdb and pg_ctl from PATH, else from the newest /usr/lib/postgresql/<version>/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    for folder in sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return str(folder / "initdb"), str(folder / "pg_ctl")
    return None


def _pg_runner(folder: Path) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user (or nobody) and give it ``folder``."""
    if os.geteuid() != 0:
        return []
    import pwd

    for user in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return ["runuser", "-u", user, "--"]
    pytest.fail("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One throw-away PostgreSQL (trust auth, user postgres, 127.0.0.1 only) holding a database per test."""

    HEAD_TEMPLATE = "tc_head"  # migrated once; CREATE DATABASE … TEMPLATE copies it in milliseconds

    def __init__(self, port: int) -> None:
        self.port = port
        self._count = 0
        self._head_ready = False

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, at_head: bool = False) -> str:
        """A new database's URL: empty, or at the migrations' head (as `tailorcast db upgrade` leaves it)."""
        if at_head and not self._head_ready:
            from store.database import open_engine
            from store.migrate import upgrade

            self._admin(f"CREATE DATABASE {self.HEAD_TEMPLATE}")
            engine = open_engine(self.url(self.HEAD_TEMPLATE))
            upgrade(engine)
            engine.dispose()  # a template must have no open connection
            self._head_ready = True
        self._count += 1
        name = f"tc_{self._count}"
        self._admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {self.HEAD_TEMPLATE}" if at_head else ""))
        return self.url(name)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL started for this session on a free port in a temp folder, stopped at its end.

    Skipped loudly without Debian's postgresql binaries, failed under CI=true.
    """
    binaries = _pg_binaries()
    if binaries is None:
        if _ci():
            pytest.fail("CI=true: " + PG_MISSING)
        pytest.skip("SKIPPED LOUDLY: " + PG_MISSING)
    import subprocess
    import tempfile

    initdb, pg_ctl = binaries
    folder = Path(tempfile.mkdtemp(prefix="tailorcast-pg-"))  # not under pytest's root-only temp folder: the postgres user must reach it
    data, sock, log = folder / "data", folder / "sock", folder / "server.log"
    as_user: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *args], capture_output=True, text=True, cwd=folder)

    try:
        sock.mkdir()
        as_user = _pg_runner(folder)
        made = run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
        if made.returncode != 0:
            pytest.fail(f"initdb failed: {made.stderr.strip()}")
        for _attempt in range(3):  # another process may take the free port before the server binds it
            port = _free_port()
            options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            started = run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
            if started.returncode == 0:
                break
        else:
            pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()}\n{log.read_text(errors='replace')[-2000:] if log.exists() else ''}")
        yield PostgresServer(port)
    finally:
        if (data / "postmaster.pid").exists():
            run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)]


@pytest.fixture(params=DATABASES)
def empty_database_url(request, tmp_path) -> str:
    """A database no migration has run on: a SQLite file in tmp_path, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> str:
    """A database ready for the servers: SQLite (brought to head when opened), or PostgreSQL already at head."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres").create_database(at_head=True)


def pytest_report_header(config):
    have = Path(CHROMIUM).exists()
    missing = [m for m in map(_missing_webtool, WEBTOOLS) if m]
    pg = _pg_binaries()
    return [f"chromium: {CHROMIUM if have else 'MISSING - browser tests will be skipped (fail under CI=true)'}",
            f"postgresql: {pg[0] if pg else 'MISSING (initdb/pg_ctl) - the store tests on PostgreSQL will be skipped (fail under CI=true)'}",
            "web tools (lighthouse, axe-core, vnu): " + ("; ".join(missing) + " - their tests will be skipped (fail under CI=true)" if missing else "ok")]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    browser = [r for r in skipped if "chromium" in str(r.longrepr)]
    if browser:
        terminalreporter.write_sep("!", f"{len(browser)} BROWSER TESTS SKIPPED: /usr/bin/chromium missing", red=True, bold=True)
    pg = [r for r in skipped if "PostgreSQL's initdb" in str(r.longrepr)]
    if pg:
        terminalreporter.write_sep("!", f"{len(pg)} POSTGRESQL TESTS SKIPPED: initdb/pg_ctl missing (apt-get install postgresql; make test does it as root)", red=True, bold=True)
    web = [r for r in skipped if "web tool" in str(r.longrepr)]
    if web:
        terminalreporter.write_sep("!", f"{len(web)} PAGE QUALITY TESTS SKIPPED: Lighthouse/axe/vnu missing (make webtools; node, npm, java)", red=True, bold=True)


@pytest.fixture(scope="module")
def studio_seed(settings):
    """A studio database with its users and templates, made once per test module (tests/helpers/studio.py)."""
    from helpers.studio import seed_database

    return seed_database(settings)
