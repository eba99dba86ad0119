"""Shared fixtures: one real local Ray per session, the published runs the end-to-end and browser tests
inspect, a real S3 server over HTTP, Chromium, the web judges; and the guard that keeps the fast tier fast.

Tiers: unit tests carry no mark; ``e2e`` tests use a real Ray, real-size video or a slow server; ``browser``
tests drive Chromium. ``make test-fast`` runs ``-m "not e2e and not browser"``; a test that asks for the
Ray fixture or Chromium without its mark fails with a message saying which mark to add.

Browser tests need Debian's Chromium at /usr/bin/chromium. Without it they are
skipped with a loud reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import CHROMIUM, CHROMIUM_ARGS, REMINDER_DIR, ROOT, SAMPLE_CSV, TEMPLATE_DIR, Published, missing_tier_mark, pick_rows

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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture starts Ray or Chromium: a test that needs them carries the mark of its tier."""
    problem = missing_tier_mark(item.fixturenames, (m.name for m in item.iter_markers()))
    if problem:
        pytest.fail(f"{item.nodeid} {problem}", pytrace=False)


@pytest.fixture(scope="session")
def template():
    from tailorcast.spec import load_template

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
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024,
             log_to_driver=False, configure_logging=False, namespace="tailorcast-tests")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def e2e_csv(tmp_path_factory) -> Path:
    """A few sample rows, in sample-file order (the last one repeats CUST-00003's id)."""
    return pick_rows(SAMPLE_CSV, E2E_IDS, tmp_path_factory.mktemp("input") / "customers.csv")


def _publish(template, customers: Path, settings, out: Path, **options) -> Published:
    from tailorcast.bucket import LocalBucket
    from workers.run import run_billing

    return Published(out, run_billing(template, customers, LocalBucket(out), settings, **options))


# The published runs below are rendered once per session and shared by every test that only reads them.

@pytest.fixture(scope="session")
def local_run(template, e2e_csv, settings, ray_session, tmp_path_factory) -> Published:
    """The bill-explainer run end to end into a local folder, pages without an API: (out, summary)."""
    return _publish(template, e2e_csv, settings, tmp_path_factory.mktemp("public"))


@pytest.fixture(scope="session")
def api_run(template, e2e_csv, settings, ray_session, tmp_path_factory) -> Published:
    """The same rows published for an origin with the public server (``api=True``; segments come from the cache)."""
    run = _publish(template, e2e_csv, settings, tmp_path_factory.mktemp("api-run"), api=True)
    assert run.summary.ok == 4, run.summary  # three sample customers and the hostile name
    return run


@pytest.fixture(scope="session")
def reminder_run(settings, ray_session, tmp_path_factory) -> Published:
    """The payment-reminder's :data:`REMINDER_IDS`, published for an origin with the public server."""
    from tailorcast.spec import load_template

    tmp = tmp_path_factory.mktemp("reminder-run")
    customers = pick_rows(REMINDER_DIR / "sample-customers.csv", REMINDER_IDS, tmp / "reminders.csv")
    run = _publish(load_template(REMINDER_DIR), customers, settings, tmp / "pub", api=True)
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


def pytest_report_header(config):
    have = Path(CHROMIUM).exists()
    missing = [m for m in map(_missing_webtool, WEBTOOLS) if m]
    return [f"chromium: {CHROMIUM if have else 'MISSING - browser tests will be skipped (fail under CI=true)'}",
            "web tools (lighthouse, axe-core, vnu): " + ("; ".join(missing) + " - their tests will be skipped (fail under CI=true)" if missing else "ok")]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    browser = [r for r in skipped if "chromium" in str(r.longrepr)]
    if browser:
        terminalreporter.write_sep("!", f"{len(browser)} BROWSER TESTS SKIPPED: /usr/bin/chromium missing", red=True, bold=True)
    web = [r for r in skipped if "web tool" in str(r.longrepr)]
    if web:
        terminalreporter.write_sep("!", f"{len(web)} PAGE QUALITY TESTS SKIPPED: Lighthouse/axe/vnu missing (make webtools; node, npm, java)", red=True, bold=True)



