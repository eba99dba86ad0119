"""The studio's journeys in Debian's Chromium on a laptop screen: log in, see a problem at its line in the editor and
fix it, submit and approve, preview and scrub, switch locale and variant, open the microsite, run and cancel."""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from helpers.browser import open_page
from helpers.samples import REMINDER_DIR, SAMPLE_CSV, pick_rows
from helpers.studio import PASSWORD, state, studio_app
from helpers.web import serve

pytestmark = pytest.mark.browser
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
BLOB = re.compile(r"^blob:")


@pytest.fixture(scope="module")
def studio(settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("studio-browser")
    app = studio_app(settings, f"sqlite:///{tmp / 'studio.db'}", tmp, run_workers=1)
    with serve(app) as url:
        yield app, url


def _login(page, url: str, name: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/")


def _only_this_host(log, url: str) -> None:
    hosts = {urlparse(r).netloc for r in log.requests if r.startswith("http")}
    assert hosts <= {urlparse(url).netloc}, hosts
    assert not log.errors, log.errors


def test_a_problem_is_shown_at_its_line_in_the_editor_and_fixing_it_there_makes_the_template_valid(chromium, studio):
    app, url = studio
    st = state(app)
    v = st.versions.latest("payment-reminder")
    broken = st.versions.file(v, "template.yaml").decode().replace("  fps: 30", "  fps: thirty", 1)
    line = broken.splitlines().index("  fps: thirty") + 1
    bad, _ = st.versions.save("payment-reminder", {**st.versions.files(v), "template.yaml": broken.encode()}, "dana", st.now(), v.id)
    with open_page(chromium, None, **LAPTOP) as (page, log):
        _login(page, url, "dana")
        assert page.get_by_role("row", name="payment-reminder").get_by_text("1 problem").is_visible()
        page.get_by_role("link", name="payment-reminder").click()
        page.wait_for_selector("body[data-editor=codemirror]")
        assert page.locator("#validation").inner_text() == "1 problem"
        assert f"template.yaml:{line}" in page.locator(".findings").inner_text()
        marked = page.locator(".cm-gutter-lint .cm-gutterElement .cm-lint-marker-error")
        marked.first.wait_for()
        assert page.locator(".cm-activeLine").inner_text().strip() == "fps: thirty"  # the cursor waits at the problem's line
        page.locator(".cm-line", has_text="fps: thirty").click()
        page.keyboard.press("End")
        for _ in "thirty":
            page.keyboard.press("Backspace")
        page.keyboard.type("30")
        page.wait_for_selector("body[data-live-check=valid]")  # checked as one types, before any save
        expect(page.locator(".cm-lint-marker-error")).to_have_count(0)
        page.get_by_label("What changed").fill("fps back to a number")
        page.get_by_role("button", name="Save as a new version").click()
        page.wait_for_selector("#validation.ok")
        assert "valid" in page.locator("#validation").inner_text()
        assert page.locator(".cm-lint-marker-error").count() == 0
        _only_this_host(log, url)
    assert st.versions.latest("payment-reminder").id == v.id != bad.id  # the fix found the first version's files: current again
    assert st.workspace.check(st.versions.get(v.id)).valid


def test_submit_then_another_user_approves_and_the_template_is_locked_meanwhile(chromium, studio):
    app, url = studio
    st = state(app)
    with open_page(chromium, None, **LAPTOP) as (page, log):
        _login(page, url, "dana")
        page.goto(url + "/t/bill-explainer")
        page.get_by_role("button", name="Submit for approval").click()
        page.wait_for_selector("#locked")
        assert page.locator("#version-state").inner_text() == "review"
        assert page.locator("#content").get_attribute("readonly") is not None or page.locator(".cm-content[contenteditable=false]").count() == 1
        assert page.get_by_role("button", name="Save as a new version").count() == 0
        _only_this_host(log, url)
    with open_page(chromium, None, **LAPTOP) as (page, log):
        _login(page, url, "abe")
        page.goto(url + "/t/bill-explainer")
        page.get_by_label("Comment").fill("numbers checked")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_selector("#version-state:text('approved')")
        assert page.locator("#locked").count() == 0
    assert st.versions.latest("bill-explainer").state == "approved"


def test_preview_a_row_scrub_switch_locale_and_variant_and_open_the_microsite_in_a_phone_frame(chromium, studio):
    app, url = studio
    with open_page(chromium, None, **LAPTOP) as (page, log):
        _login(page, url, "dana")
        page.goto(url + "/t/payment-reminder")
        page.get_by_role("link", name="Preview").click()
        page.wait_for_selector("#scrubber")
        page.locator("#row").select_option("6")  # R-0005: Arabic, a large amount: the instalment offer plays
        page.get_by_role("button", name="Show").click()
        page.wait_for_selector("#scene-list")
        still = page.locator("#still")
        expect(still).to_have_attribute("src", BLOB)  # the page's script answers, without eval (the CSP forbids it)
        first = still.get_attribute("src")
        scrubber = page.locator("#scrubber")
        scrubber.focus()
        for _ in range(45):  # 1.5 s at 30 fps, by keyboard
            page.keyboard.press("ArrowRight")
        expect(still).to_have_attribute("data-at", "1.500")
        assert still.get_attribute("src") != first
        scene = page.locator("#scene-id").inner_text()
        assert scene and page.locator(f"#scene-list li[data-scene='{scene}'].plays").count() == 1
        assert page.locator("#scene-list li.plays").count() >= 3 and "when:" in page.locator("#scene-list").inner_text()
        jump = page.locator("#scene-list button.jump").last
        jump.click()
        expect(still).to_have_attribute("data-at", f"{float(jump.get_attribute('data-at')):.3f}")
        page.locator("#locale").select_option("en")
        page.locator("#variant").select_option("firm")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#still")).to_have_attribute("src", BLOB)
        assert "locale=en" in page.url and "variant=firm" in page.url
        page.locator("#locale").select_option("ar")
        page.get_by_role("button", name="Show").click()
        page.get_by_role("button", name="Render this customer's video and microsite").click()
        page.wait_for_selector("#render-job")
        bar = page.get_by_role("progressbar", name="Progress")  # a real <progress>, labelled
        values, deadline = [], time.time() + 300
        while page.locator("#render-result[hidden]").count() and time.time() < deadline:
            value = bar.evaluate("b => b.hasAttribute('value') ? b.value : null")
            if value is not None and (not values or values[-1] != value):
                values.append(value)
            time.sleep(0.1)
        values.append(bar.evaluate("b => b.value"))  # as the result showed
        assert values == sorted(values) and values[-1] == 100 and len(values) >= 3, values  # it moved, forward only
        assert page.locator("#render-percent").inner_text() == "100 %" and "published" in page.locator("#render-phase").inner_text()
        assert re.fullmatch(r"\d+ of \d+ frames", page.locator("#render-renditions li").first.inner_text().split(": ", 1)[1])
        assert "variant firm" in page.locator("main").inner_text()  # the variant chosen above, for the whole video
        frame = page.frame_locator("#microsite")
        frame.locator("html[dir=rtl]").wait_for(timeout=30_000)
        box = page.locator("#microsite").bounding_box()
        assert (round(box["width"]), round(box["height"])) == (390, 844)
        assert page.locator("video[data-rendition]").count() == 2
        _only_this_host(log, url)


def _start_run(page, url: str, version_label: str, customers, out) -> str:
    page.goto(url + "/runs")
    page.get_by_label("Approved version").select_option(label=version_label)
    page.get_by_label("CRM export").set_input_files(str(customers))
    page.get_by_label("Publish to").fill(str(out))
    page.get_by_role("button", name="Start run").click()
    page.wait_for_selector("#run-live")
    return page.url


def test_start_a_run_of_a_few_rows_watch_it_finish_and_download_its_manifest_then_cancel_a_long_run(chromium, studio, tmp_path):
    app, url = studio
    st = state(app)
    v = st.versions.latest("payment-reminder")
    if v.state != "approved":
        st.versions.submit(v.id, "dana", st.now())
        v = st.versions.decide(v.id, "abe", True, "", st.now())
    bill = st.versions.latest("bill-explainer")
    rows = pick_rows(REMINDER_DIR / "sample-customers.csv", ["R-0001", "R-0006"], tmp_path / "two.csv")
    with open_page(chromium, None, accept_downloads=True, **LAPTOP) as (page, log):
        _login(page, url, "olga")
        _start_run(page, url, f"payment-reminder · {v.short} · {v.created_at:%Y-%m-%d}", rows, tmp_path / "pub")
        page.wait_for_selector("#run-state:text('done')", timeout=400_000)
        assert page.locator("#run-ok").inner_text() == "2" and page.locator("#run-done").inner_text() == "2"
        with page.expect_download() as download:
            page.locator("#manifest").click()
        assert download.value.path().read_bytes().count(b",ok,") == 2
        _start_run(page, url, f"bill-explainer · {bill.short} · {bill.created_at:%Y-%m-%d}", SAMPLE_CSV, tmp_path / "pub2")
        time.sleep(2)
        page.get_by_role("button", name="Cancel run").click()
        page.wait_for_selector("#run-state:text('cancelled')", timeout=60_000)
        _only_this_host(log, url)


def test_change_one_s_password_in_the_browser_and_the_other_session_ends(chromium, studio):
    app, url = studio
    st = state(app)
    st.users.create("pat", "viewer", PASSWORD, st.now())
    with open_page(chromium, None, **LAPTOP) as (other, _), open_page(chromium, None, **LAPTOP) as (page, log):
        _login(other, url, "pat")
        _login(page, url, "pat")
        page.get_by_role("link", name="Password").click()
        page.get_by_label("Current password").fill("not the password")
        page.get_by_label("New password (at least 10 characters)").fill("a brand new password")
        page.get_by_label("New password again").fill("a brand new password")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("alert")).to_have_text("the current password is wrong")
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password (at least 10 characters)").fill("a brand new password")
        page.get_by_label("New password again").fill("a brand new password")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("status")).to_contain_text("Your password was changed")
        page.goto(url + "/")
        assert page.url == url + "/"  # this session goes on
        other.goto(url + "/")
        assert "/login" in other.url  # the other one ended
        _only_this_host(log, url)
