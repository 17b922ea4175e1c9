"""report.html: its content (no browser), then rendered in headless Chromium (`browser` marker).

The browser tests read console messages from Chromium's own log (`--enable-logging=stderr`):
every console message of the page, errors and uncaught exceptions included, is logged there as
a CONSOLE line; the page itself logs nothing, so any such line fails the test. A page with a
deliberate error checks that this harness does see errors.

Set CASEFLAGS_UPDATE_SCREENSHOT=1 to rewrite docs/report-screenshot.png from the fixture run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from check_fixtures import insert
from test_outputs_lifecycle import exc, record_run

from caseflags.outputs.lifecycle import update_lifecycle
from caseflags.outputs.run_outputs import write_run_outputs

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "report-screenshot.png"
HOSTILE_CONCERN = "Plans </script><script>document.title='pwned'</script> not SMART"

CHECKS = {
    "VOICE_OF_CHILD_ABSENT": "Reliance on parent voice, no voice of child",
    "CIN_PLAN_NOT_SMART": "Regular CiN meetings but no SMART action plan",
    "GP_NOT_KNOWN": "GP invites (no GP to invite)",
    "SCHOOL_ATTENDANCE_LOW": "School attendance low",
    "SELF_HARM_NOT_SHARED": "Record keeping about self-harm not available to all professionals",
    "PERPLEXING_PRESENTATION_UNASSESSED": "Perplexing Presentation not clearly assessed and managed in partner records",
}
AGENCY_OF = {"SCHOOL_ATTENDANCE_LOW": "EDUCATION", "SELF_HARM_NOT_SHARED": "GP"}


def _raised(day: int, concerns: dict[str, str]) -> list[dict]:
    """A changing set of exceptions over the runs (numbers vary so the trend has a shape)."""
    rows = [
        exc("VOICE_OF_CHILD_ABSENT", f"C{50 + n:03d}", concern=concerns["VOICE_OF_CHILD_ABSENT"])
        for n in range(day % 4)
    ]
    for n, check_id in enumerate(concerns):
        for child in range(1, 3 + (day * (n + 1)) % 7):
            agency = AGENCY_OF.get(check_id, "SOCIAL_CARE")
            entity_type = "child_agency" if check_id == "SELF_HARM_NOT_SHARED" else "child"
            entity_id = "MENTAL_HEALTH" if entity_type == "child_agency" else None
            rows.append(
                exc(
                    check_id,
                    f"C{child:03d}",
                    agency=agency,
                    entity_type=entity_type,
                    entity_id=entity_id,
                    concern=concerns[check_id],
                    severity=("HIGH", "MEDIUM", "LOW")[child % 3],
                )
            )
    return rows


def build_report(con, out_dir: Path, hostile: bool = False) -> Path:
    """Eight weekly runs; `hostile` gives one check a concern text that tries to end the script."""
    concerns = {**CHECKS, "CIN_PLAN_NOT_SMART": HOSTILE_CONCERN} if hostile else CHECKS
    start = date(2026, 10, 1)
    for day in range(8):
        as_at = start + timedelta(days=7 * day)
        checks = {c: "EVALUATED" for c in CHECKS}
        raised = _raised(day, concerns)
        if day == 7:
            checks["SCHOOL_ATTENDANCE_LOW"] = (
                "NOT_EVALUATED",
                "input table attendance_sessions: absent from the store",
            )
            raised = [r for r in raised if r["check_id"] != "SCHOOL_ATTENDANCE_LOW"]
        record_run(con, f"run-{day}", as_at, raised, checks)
        update_lifecycle(con, f"run-{day}", as_at)
    run_id, as_at = "run-7", start + timedelta(days=49)
    for line in (4, 9, 12):
        insert(
            con,
            "quarantine",
            run_id=run_id,
            table_name="ssd_person",
            file="ssd_person.csv",
            line=line,
            column_name="pers_dob",
            reason="unparseable date (expected YYYY-MM-DD or DD/MM/YYYY)",
            raw_line=f"P{line},SECRET-RAW-LINE-{line},2012-13-45",
        )
    insert(
        con,
        "extract_loads",
        run_id=run_id,
        table_name="ssd_person",
        file="ssd_person.csv",
        status="LOADED",
        rows_read=120,
        rows_loaded=117,
        rows_quarantined=3,
    )
    insert(
        con,
        "extract_loads",
        run_id=run_id,
        table_name="attendance_sessions",
        status="ABSENT",
        reason="no file delivered",
    )
    insert(
        con,
        "contract_results",
        run_id=run_id,
        table_name="ssd_person",
        expectation="expect_column_values_to_be_unique",
        column_name="pers_person_id",
        success=True,
        blocking=True,
        observed="0 unexpected",
    )
    insert(
        con,
        "contract_results",
        run_id=run_id,
        table_name="meetings",
        expectation="expect_column_pair_values_a_to_be_greater_than_b",
        column_name="held_date",
        success=False,
        blocking=False,
        observed="2 of 40 rows held before scheduled",
    )
    good_practice = [
        {
            "person_id": "C001",
            "practice": "joint visits used",
            "evidence": "joint home visit with health visitor on 2026-11-10",
        },
        {"person_id": "C002", "practice": "child attended their own review", "evidence": "CIN review on 2026-11-03"},
    ]
    return write_run_outputs(con, run_id, as_at, out_dir, good_practice_rows=good_practice).report_html


# ---- content, no browser needed ---------------------------------------------------------------


def test_report_sections_and_privacy(store, tmp_path):
    page = build_report(store, tmp_path, hostile=True).read_text(encoding="utf-8")
    for section in (
        "summary",
        "trend",
        "by-concern",
        "by-agency",
        "good-practice",
        "not-evaluated",
        "quarantine",
        "data-contract",
    ):
        assert f'<section id="{section}">' in page
    assert "input table attendance_sessions: absent from the store" in page
    assert "joint visits used" in page and "unparseable date" in page
    assert "SECRET-RAW-LINE" not in page  # quarantine is counted, raw lines stay in quarantine.csv
    assert "2 of 40 rows held before scheduled" in page
    # Self-contained: nothing is fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    # Data never ends a script block early.
    assert HOSTILE_CONCERN not in page
    assert page.count("<script") == 2


# ---- headless Chromium --------------------------------------------------------------------


def chromium(tmp_path: Path, url: str, *extra: str) -> tuple[str, list[str]]:
    """Run headless Chromium on url: (stdout, console lines from its log)."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # a page that reached for the network would fail loudly
        *extra,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return result.stdout, console


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="headless Chromium not installed (/usr/bin/chromium; apt-get install chromium)"
)


@pytest.mark.browser
@needs_chromium
def test_report_loads_without_console_errors_and_draws_its_charts(store, tmp_path):
    report = build_report(store, tmp_path / "out", hostile=True)
    dom, console = chromium(tmp_path, report.as_uri(), "--dump-dom")
    assert console == []
    assert 'data-charts-drawn="3"' in dom
    for chart in ("chart-trend", "chart-concern", "chart-agency"):
        match = re.search(rf'<div class="chart" id="{chart}" data-marks="(\d+)" data-drawn="true"><svg', dom)
        assert match and int(match.group(1)) > 0, chart
    assert len(re.findall(r'<polyline [^>]*class="mark"', dom)) == 3  # NEW / OPEN / RESOLVED over 8 runs
    assert "<title>caseflags report 2026-11-19</title>" in dom  # not rewritten by injected data


@pytest.mark.browser
@needs_chromium
def test_harness_sees_a_page_error(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>drawCharts();</script></body></html>")
    _, console = chromium(tmp_path, broken.as_uri(), "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console)


@pytest.mark.browser
@needs_chromium
def test_report_screenshot(store, tmp_path):
    report = build_report(store, tmp_path / "out")
    shot = tmp_path / "report.png"
    _, console = chromium(
        tmp_path,
        report.as_uri(),
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        "--virtual-time-budget=2000",
    )
    assert console == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    if os.environ.get("CASEFLAGS_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
