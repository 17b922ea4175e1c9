"""Issue 25: priority as risk, owners, actionable detail, partner text (docs/OUTPUTS.md,
"Priority and owners")."""

import csv
import re
import zipfile
from datetime import date

import duckdb
import pytest
from check_fixtures import AS_AT, add_child, add_social_worker, insert

from caseflags.checking.registry import SHORT_NAME_LIMIT, load_registry
from caseflags.checking.runner import run_all_checks
from caseflags.outputs.lifecycle import update_lifecycle
from caseflags.outputs.organisations import record_agency_rows
from caseflags.outputs.run_outputs import listed_rows
from caseflags.outputs.triage import record_triage
from caseflags.settings import ConfigError, load_config

RUN = AS_AT.isoformat()


def _triage(con, check_ids):
    run_all_checks(con, RUN, AS_AT, check_ids=check_ids)
    update_lifecycle(con, RUN, AS_AT)
    record_agency_rows(con, RUN, AS_AT)
    record_triage(con, RUN, AS_AT)


def test_planted_child_ranks_first_where_the_alphabet_puts_it_last(store):
    # Three older children with a CIN plan and no actions (CIN_PLAN_NOT_SMART, HIGH, first in the
    # alphabet) and an allocated worker; the planted child Z9 (last by id, and its check
    # SOCIAL_WORKER_UNALLOCATED after CIN_PLAN_NOT_SMART) is under 5, had an ICPC last month and
    # has been without a social worker for 8 weeks.
    for person in ("A1", "A2", "A3"):
        add_child(store, person, date(2012, 5, 1), cin_from=date(2026, 3, 2))
        add_social_worker(store, person, f"SW-{person}", date(2026, 3, 2))
    add_child(store, "Z9", date(2023, 2, 1), cin_from=date(2026, 9, 28))
    insert(
        store,
        "plan_actions",
        action_id="ACT-Z9",
        plan_id="P-Z9",
        person_id="Z9",
        action_text="Nursery place",
        owner_role="SW",
        due_date=date(2026, 12, 20),
        outcome_measure="attends",
        status="OPEN",
    )
    insert(
        store,
        "ssd_initial_cp_conference",
        icpc_icpc_id="ICPC-Z9",
        icpc_person_id="Z9",
        icpc_icpc_date=date(2026, 10, 20),
    )
    _triage(store, ["CIN_PLAN_NOT_SMART", "SOCIAL_WORKER_UNALLOCATED"])

    rows = listed_rows(store, RUN)
    alphabetical = sorted(rows, key=lambda r: (r["check_id"], r["person_id"]))
    assert alphabetical[-1]["person_id"] == "Z9"  # the old order put it last
    assert rows[0]["person_id"] == "Z9"  # the files' order is priority
    ranked = store.execute(
        "SELECT person_id, priority_reason FROM child_priority WHERE run_id = ? ORDER BY rank", [RUN]
    ).fetchall()
    assert [person for person, _ in ranked] == ["Z9", "A1", "A2", "A3"]  # ties broken by person_id
    reason = ranked[0][1]
    assert reason.startswith("HIGH; ")
    assert "working days (limit 5)" in reason and "under 5" in reason and "child protection" in reason


def test_magnitude_orders_rows_of_one_check_and_severity(store):
    # Two unallocated children, the same severity: the longer wait ranks first.
    add_child(store, "B1", date(2012, 5, 1), cin_from=date(2026, 11, 9))
    add_child(store, "B2", date(2012, 5, 1), cin_from=date(2026, 10, 1))
    _triage(store, ["SOCIAL_WORKER_UNALLOCATED"])
    rows = listed_rows(store, RUN)
    assert [r["person_id"] for r in rows] == ["B2", "B1"]
    assert rows[0]["priority"] > rows[1]["priority"]
    assert "38 working days (limit 5)" in rows[0]["priority_reason"]


def test_social_care_owner_is_the_allocated_worker_and_partner_without_school_goes_to_central_queue(store):
    add_child(store, "C1", date(2015, 1, 1), cin_from=date(2026, 3, 2))
    add_social_worker(store, "C1", "SW-1", date(2026, 3, 2))
    insert(store, "ssd_professionals", prof_professional_id="SW-1", prof_professional_name="Ada Lovelace")
    insert(store, "plan_actions", action_id="ACT-1", plan_id="P-C1", person_id="C1", action_text="x")
    _triage(store, ["CIN_PLAN_NOT_SMART"])
    [row] = listed_rows(store, RUN)
    assert (row["owner_name"], row["owner_team"]) == ("Ada Lovelace", "Children's social care")
    assert row["central_queue_reason"] is None
    assert "Action for the allocated social worker" in row["detail"]
    assert "ssd_" not in row["locator"] and row["locator"].startswith("CIN plan P-C1")


def test_every_check_names_an_action_and_who_does_it_and_a_short_name():
    registry = load_registry()
    names = set()
    for check in registry.values():
        assert check.action and check.action_by, f"{check.id}: no action or action_by in its TOML"
        assert check.action_text().startswith(" Action for ")
        assert check.short_name and len(check.short_name) <= SHORT_NAME_LIMIT, check.id
        names.add(check.short_name.casefold())
    assert len(names) == len(registry)


def test_priority_weights_are_range_checked(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[priority]\nweight_high = -1\nweight_under_5 = 20\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "priority.weight_high must be between 0 and 1000" in str(raised.value)
    path.write_text("[priority]\nweight_under_5 = 20\n")
    assert load_config(path).priority["weight_under_5"] == 20.0


# -- on the bundled sample -----------------------------------------------------------------------

PARTNER_FORBIDDEN = re.compile(r"PRF\d|ssd_|pers_")


def _texts(path):
    if path.suffix == ".csv":
        yield path.read_text(encoding="utf-8-sig")
    elif path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            for name in book.namelist():
                if name.endswith(".xml"):
                    yield book.read(name).decode("utf-8")


def test_sample_partner_files_name_no_worker_id_or_internal_name(sample_run):
    _, run_dir, _ = sample_run
    partner_files = [
        p
        for p in (run_dir / "agencies").rglob("*")
        if p.is_file() and p.relative_to(run_dir / "agencies").parts[0] != "SOCIAL_CARE"
    ]
    assert len(partner_files) > 10
    for path in partner_files:
        for text in _texts(path):
            found = PARTNER_FORBIDDEN.search(text)
            assert found is None, (
                f"{path.relative_to(run_dir)}: {text[max(found.start() - 60, 0) : found.end() + 20]!r}"
            )


def test_sample_social_care_rows_name_their_owner_and_every_detail_an_action(sample_run):
    _, run_dir, _ = sample_run
    with (run_dir / "exceptions.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    social_care = [r for r in rows if r["agency"] == "SOCIAL_CARE" and r["person_id"]]
    owned = [r for r in social_care if r["owner_name"]]
    assert len(owned) / len(social_care) >= 0.9, (len(owned), len(social_care))
    assert all(" Action for " in r["detail"] for r in rows)
    priorities = [float(r["priority"]) for r in rows]
    assert priorities == sorted(priorities, reverse=True)
    assert all(r["priority_reason"].split(";")[0] == r["severity"] for r in rows)


def test_sample_rows_without_school_or_practice_go_to_the_central_queue(sample_run):
    db, run_dir, _ = sample_run
    for agency in ("GP", "EDUCATION"):
        path = run_dir / "agencies" / agency / "central_queue.csv"
        with path.open(encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        assert rows and all(r["central_queue_reason"] for r in rows)
    con = duckdb.connect(str(db), read_only=True)
    try:
        unrouted = con.execute(
            """SELECT count(*) FROM exceptions_current AS listed
               JOIN exception_agency_rows AS rows USING (exception_id)
               WHERE listed.agency IN ('GP', 'EDUCATION') AND rows.organisation IS NULL
                 AND listed.central_queue_reason IS NULL"""
        ).fetchone()[0]
    finally:
        con.close()
    assert unrouted == 0


def test_sample_snapshot_has_child_priority(sample_run):
    db, _, _ = sample_run
    snapshot = db.with_suffix(".snapshot.duckdb")
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        count, first = con.execute("SELECT count(*), min(rank) FROM child_priority").fetchone()
    finally:
        con.close()
    assert count > 0 and first == 1


# -- files people can keep -----------------------------------------------------------------------


def _sheet_xml(path, sheet_name):
    with zipfile.ZipFile(path) as book:
        workbook = book.read("xl/workbook.xml").decode()
        rel = re.search(
            rf'<sheet name="{re.escape(sheet_name)}" sheetId="\d+"(?: state="\w+")? r:id="(rId\d+)"', workbook
        ).group(1)
        rels = book.read("xl/_rels/workbook.xml.rels").decode()
        target = re.search(rf'<Relationship Id="{rel}" Type="[^"]+" Target="([^"]+)"', rels).group(1)
        return book.read("xl/" + target.lstrip("/").removeprefix("xl/")).decode()


def test_sample_workbook_has_short_titles_plain_headers_hidden_machine_row_and_high_highlight(sample_run):
    import fastexcel

    from caseflags.outputs.workbook import HEADER_ROWS, PLAIN_HEADERS, sheet_name_for

    _, run_dir, _ = sample_run
    path = run_dir / "exceptions.xlsx"
    reader = fastexcel.read_excel(str(path))
    registry = load_registry()
    titles = [n for n in reader.sheet_names if n not in ("Summary", "_caseflags")]
    assert titles and set(titles) <= {check.short_name for check in registry.values()}
    sheet = sheet_name_for("SCHOOL_ATTENDANCE_LOW")
    assert sheet == "Low school attendance"
    rows = reader.load_sheet(sheet, header_row=None, dtypes="string").to_arrow().to_pylist()
    machine, plain = list(rows[0].values()), list(rows[1].values())
    assert {"exception_id", "review_status", "reviewer", "assignee", "owner_name", "priority"} <= set(machine)
    assert plain[machine.index("detail")] == PLAIN_HEADERS["detail"]
    assert plain[machine.index("review_status")] == "Review status (choose)"
    xml = _sheet_xml(path, sheet)
    assert re.search(r'<row r="1"[^>]* hidden="1"', xml)  # the machine names' row
    assert f'<pane ySplit="{HEADER_ROWS}"' in xml or f'ySplit="{HEADER_ROWS}"' in xml
    severity = machine.index("severity")
    letter = chr(ord("A") + severity)
    assert f'${letter}3="HIGH"' in xml.replace("&quot;", '"')  # HIGH rows highlighted
    assert 'wrapText="1"' in zipfile.ZipFile(path).read("xl/styles.xml").decode()
    summary = reader.load_sheet("Summary", header_row=None, dtypes="string").to_arrow().to_pylist()
    texts = [v for row in summary for v in row.values() if v]
    assert any(t.startswith("Children to act on first") for t in texts)


def test_web_export_file_name_says_as_at_and_filters():
    from caseflags.web.app import export_file_name

    assert export_file_name(date(2026, 11, 24), {}, "csv") == "exceptions-2026-11-24.csv"
    assert (
        export_file_name(date(2026, 11, 24), {"check": "GP_NOT_KNOWN", "severity": "HIGH"}, "xlsx")
        == "exceptions-2026-11-24-check_GP_NOT_KNOWN-severity_HIGH.xlsx"
    )
    # a filter value never breaks out of the name
    assert export_file_name(date(2026, 11, 24), {"q": 'a"b/../c'}, "csv") == "exceptions-2026-11-24-q_a_b_c.csv"


def test_persistence_raises_priority_week_by_week(store):
    from datetime import timedelta

    add_child(store, "P1", date(2012, 5, 1), cin_from=date(2026, 3, 2))
    add_social_worker(store, "P1", "SW-P1", date(2026, 3, 2))
    first = AS_AT - timedelta(days=14)
    for as_at in (first, AS_AT):
        run_all_checks(store, as_at.isoformat(), as_at, check_ids=["CIN_PLAN_NOT_SMART"])
        update_lifecycle(store, as_at.isoformat(), as_at)
        record_agency_rows(store, as_at.isoformat(), as_at)
        record_triage(store, as_at.isoformat(), as_at)
    [earlier] = listed_rows(store, first.isoformat())
    [later] = listed_rows(store, RUN)
    assert later["priority"] - earlier["priority"] == 2  # two weeks listed, 1 point a week
    assert "listed 14 days" in later["priority_reason"] and "listed" not in earlier["priority_reason"]


def test_sample_report_lists_the_children_to_act_on_first(sample_run):
    db, run_dir, _ = sample_run
    page = (run_dir / "report.html").read_text()
    assert '<section id="act-first">' in page
    con = duckdb.connect(str(db), read_only=True)
    try:
        top = con.execute("SELECT person_id FROM child_priority ORDER BY rank LIMIT 1").fetchone()[0]
    finally:
        con.close()
    section = page.split('<section id="act-first">')[1].split("</section>")[0]
    assert f"<td>{top}</td>" in section and "PRF" not in section
