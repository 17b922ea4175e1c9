"""Exception lifecycle over consecutive runs: NEW -> OPEN -> RESOLVED, carried when not
evaluated, annotations carried over, the store views, and exceptions.csv as OUTPUTS.md has it.

Runs are built by inserting `runs`, `check_runs` and `exceptions` rows directly (the check SQL is
tested elsewhere); exception ids are made the way the runner makes them.
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from datetime import date, datetime, timedelta

import pytest

from caseflags.outputs.lifecycle import CSV_COLUMNS, update_lifecycle
from caseflags.outputs.review_import import import_review
from caseflags.outputs.run_outputs import write_run_outputs
from caseflags.outputs.workbook import LEGACY_WORKBOOK_FORMAT, SHEET_NAME_LIMIT, sheet_name_for

DAY1, DAY2, DAY3 = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)


def exception_id(check_id: str, person_id: str, agency: str, entity_type: str, entity_id: str) -> str:
    key = "|".join((check_id, person_id or "", agency, entity_type, entity_id))
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def exc(
    check_id,
    person_id,
    agency="SOCIAL_CARE",
    entity_type="child",
    entity_id=None,
    detail=None,
    locator=None,
    severity="HIGH",
    concern=None,
) -> dict:
    entity_id = entity_id or person_id
    return {
        "exception_id": exception_id(check_id, person_id, agency, entity_type, entity_id),
        "check_id": check_id,
        "concern": concern or f"Concern of {check_id}",
        "severity": severity,
        "person_id": person_id,
        "agency": agency,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "detail": detail or f"{check_id} raised for {entity_id}: act on it.",
        "locator": locator or f"record {entity_id}",
    }


def record_run(con, run_id: str, as_at: date, raised: list[dict], checks: dict[str, str | tuple[str, str]]) -> None:
    """One run as the pipeline leaves it: a runs row, check_runs per check (status or
    (status, reason)), and the raised exceptions."""
    started = datetime.combine(as_at, datetime.min.time()) + timedelta(hours=2)
    con.execute("DELETE FROM runs WHERE run_id = $r", {"r": run_id})
    con.execute(
        "INSERT INTO runs VALUES ($r, $d, $s, $f, 'COMPLETED', NULL, NULL)",
        {"r": run_id, "d": as_at, "s": started, "f": started + timedelta(minutes=7)},
    )
    con.execute("DELETE FROM check_runs WHERE run_id = $r", {"r": run_id})
    con.execute("DELETE FROM exceptions WHERE run_id = $r", {"r": run_id})
    for check_id, outcome in checks.items():
        status, reason = outcome if isinstance(outcome, tuple) else (outcome, None)
        count = sum(1 for e in raised if e["check_id"] == check_id)
        con.execute(
            "INSERT INTO check_runs VALUES ($r, $c, $s, $reason, $n)",
            {"r": run_id, "c": check_id, "s": status, "reason": reason, "n": count},
        )
    for e in raised:
        con.execute(
            """INSERT INTO exceptions VALUES ($run_id, $as_at, $exception_id, $check_id, $concern, $severity,
               $person_id, $agency, $entity_type, $entity_id, $detail, $locator)""",
            {"run_id": run_id, "as_at": as_at, **e},
        )


def history(con, run_id: str) -> dict[str, tuple]:
    rows = con.execute(
        "SELECT exception_id, status, first_seen, evaluated_as_at FROM exception_history WHERE run_id = $r",
        {"r": run_id},
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def read_csv(path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


# The three nightly runs on changing data:
#   STAYS        raised in runs 1, 2, 3                -> NEW, OPEN, OPEN (annotated after run 1)
#   GOES         raised in runs 1, 2, not 3            -> NEW, OPEN, RESOLVED
#   LATE         raised in run 3 only                  -> NEW in run 3
#   PAUSED       check not evaluated in run 2          -> NEW, carried OPEN, then RESOLVED in run 3
STAYS = exc("VOICE_OF_CHILD_ABSENT", "C1")
GOES = exc("GP_NOT_KNOWN", "C2")
LATE = exc("GP_NOT_KNOWN", "C3")
PAUSED = exc("SCHOOL_ATTENDANCE_LOW", "C4", agency="EDUCATION", severity="MEDIUM")
ALL_EVALUATED = {
    "VOICE_OF_CHILD_ABSENT": "EVALUATED",
    "GP_NOT_KNOWN": "EVALUATED",
    "SCHOOL_ATTENDANCE_LOW": "EVALUATED",
}
RUN2_CHECKS = {
    **ALL_EVALUATED,
    "SCHOOL_ATTENDANCE_LOW": ("NOT_EVALUATED", "input table attendance_sessions: absent from the store"),
}


def test_three_runs_new_open_resolved_with_annotation_carried(store, tmp_path):
    from test_review_import import edit_cells, find_row

    record_run(store, "run-1", DAY1, [STAYS, GOES, PAUSED], ALL_EVALUATED)
    counts1 = update_lifecycle(store, "run-1", DAY1)
    out1 = write_run_outputs(store, "run-1", DAY1, tmp_path / "1")
    assert (counts1.new, counts1.open, counts1.resolved) == (3, 0, 0)

    # An officer marks STAYS as in hand in run 1's workbook, then imports it.
    cell_row = find_row(out1.exceptions_xlsx, "VOICE_OF_CHILD_ABSENT", STAYS["exception_id"])
    edit_cells(
        out1.exceptions_xlsx,
        "VOICE_OF_CHILD_ABSENT",
        {("review_status", cell_row): "IN_HAND", ("review_note", cell_row): "Voice work booked with school"},
    )
    summary = import_review(store, out1.exceptions_xlsx, now=datetime(2026, 11, 23, 10, 30))
    assert summary.annotations_added == 1

    record_run(store, "run-2", DAY2, [STAYS, GOES], RUN2_CHECKS)
    counts2 = update_lifecycle(store, "run-2", DAY2)
    assert (counts2.new, counts2.open, counts2.resolved, counts2.carried) == (0, 3, 0, 1)
    h2 = history(store, "run-2")
    assert h2[PAUSED["exception_id"]] == ("OPEN", DAY1, DAY1)  # carried, not resolved: check not evaluated

    record_run(store, "run-3", DAY3, [STAYS, LATE], ALL_EVALUATED)
    update_lifecycle(store, "run-3", DAY3)
    out3 = write_run_outputs(store, "run-3", DAY3, tmp_path / "3")

    h1, h3 = history(store, "run-1"), history(store, "run-3")
    assert [h[GOES["exception_id"]][0] for h in (h1, h2, h3)] == ["NEW", "OPEN", "RESOLVED"]
    assert [h[STAYS["exception_id"]][0] for h in (h1, h2, h3)] == ["NEW", "OPEN", "OPEN"]
    assert h3[LATE["exception_id"]][:2] == ("NEW", DAY3)
    assert h3[PAUSED["exception_id"]][0] == "RESOLVED"

    header, rows = read_csv(out3.exceptions_csv)
    assert header == list(CSV_COLUMNS)
    by_id = {r["exception_id"]: r for r in rows}
    assert set(by_id) == {STAYS["exception_id"], LATE["exception_id"]}  # resolved ones are not listed
    stays = by_id[STAYS["exception_id"]]
    assert (stays["status"], stays["first_seen"], stays["as_at"]) == ("OPEN", "2026-11-23", "2026-11-25")
    assert (stays["review_status"], stays["review_note"]) == ("IN_HAND", "Voice work booked with school")
    assert by_id[LATE["exception_id"]]["review_status"] == "UNREVIEWED"

    status = dict(store.execute("SELECT exception_id, status FROM exception_status").fetchall())
    assert status[GOES["exception_id"]] == "RESOLVED"
    resolved_on = store.execute(
        "SELECT resolved_on, last_seen FROM exception_status WHERE exception_id = $e", {"e": GOES["exception_id"]}
    ).fetchone()
    assert resolved_on == (DAY3, DAY2)


def test_not_evaluated_exceptions_stay_listed_in_the_files(store, tmp_path):
    record_run(store, "run-1", DAY1, [STAYS, PAUSED], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    record_run(store, "run-2", DAY2, [STAYS], RUN2_CHECKS)
    update_lifecycle(store, "run-2", DAY2)
    out = write_run_outputs(store, "run-2", DAY2, tmp_path)
    _, rows = read_csv(out.exceptions_csv)
    paused = [r for r in rows if r["exception_id"] == PAUSED["exception_id"]]
    assert len(paused) == 1 and paused[0]["status"] == "OPEN" and paused[0]["detail"] == PAUSED["detail"]
    html = out.report_html.read_text()
    assert "input table attendance_sessions: absent from the store" in html

    # Not evaluated again in run 3: still carried (from run 2's carried row).
    record_run(store, "run-3", DAY3, [STAYS], RUN2_CHECKS)
    update_lifecycle(store, "run-3", DAY3)
    assert history(store, "run-3")[PAUSED["exception_id"]] == ("OPEN", DAY1, DAY1)


def test_a_check_missing_from_check_runs_is_not_taken_as_resolved(store):
    record_run(store, "run-1", DAY1, [STAYS, GOES], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    record_run(store, "run-2", DAY2, [STAYS], {"VOICE_OF_CHILD_ABSENT": "EVALUATED"})
    update_lifecycle(store, "run-2", DAY2)
    assert history(store, "run-2")[GOES["exception_id"]][0] == "OPEN"


def test_rerun_of_the_same_run_is_idempotent(store):
    record_run(store, "run-1", DAY1, [STAYS, GOES], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    record_run(store, "run-2", DAY2, [STAYS, LATE], ALL_EVALUATED)
    first = update_lifecycle(store, "run-2", DAY2)
    before = sorted(store.execute("SELECT * FROM exception_history ORDER BY ALL").fetchall())
    again = update_lifecycle(store, "run-2", DAY2)
    after = sorted(store.execute("SELECT * FROM exception_history ORDER BY ALL").fetchall())
    assert first == again and before == after
    assert store.execute("SELECT count(*) FROM lifecycle_runs").fetchone()[0] == 2
    assert (first.new, first.open, first.resolved) == (1, 1, 1)


def test_an_exception_raised_again_after_resolving_is_new_with_its_first_seen_kept(store):
    record_run(store, "run-1", DAY1, [GOES], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    record_run(store, "run-2", DAY2, [], ALL_EVALUATED)
    update_lifecycle(store, "run-2", DAY2)
    record_run(store, "run-3", DAY3, [GOES], ALL_EVALUATED)
    update_lifecycle(store, "run-3", DAY3)
    assert history(store, "run-3")[GOES["exception_id"]][:2] == ("NEW", DAY1)


def test_store_views_for_consumers(store):
    record_run(store, "run-1", DAY1, [STAYS, GOES], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    record_run(store, "run-2", DAY2, [STAYS, LATE], ALL_EVALUATED)
    update_lifecycle(store, "run-2", DAY2)

    cursor = store.execute("SELECT * FROM exceptions_current ORDER BY exception_id")
    assert tuple(c[0] for c in cursor.description) == CSV_COLUMNS
    current = cursor.fetchall()
    assert {r[0] for r in current} == {STAYS["exception_id"], LATE["exception_id"]}
    assert all(r[CSV_COLUMNS.index("as_at")] == DAY2 for r in current)

    history_rows = store.execute(
        "SELECT run_id, as_at, status, new, open, resolved FROM run_history ORDER BY as_at"
    ).fetchall()
    assert history_rows == [("run-1", DAY1, "COMPLETED", 2, 0, 0), ("run-2", DAY2, "COMPLETED", 1, 1, 1)]


def test_false_positive_stays_listed_marked_until_it_expires(store, tmp_path):
    from test_review_import import edit_cells, find_row

    record_run(store, "run-1", DAY1, [STAYS], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    out = write_run_outputs(store, "run-1", DAY1, tmp_path / "1")
    row = find_row(out.exceptions_xlsx, "VOICE_OF_CHILD_ABSENT", STAYS["exception_id"])
    edit_cells(
        out.exceptions_xlsx,
        "VOICE_OF_CHILD_ABSENT",
        {("review_status", row): "FALSE_POSITIVE", ("review_note", row): "Child's voice recorded on paper file"},
    )
    import_review(store, out.exceptions_xlsx, now=datetime(2026, 11, 23, 9, 0), expiry_days=2)
    assert store.execute("SELECT expires_on FROM annotations").fetchone()[0] == date(2026, 11, 25)

    record_run(store, "run-2", DAY2, [STAYS], ALL_EVALUATED)
    update_lifecycle(store, "run-2", DAY2)
    _, rows = read_csv(write_run_outputs(store, "run-2", DAY2, tmp_path / "2").exceptions_csv)
    assert [(r["exception_id"], r["review_status"]) for r in rows] == [(STAYS["exception_id"], "FALSE_POSITIVE")]

    record_run(store, "run-3", DAY3, [STAYS], ALL_EVALUATED)
    update_lifecycle(store, "run-3", DAY3)
    _, rows = read_csv(write_run_outputs(store, "run-3", DAY3, tmp_path / "3").exceptions_csv)
    assert [(r["review_status"], r["review_note"]) for r in rows] == [
        ("UNREVIEWED", "Child's voice recorded on paper file")
    ]


def test_files_are_owner_only(store, tmp_path):
    record_run(store, "run-1", DAY1, [STAYS, PAUSED], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    out_dir = tmp_path / "reports" / "2026-11-23"
    write_run_outputs(store, "run-1", DAY1, out_dir)
    paths = [out_dir, *out_dir.rglob("*")]
    assert len([p for p in paths if p.is_file()]) == 7  # csv, xlsx, report + 2 agencies x (csv, xlsx)
    for path in paths:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_outputs_need_the_lifecycle_first(store, tmp_path):
    record_run(store, "run-1", DAY1, [STAYS], ALL_EVALUATED)
    with pytest.raises(ValueError, match="update_lifecycle"):
        write_run_outputs(store, "run-1", DAY1, tmp_path)


def test_csv_cells_that_spreadsheets_would_run_as_formulas_are_kept_as_text(store, tmp_path):
    risky = exc("GP_NOT_KNOWN", "C9", detail='=HYPERLINK("http://x")', locator="-1 record")
    record_run(store, "run-1", DAY1, [risky], ALL_EVALUATED)
    update_lifecycle(store, "run-1", DAY1)
    _, rows = read_csv(write_run_outputs(store, "run-1", DAY1, tmp_path).exceptions_csv)
    assert rows[0]["detail"] == '\'=HYPERLINK("http://x")' and rows[0]["locator"] == "'-1 record"


def test_sheet_names_fit_excel_and_stay_stable():
    long_ids = [
        "PERPLEXING_PRESENTATION_UNASSESSED",
        "PERPLEXING_PRESENTATION_UNASSESSED_2",
        "ICPC_CANCELLATION_NOT_COMMUNICATED",
    ]
    names = [sheet_name_for(c) for c in long_ids]
    assert all(len(n) <= SHEET_NAME_LIMIT for n in names)
    assert len(set(names)) == len(names)
    assert names == [sheet_name_for(c) for c in long_ids]
    # a catalogue check's sheet is its short name; a v1 workbook's names are kept for its import
    assert sheet_name_for("GP_NOT_KNOWN") == "GP not known"
    assert sheet_name_for("GP_NOT_KNOWN", LEGACY_WORKBOOK_FORMAT) == "GP_NOT_KNOWN"
    assert (
        sheet_name_for("ICPC_CANCELLATION_NOT_COMMUNICATED", LEGACY_WORKBOOK_FORMAT)
        == "ICPC_CANCELLATION_NOT_COMM~7555"
    )
