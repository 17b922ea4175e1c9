"""The officers' workspace end to end in Debian's Chromium (driven by Playwright with the SYSTEM
browser: executable_path=/usr/bin/chromium, no browser download).

`caseflags web` runs as its own process on a copy of the sample run's store; the next night runs
as another process while it is up. Screenshots of Today, Exceptions and Child are taken on the
way; set CASEFLAGS_UPDATE_SCREENSHOT=1 to write them to docs/ (otherwise into the test's folder).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from test_web import NEXT_NIGHT, start_nightly
from web_helpers import GP_USER, OFFICER, add_users, copy_store, practices

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTE = "Called the practice manager; invite goes out today"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(sample_run, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("web-browser")
    db = copy_store(sample_run, folder)
    found = practices(db)
    add_users(db, found[0][0])
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "caseflags", "web", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"caseflags web did not start: {process.communicate()[0]}")
            time.sleep(0.2)
    banner = process.stdout.readline().strip()  # printed before it starts listening
    yield {
        "base": base,
        "banner": banner,
        "db": db,
        "practices": found,
        "shots": DOCS if os.environ.get("CASEFLAGS_UPDATE_SCREENSHOT") else folder,
    }
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _login(browser, base: str, username: str, password: str):
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return context, page


def test_officer_filters_opens_a_child_reviews_and_the_review_survives_the_next_night(server, browser):
    base = server["base"]
    context, page = _login(browser, base, *OFFICER)
    assert page.inner_text("[data-testid=user]") == OFFICER[0]
    assert page.locator("h1").inner_text() == "Today"
    # The first section is the children to act on first, as many as its tile says.
    children = page.locator("#children li[data-child]")
    assert children.count() == int(page.locator("[data-tile=children] strong").inner_text()) > 0
    page.screenshot(path=str(server["shots"] / "web-today.png"))

    # Filter: GP rows of one practice, by the drop-downs.
    practice = server["practices"][0][0]
    page.goto("/exceptions")
    page.select_option("select[name=agency]", "GP")
    page.select_option("select[name=org]", practice)
    page.click("form#filters button[type=submit]")
    page.wait_for_url("**/exceptions?*org=*")
    rows = page.locator("table.rows tbody tr[data-exception]")
    assert rows.count() > 0
    owners = page.locator("table.rows tbody tr[data-exception] td:nth-child(6)").all_inner_texts()
    assert all(text.startswith("GP") and practice in text for text in owners)
    page.screenshot(path=str(server["shots"] / "web-exceptions.png"))

    # Open the child of the first row: every open exception for that child, across checks.
    page.locator("a.child-link").first.click()
    page.wait_for_url("**/children/*")
    person_id = page.url.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text() == f"Child {person_id}"
    assert page.locator("[data-testid=links] tbody tr").count() > 0
    page.screenshot(path=str(server["shots"] / "web-child.png"))

    # Review one of them with a note.
    page.locator("table.rows tbody tr[data-exception] td:nth-child(3) a").first.click()
    page.wait_for_url("**/exceptions/*")
    exception_id = page.url.rsplit("/", 1)[1]
    page.select_option("form#review select[name=review_status]", "IN_HAND")
    page.fill("form#review textarea[name=review_note]", NOTE)
    page.click("form#review button[type=submit]")
    page.wait_for_selector("[data-testid=saved]")
    assert page.inner_text("[data-testid=current-review]") == f"IN_HAND: {NOTE}"
    history = page.inner_text("[data-testid=history]")
    assert OFFICER[0] in history and NOTE in history

    # The next night runs as another process while the workspace is up.
    nightly = start_nightly(server["db"], NEXT_NIGHT)
    output, _ = nightly.communicate(timeout=600)
    assert nightly.returncode == 0, output
    page.goto(f"/exceptions/{exception_id}")
    assert f"Data as at {NEXT_NIGHT.isoformat()}" in page.inner_text(".status-bar")
    assert page.inner_text("[data-testid=current-review]") == f"IN_HAND: {NOTE}"
    context.close()
    store = duckdb.connect(str(server["db"]), read_only=True)
    try:
        carried = store.execute(
            "SELECT review_status, review_note, status FROM exceptions_current WHERE exception_id = ?", [exception_id]
        ).fetchall()
    finally:
        store.close()
    assert carried == [("IN_HAND", NOTE, "OPEN")]  # carried by the store itself, and no longer NEW


def test_gp_practice_user_sees_only_that_practice_and_404_elsewhere(server, browser):
    base = server["base"]
    (practice, own_child), (other_practice, other_child) = server["practices"][0], server["practices"][1]
    context, page = _login(browser, base, *GP_USER)
    page.goto("/exceptions")
    owners = page.locator("table.rows tbody tr[data-exception] td:nth-child(6)").all_inner_texts()
    assert owners and all(text.split()[0] == "GP" and text.split()[-1] == practice for text in owners)
    assert page.locator("select[name=agency]").count() == 0  # no other agency to choose
    assert page.goto(f"/children/{own_child}").status == 200
    assert page.goto(f"/children/{other_child}").status == 404
    assert context.request.get(f"/exceptions/export.csv?org={practice}").status == 200
    assert context.request.get(f"/exceptions/export.csv?org={other_practice}").status == 404
    assert context.request.get(f"/exceptions/export.xlsx?org={other_practice}").status == 404
    context.close()


def test_a_post_without_the_csrf_token_is_refused(server, browser):
    base = server["base"]
    context, page = _login(browser, base, *OFFICER)
    page.goto("/exceptions")
    exception_id = page.locator("tr[data-exception]").first.get_attribute("data-exception")
    refused = context.request.post(
        f"/exceptions/{exception_id}/review", form={"review_status": "FALSE_POSITIVE", "review_note": "forged"}
    )
    assert refused.status == 403
    page.goto(f"/exceptions/{exception_id}")
    assert "forged" not in page.inner_text("[data-testid=history]")
    context.close()


def test_officer_draws_a_sample_opens_a_pack_and_records_an_outcome(server, browser):
    base = server["base"]
    context, page = _login(browser, base, *OFFICER)
    page.goto("/audit")
    page.fill("[data-testid=draw-form] input[name=size]", "4")
    page.fill("[data-testid=draw-form] input[name=seed]", "3")
    page.click("[data-testid=draw-form] button[type=submit]")
    page.wait_for_url("**/audit?drawn=*")
    sample_id = page.url.split("drawn=", 1)[1]
    drawn = page.locator(f"section[data-sample='{sample_id}']")
    assert f"drawn by {OFFICER[0]}" in drawn.locator("h2").inner_text()
    assert drawn.locator("a.pack-link").count() == 4

    # Open the pack of the first child with a concern; record an outcome with a note.
    for index in range(4):
        drawn.locator("a.pack-link").nth(index).click()
        page.wait_for_url("**/audit/*/children/*")
        if page.locator("tr[data-check]").count():
            break
        page.go_back()
    person_id = page.url.rsplit("/", 1)[1]
    assert page.locator("[data-testid=pack] h1").inner_text() == f"Multi-agency audit pack: child {person_id}"
    row = page.locator("tr[data-check]").first
    check_id = row.get_attribute("data-check")
    row.locator("select[name=outcome]").select_option("CONFIRMED")
    row.locator("input[name=note]").fill("Seen at the strategy meeting")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=saved]")
    history = page.inner_text("[data-testid=outcome-history]")
    assert OFFICER[0] in history and "Seen at the strategy meeting" in history and check_id in history
    page.set_viewport_size({"width": 1100, "height": 680})  # the outcomes and the pack's head; small
    page.screenshot(path=str(server["shots"] / "web-audit.png"))
    page.goto("/audit")
    assert (
        f"{check_id}: CONFIRMED (Seen at the strategy meeting)"
        in page.locator(f"section[data-sample='{sample_id}']").inner_text()
    )
    context.close()


# -- issue 27: the URL on start, every page at 1366 px and 390 px, axe-core --------------------

AXE_SCRIPT = (Path(__import__("axe_playwright_python").__file__).parent / "axe.min.js").read_text()
WIDTHS = (1366, 390)


def test_web_prints_its_url_on_start(server):
    assert server["banner"].startswith("caseflags web: serving ")
    assert server["banner"].split(" at ", 1)[1].split()[0] == server["base"] + "/"


def _axe_problems(page) -> list[str]:
    """Critical and serious violations found by axe-core (shipped by axe-playwright-python;
    injected into the page by Playwright, which the page's CSP does not govern)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("critical", "serious")
    ]


def _page_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def _pages(server, browser) -> dict[str, str]:
    """One URL per page template, found by an officer at the wide width."""
    context, page = _login(browser, server["base"], *OFFICER)
    page.goto("/exceptions")
    exception_id = page.locator("tr[data-exception]").first.get_attribute("data-exception")
    person_id = page.locator("a.child-link").first.get_attribute("href").rsplit("/", 1)[1]
    page.goto("/audit")
    page.fill("[data-testid=draw-form] input[name=size]", "3")
    page.fill("[data-testid=draw-form] input[name=seed]", "11")
    page.click("[data-testid=draw-form] button[type=submit]")
    page.wait_for_url("**/audit?drawn=*")
    sample_id = page.url.split("drawn=", 1)[1]
    pack = page.locator(f"section[data-sample='{sample_id}'] a.pack-link").first.get_attribute("href")
    context.close()
    return {
        "today.html": "/",
        "exceptions.html": "/exceptions",
        "exception.html": f"/exceptions/{exception_id}",
        "child.html": f"/children/{person_id}",
        "matches.html": "/matches",
        "audit.html": "/audit",
        "audit_sample.html": f"/audit/{sample_id}",
        "audit_pack.html": pack,
        "error.html": "/children/no-such-child",
    }


def test_every_page_at_1366_and_390_px_has_no_serious_axe_violation_and_no_sideways_scroll(server, browser):
    pages = _pages(server, browser)
    problems = {}
    for width in WIDTHS:
        viewport = {"width": width, "height": 844 if width == 390 else 800}
        anonymous = browser.new_context(base_url=server["base"], viewport=viewport)
        page = anonymous.new_page()
        page.goto("/login")
        found = {"login.html": (_axe_problems(page), _page_width(page))}
        anonymous.close()
        context, page = _login(browser, server["base"], *OFFICER)
        page.set_viewport_size(viewport)
        for template, url in pages.items():
            page.goto(url)
            found[template] = (_axe_problems(page), _page_width(page))
        # The bulk confirmation, reached as an officer reaches it: "all N matching" asks first.
        page.goto("/exceptions?severity=LOW")
        total = page.inner_text("[data-testid=total]").split()[0]
        page.check("form#bulk input[name=apply_to][value=all]")
        page.select_option("form#bulk select[name=review_status]", "IN_HAND")
        page.click("form#bulk button[type=submit]")
        page.wait_for_selector("[data-testid=bulk-confirm]")
        assert page.inner_text("[data-testid=bulk-count]") == total
        found["bulk_confirm.html"] = (_axe_problems(page), _page_width(page))
        if width == 390:  # the header is collapsed behind "Menu" until opened; rows are stacked cards
            page.goto("/")
            toggle = page.locator("button.menu-toggle")
            collapsed = not page.locator("nav#site-nav").is_visible() and toggle.is_visible()
            if toggle.is_visible():
                toggle.click()
            opened = page.locator("nav#site-nav a[href='/exceptions']").is_visible()
            page.goto("/exceptions")
            display = page.locator("table.rows tbody tr[data-exception]").first.evaluate(
                "r => getComputedStyle(r).display"
            )
            if not (collapsed and opened and display == "block"):
                problems["narrow layout"] = {"menu collapsed": collapsed, "menu opens": opened, "row display": display}
            page.screenshot(path=str(server["shots"] / "web-exceptions-390.png"))
        context.close()
        for template, (violations, scroll_width) in found.items():
            if violations or scroll_width > width:
                problems[f"{template} at {width}px"] = {"axe": violations, "scrollWidth": scroll_width}
    assert problems == {}


def test_a_one_gigabyte_login_post_is_refused_by_the_running_server(server):
    """The real server (uvicorn): 413 on the headers, with only a few KB sent of the announced 1 GB."""
    host, port = server["base"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /login HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1073741824\r\n\r\n"
            + b"username="
            + b"a" * 4096
        )
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_the_running_server_ignores_a_rotated_x_forwarded_for(server):
    """uvicorn would believe X-Forwarded-For from loopback; `caseflags web` turns that off, so a
    header rotated per attempt is still one client to the login throttle."""
    import httpx

    from caseflags.web.accounts import FREE_FAILURES

    with httpx.Client(base_url=server["base"], timeout=30) as client:
        codes = []
        for n in range(FREE_FAILURES + 1):
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            codes.append(
                client.post(
                    "/login",
                    headers={"X-Forwarded-For": f"192.0.2.{n + 1}"},
                    data={"username": "xff.sprayed", "password": "guess", "csrf_token": token},
                ).status_code
            )
    assert codes == [401] * FREE_FAILURES + [429]
