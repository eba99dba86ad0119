"""The quality bars of a published microsite (issue 5), measured by the web's own judges.

- Lighthouse 12 (mobile, simulated throttling) on one page, the median of three runs: Performance >= 0.95,
  Accessibility = 1.0, Best Practices >= 0.95.
- axe-core injected with Playwright, iPhone 13 and Pixel 5, both templates (the
  reminder in Arabic, right to left): zero violations.
- Nu HTML Checker (vnu-jar): zero errors on every published page.
- HTML + CSS + JS of one microsite <= 60 KB; a Content-Security-Policy with
  default-src 'none' and nothing unsafe; no request leaves 127.0.0.1.

Pages are served on 127.0.0.1 with the public server on the same origin, as in
production, so the page's own calls (paid status, events) answer as they would live.

The judges come from tools/ (``make webtools``); without node/npm/java these tests
skip loudly, and fail under CI=true (fixtures ``lighthouse_cli``, ``axe_js``, ``vnu_jar`` in conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse
from urllib.request import urlopen

import pytest

from helpers.browser import CHROMIUM, CHROMIUM_ARGS, DEVICES, open_page
from helpers.web import public_server, serve, site_app
from lanes import LANE_DONE

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

BUDGET_BYTES = 60_000  # HTML + CSS + JS of one microsite, uncompressed (video, poster, images excluded)
LIGHTHOUSE_BARS = {"performance": 0.95, "accessibility": 1.0, "best-practices": 0.95}
REMINDER_ID = "R-0005"  # Arabic, friendly variant, 189.40: the instalment-offer scene is in


@pytest.fixture(scope="module")
def public_api(settings, tmp_path_factory):
    """The public server (events, paid status) with a database of its own: nothing is paid."""
    with public_server(settings, tmp_path_factory.mktemp("public-api") / "public.db") as app:
        yield app


@pytest.fixture(scope="module")
def bill_site(local_run, public_api):
    """The shared bill-explainer run, served with the public server on its origin: (base URL, folder, rows by id)."""
    with serve(site_app(local_run.out, public_api)) as base:
        yield base, local_run.out, local_run.by_id()


@pytest.fixture(scope="module")
def reminder_site(reminder_run, public_api):
    """The shared payment-reminder run (an Arabic customer among them), served the same way."""
    with serve(site_app(reminder_run.out, public_api)) as base:
        yield base, reminder_run.out, reminder_run.by_id()


@pytest.fixture(scope="module")
def pages(bill_site, reminder_site):
    """The two pages the browser judges look at: {name: URL}."""
    bill_base, _, bill_rows = bill_site
    rem_base, _, rem_rows = reminder_site
    return {
        "bill-explainer/it": f"{bill_base}/{bill_rows['CUST-00001']['page']}",
        "payment-reminder/ar": f"{rem_base}/{rem_rows[REMINDER_ID]['page']}",
    }


# ---------------------------------------------------------------- Lighthouse

LIGHTHOUSE_RUNS = 3  # Lighthouse's docs/variability.md: one run varies with the machine's load; judge the median run


@pytest.fixture(scope="module")
def lighthouse(lighthouse_cli, chromium, pages, tmp_path_factory):
    """Three Lighthouse runs (20-40 s each) on the Italian bill page. Performance is judged on the run with the median
    performance score (one run alone failed CI once at 0.94, total blocking time 270 ms, while the other test lane
    loaded both cores); accessibility and best practices, which do not depend on the machine's load, on every run."""
    _wait_for_the_first_lane()
    runs = []
    for _ in range(LIGHTHOUSE_RUNS):
        report = tmp_path_factory.mktemp("lighthouse") / "report.json"
        cmd = ["node", str(lighthouse_cli), pages["bill-explainer/it"], "--output=json", f"--output-path={report}",
               "--only-categories=performance,accessibility,best-practices", "--form-factor=mobile",
               "--screenEmulation.mobile", "--throttling-method=simulate", f"--chrome-path={CHROMIUM}",
               "--chrome-flags=" + " ".join(CHROMIUM_ARGS), "--quiet"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "CHROME_PATH": CHROMIUM})
        assert proc.returncode == 0 and report.exists(), f"lighthouse failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        lhr = json.loads(report.read_text())
        assert not lhr.get("runtimeError"), lhr["runtimeError"]
        runs.append(lhr)
    return runs


def _wait_for_the_first_lane(limit: float = 1200.0) -> None:
    """In ``make test`` (tests/lanes.py) the other lane loads both cores, and Lighthouse measures the machine as much
    as the page: wait until it has ended (these tests run last in their lane: conftest's collection order)."""
    path = os.environ.get(LANE_DONE)
    if not path:
        return
    started = time.monotonic()
    while not Path(path).exists() and time.monotonic() - started < limit:
        time.sleep(1)
    print(f"lighthouse: waited {time.monotonic() - started:.0f} s for the other test lane to end"
          + ("" if Path(path).exists() else " and went on without it"))


def median_run(runs: list[dict]) -> dict:
    """The run whose performance score is the median of an odd number of runs; every run's scores are printed.
    A run without a performance score (Lighthouse could not measure it) fails here."""
    assert len(runs) % 2 == 1, "an odd number of runs has one median"
    for i, lhr in enumerate(runs, 1):
        print(f"lighthouse run {i}: " + ", ".join(f"{k} {c['score']}" for k, c in lhr["categories"].items())
              + f" (benchmarkIndex {lhr.get('environment', {}).get('benchmarkIndex')})")
    missing = [i for i, lhr in enumerate(runs, 1) if lhr["categories"]["performance"]["score"] is None]
    assert not missing, f"Lighthouse gave no performance score in run(s) {missing}"
    return sorted(runs, key=lambda lhr: lhr["categories"]["performance"]["score"])[len(runs) // 2]


def judged_runs(runs: list[dict], category: str) -> list[dict]:
    """Performance: the median run; every other category: every run."""
    return [median_run(runs)] if category == "performance" else runs


def test_the_median_run_is_the_middle_performance_score():
    runs = [{"categories": {"performance": {"score": s}}} for s in (0.99, 0.90, 0.96)]
    assert median_run(runs)["categories"]["performance"]["score"] == 0.96
    assert judged_runs(runs, "accessibility") == runs
    with pytest.raises(AssertionError):
        median_run(runs[:2])
    with pytest.raises(AssertionError, match="no performance score"):
        median_run([*runs[:2], {"categories": {"performance": {"score": None}}}])


def _failing_audits(lhr: dict, category: str) -> list[str]:
    out = []
    for ref in lhr["categories"][category]["auditRefs"]:
        audit = lhr["audits"][ref["id"]]
        if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
            items = (audit.get("details") or {}).get("items") or []
            where = [str((i.get("node") or {}).get("selector", "")) for i in items[:5] if isinstance(i, dict) and i.get("node")]
            out.append(f"{audit['id']} (score {audit['score']}, weight {ref['weight']}): {audit['title']}"
                       + (f" [{audit['displayValue']}]" if audit.get("displayValue") else "")
                       + (f" at {', '.join(where)}" if where else ""))
    return out


@pytest.mark.parametrize("category", list(LIGHTHOUSE_BARS))
def test_lighthouse_category_meets_its_bar(lighthouse, category):
    bar = LIGHTHOUSE_BARS[category]
    for i, lhr in enumerate(judged_runs(lighthouse, category), 1):
        score = lhr["categories"][category]["score"]
        print(f"lighthouse {category}: {score}")
        assert score is not None and score >= bar, (
            f"Lighthouse {category} {score} < {bar} (judged run {i}); failing audits:\n  "
            + "\n  ".join(_failing_audits(lhr, category)))


# ---------------------------------------------------------------- axe-core

AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\\s+/g, ' '))}));
}"""


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["bill-explainer/it", "payment-reminder/ar"])
def test_axe_finds_no_violations(axe_js, chromium, pages, name, device):
    # the page's CSP (rightly) refuses injected scripts: bypass it for the judge only
    with open_page(chromium, pages[name], device, bypass_csp=True) as (page, _):
        page.add_script_tag(path=str(axe_js))
        found = page.evaluate(AXE_RUN)
        # and again with every disclosure open (transcript, data table), so hidden content is judged too
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        found += [v for v in page.evaluate(AXE_RUN) if v["id"] not in {f["id"] for f in found}]
        assert found == [], f"axe on {name} ({device}):\n" + "\n".join(
            f"  {v['id']} [{v['impact']}] {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found)


# ---------------------------------------------------------------- Nu HTML Checker

def test_nu_html_checker_finds_no_errors(vnu_jar, bill_site, reminder_site):
    files = sorted(str(f) for _, out, _ in (bill_site, reminder_site) for f in (out / "c").glob("*/index.html"))
    assert len(files) >= 4
    proc = subprocess.run(["java", "-jar", str(vnu_jar), "--format", "json", "--errors-only", *files],
                          capture_output=True, text=True, timeout=180)
    report = json.loads(proc.stderr or proc.stdout)  # vnu writes its report to stderr
    errors = [m for m in report["messages"] if m.get("type") in ("error", "non-document-error")]
    assert errors == [], f"{len(errors)} vnu errors:\n" + "\n".join(
        f"  {Path(urlparse(m.get('url', '')).path).parent.name}/index.html:{m.get('lastLine')}: {m['message']}"
        f"  «{(m.get('extract') or '')[:100]}»" for m in errors[:40])
    assert proc.returncode == 0, proc.stderr[-2000:]


# ---------------------------------------------------------------- weight and CSP

class _Head(HTMLParser):
    """Collects the CSP meta, the css/js references and whether the CSP comes before them."""

    def __init__(self):
        super().__init__()
        self.csp: list[str] = []
        self.refs: list[str] = []
        self.before_csp: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        ref = None
        rel = (a.get("rel") or "").lower().split()
        if tag == "link" and ("stylesheet" in rel or "modulepreload" in rel or ("preload" in rel and a.get("as") in ("script", "style"))):
            ref = a.get("href")
        elif tag == "script" and (a.get("src") or (a.get("type") or "").lower() != "application/json"):
            ref = a.get("src") or "<inline script>"  # a JSON data block is not code: the CSP does not apply to it
        elif tag == "style":
            ref = "<inline style>"
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(a.get("content") or "")
        if ref:
            self.refs.append(ref)
            if not self.csp:
                self.before_csp.append(ref)


def _head(url: str) -> _Head:
    parser = _Head()
    parser.feed(urlopen(url).read().decode("utf-8"))
    return parser


@pytest.mark.parametrize("name", ["bill-explainer/it", "payment-reminder/ar"])
def test_html_css_js_of_one_microsite_fit_the_budget(chromium, pages, name):
    url = pages[name]
    refs = {urljoin(url, r) for r in _head(url).refs if not r.startswith("<")}
    # and whatever the page's scripts load at run time
    loaded = []
    with open_page(chromium, None, "Pixel 5") as (page, _):
        page.on("request", lambda r: loaded.append((r.url, r.resource_type)))
        page.goto(url)
        page.wait_for_load_state("networkidle")
    refs |= {u for u, kind in loaded if kind in ("stylesheet", "script") and not u.startswith(("data:", "blob:"))}
    origin = urlparse(url).netloc
    assert all(urlparse(u).netloc == origin for u in refs), refs
    sizes = {url: len(urlopen(url).read())}
    sizes.update({u: len(urlopen(u).read()) for u in sorted(refs)})
    total = sum(sizes.values())
    print(f"{name}: {total} bytes = " + ", ".join(f"{Path(urlparse(u).path).name} {n}" for u, n in sizes.items()))
    assert total <= BUDGET_BYTES, f"{name}: HTML+CSS+JS {total} bytes > {BUDGET_BYTES}: {sizes}"


def _csp_directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


@pytest.mark.parametrize("name", ["bill-explainer/it", "payment-reminder/ar"])
def test_csp_meta_allows_only_the_pages_own_origin(pages, name):
    head = _head(pages[name])
    assert len(head.csp) == 1, head.csp
    assert head.before_csp == [], f"loaded before the CSP meta, so not covered by it: {head.before_csp}"
    assert not [r for r in head.refs if r.startswith("<")], "inline script/style: the CSP must not need 'unsafe-inline'"
    policy = _csp_directives(head.csp[0])
    assert policy.get("default-src") == ["'none'"], head.csp[0]
    for directive, sources in policy.items():
        for src in sources:
            low = src.lower()
            assert not low.startswith("'unsafe-"), f"{directive} {src}"
            assert low in ("'self'", "'none'") or (low in ("data:", "blob:") and directive in ("img-src", "media-src")), (
                f"{directive} allows {src}: only the page's own origin (and data:/blob: images/media) may be allowed")


@pytest.mark.parametrize("name", ["bill-explainer/it", "payment-reminder/ar"])
def test_page_load_requests_nothing_from_another_host_and_breaks_no_csp_rule(chromium, pages, name):
    with open_page(chromium, pages[name], "iPhone 13") as (page, log):  # the CSP enforced, as a customer gets it
        page.evaluate("""async () => { const v = document.querySelector('video'); v.muted = true;
                         try { await v.play(); } catch (e) {} await new Promise(r => setTimeout(r, 800)); }""")
        page.wait_for_load_state("networkidle")
    hosts = {urlparse(u).hostname for u in log.requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(u for u in log.requests if urlparse(u).hostname != "127.0.0.1")
    refused = [text for kind, text in log.console if "Content Security Policy" in text or "Refused to" in text]
    assert refused == [], refused
