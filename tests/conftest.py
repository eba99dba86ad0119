"""Shared fixtures: one real local Ray per session, a real S3 server over HTTP, Chromium.

Browser tests need Debian's Chromium at /usr/bin/chromium. Without it they are
skipped with a loud reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "templates" / "bill-explainer"
SAMPLE_CSV = TEMPLATE_DIR / "sample-customers.csv"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# rows of the sample file used by the end-to-end tests: 3 good (it, en, tr), the hostile name, 4 bad rows
E2E_IDS = ["CUST-00001", "CUST-00005", "CUST-00003", "CUST-00051", "CUST-00052", "CUST-00053", "CUST-00054"]


def pytest_configure(config):
    # Fake credentials for the local S3 server, set before Ray starts so its workers inherit them.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")


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
    with SAMPLE_CSV.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = reader.fieldnames
    picked = [r for r in rows if r["customer_id"] in E2E_IDS]
    path = tmp_path_factory.mktemp("input") / "customers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(picked)
    return path


@pytest.fixture(scope="session")
def local_run(template, e2e_csv, settings, ray_session, tmp_path_factory):
    """The sample template run end to end into a local folder (shared by several tests)."""
    from tailorcast.bucket import LocalBucket
    from workers.run import run_billing

    out = tmp_path_factory.mktemp("public")
    bucket = LocalBucket(out)
    summary = run_billing(template, e2e_csv, bucket, settings)
    return out, summary


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 over real HTTP on 127.0.0.1 (port chosen by the OS)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def copy_template(src: Path, tmp_path: Path) -> Path:
    """A copy of a template folder to break in a test (without sample data or scripts)."""
    dst = tmp_path / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.csv", "__pycache__", "*.py"))
    return dst


def edit_file(folder: Path, old: str, new: str, name: str = "template.yaml") -> None:
    """Replace ``old`` (which must be there) once in a template file."""
    path = folder / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def ffmpeg_decode_errors(path: Path) -> str:
    """Full decode of every stream; ffmpeg -v error prints nothing for a clean file."""
    from renderer.encode import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return (proc.stderr + ("" if proc.returncode == 0 else f"\nexit {proc.returncode}")).strip()


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



