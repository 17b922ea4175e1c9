"""Great Expectations data-contract suites (checks/suites.py) on small in-memory stores."""

from __future__ import annotations

from datetime import date

import pytest

from caseflags.contracts import suites
from caseflags.store.database import connect, ensure_store

AS_AT = date(2026, 11, 24)


@pytest.fixture()
def store():
    con = connect()
    ensure_store(con)
    yield con
    con.close()


def relax(con, table: str, varchar_columns: tuple[str, ...] = ()) -> None:
    """Recreate `table` without NOT NULL (and with the given columns as VARCHAR), so a test can
    load what the typed store would refuse, as a table loaded by other means might hold."""
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = $t ORDER BY column_index",
        {"t": table},
    ).fetchall()
    ddl = ", ".join(
        f'"{name}" {"VARCHAR" if name in varchar_columns or data_type.startswith("ENUM(") else data_type}'
        for name, data_type in columns
    )
    con.execute(f'DROP TABLE "{table}"')
    con.execute(f'CREATE TABLE "{table}" ({ddl})')


def load_clean(con) -> None:
    con.execute(
        """
        INSERT INTO ssd_person BY POSITION (pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_surname, pers_dob, pers_sex, pers_send_flag) VALUES
            ('PX100001', NULL, NULL, NULL, NULL, DATE '2014-03-02', 'F', TRUE),
            ('PX100002', NULL, NULL, NULL, NULL, DATE '2012-07-19', 'M', FALSE)
        """
    )
    con.execute(
        """
        INSERT INTO attendance_sessions
        SELECT 'A12345678901' || CAST(i // 20 AS VARCHAR), '100001',
               DATE '2026-09-01' + CAST((i % 20) // 2 AS INTEGER),
               CASE WHEN i % 2 = 0 THEN 'AM' ELSE 'PM' END,
               CASE WHEN i % 3 = 0 THEN '\\' WHEN i % 3 = 1 THEN '/' ELSE 'Y1' END
        FROM range(200) r(i)
        """
    )
    con.execute(
        """
        INSERT INTO meetings VALUES
            ('MT0001', 'PX100001', 'CIN_REVIEW', DATE '2026-10-01', 'HELD', DATE '2026-10-01', NULL, NULL, TRUE),
            ('MT0002', 'PX100001', 'CIN_REVIEW', DATE '2027-01-10', 'SCHEDULED', NULL, NULL, NULL, NULL)
        """
    )
    # Two invitations of the same role without a named professional are not duplicates.
    con.execute(
        """
        INSERT INTO meeting_invitations VALUES
            ('MT0001', 'GP', 'GP', 'PR0001', DATE '2026-09-20', TRUE),
            ('MT0001', 'OTHER', NULL, NULL, DATE '2026-09-20', TRUE),
            ('MT0001', 'OTHER', NULL, NULL, DATE '2026-09-20', FALSE)
        """
    )


def result(results, table, expectation, column=None):
    matches = [r for r in results if r.table_name == table and r.expectation == expectation and r.column_name == column]
    assert len(matches) == 1, (table, expectation, column, results)
    return matches[0]


CLEAN_TABLES = ["ssd_person", "attendance_sessions", "meetings", "meeting_invitations"]


def test_clean_tables_pass_every_expectation(store):
    load_clean(store)
    results = suites.run_contract_suites(store, CLEAN_TABLES, AS_AT, previous_row_counts={"attendance_sessions": 300})
    assert [r for r in results if not r.success] == []
    assert {r.table_name for r in results} == set(CLEAN_TABLES)
    summary = suites.summarise(results)
    assert all(s["contract_passed"] and s["failed"] == 0 for s in summary.values())
    # The typed tables enforce NOT NULL and the code lists themselves: GX does not re-check them.
    assert not [
        r
        for r in results
        if r.expectation
        in (
            "expect_column_values_to_be_in_set",
            "expect_column_values_to_not_be_null",
            "expect_table_columns_to_match_set",
        )
    ]
    # A passing expectation is reported without counts (none were asked of GX).
    assert result(results, "attendance_sessions", "expect_table_row_count_to_be_between").observed == (
        "at least 150 rows; previous delivery 300 rows; minimum 150 (0.5 of previous)"
    )
    assert result(results, "meetings", "expect_column_values_to_be_between", "held_date").observed == "0 unexpected"
    # Without trusting the table's definition, every required column and code list is checked.
    every = suites.run_contract_suites(
        store, CLEAN_TABLES, AS_AT, previous_row_counts={"attendance_sessions": 300}, trust_table_definition=False
    )
    assert [r for r in every if not r.success] == []
    assert result(every, "attendance_sessions", "expect_column_values_to_be_in_set", "attendance_code")
    assert result(every, "meetings", "expect_column_values_to_not_be_null", "scheduled_date")
    assert result(every, "meetings", "expect_table_columns_to_match_set").observed == "all 9 contract columns present"


def test_store_guarantees_read_from_the_catalog(store):
    guaranteed = suites.store_guarantees(store, "attendance_sessions")
    codes = suites.contract_catalog()["attendance_sessions"].code_lists["attendance_code"]
    assert guaranteed.enum_codes["attendance_code"] == frozenset(codes)  # includes the backslash code
    assert {"upn", "session_date", "session", "attendance_code"} <= guaranteed.not_null
    assert guaranteed.proves("in_set", "attendance_code", codes=codes)
    assert not guaranteed.proves("in_set", "attendance_code", codes=codes[1:])  # a code the contract lacks
    relax(store, "attendance_sessions")
    loose = suites.store_guarantees(store, "attendance_sessions")
    assert loose.not_null == frozenset() and loose.enum_codes == {}
    assert not loose.proves("not_null", "upn")


def test_duplicate_keys_are_left_to_ingest_not_a_table_level_failure(store):
    """Keys are enforced row by row at ingest (duplicates quarantined, the rest loaded), so a
    duplicated key no longer fails a whole table's contract."""
    load_clean(store)
    store.execute("INSERT INTO ssd_person SELECT * FROM ssd_person WHERE pers_person_id = 'PX100002'")
    results = suites.run_contract_suites(store, CLEAN_TABLES, AS_AT)
    assert not [r for r in results if "unique" in r.expectation]
    assert suites.failed_tables(results) == []


def test_null_in_required_column_fails_blocking(store):
    relax(store, "ssd_cin_plans")
    store.execute(
        """
        INSERT INTO ssd_cin_plans VALUES
            ('CP0001', 'RF0001', 'PX100001', DATE '2026-01-05', NULL),
            ('CP0002', 'RF0002', NULL, DATE '2026-02-05', NULL)
        """
    )
    results = suites.run_contract_suites(store, ["ssd_cin_plans"], AS_AT)
    missing = result(results, "ssd_cin_plans", "expect_column_values_to_not_be_null", "cinp_person_id")
    assert (missing.success, missing.blocking, missing.observed) == (False, True, "1 unexpected of 2 rows")
    # A nullable column with nulls is fine.
    assert not [r for r in results if r.column_name == "cinp_cin_plan_end_date" and not r.success]
    assert suites.summarise(results)["ssd_cin_plans"]["blocking_failures"] == 1


def test_code_outside_the_list_fails_blocking(store):
    relax(store, "attendance_sessions")
    store.execute(
        """
        INSERT INTO attendance_sessions VALUES
            ('A123456789012', NULL, DATE '2026-09-01', 'AM', '/'),
            ('A123456789012', NULL, DATE '2026-09-01', 'PM', 'ZZ9'),
            ('A123456789012', NULL, DATE '2026-09-02', 'XX', '\\')
        """
    )
    results = suites.run_contract_suites(store, ["attendance_sessions"], AS_AT)
    code = result(results, "attendance_sessions", "expect_column_values_to_be_in_set", "attendance_code")
    assert (code.success, code.blocking, code.observed) == (False, True, "1 unexpected of 3 rows")
    session = result(results, "attendance_sessions", "expect_column_values_to_be_in_set", "session")
    assert (session.success, session.blocking) == (False, True)


def test_implausible_dates_warn_without_blocking(store):
    load_clean(store)
    store.execute(
        """
        INSERT INTO meetings VALUES
            ('MT0003', 'PX100002', 'CIN_MEETING', DATE '1850-01-01', 'HELD', DATE '2026-12-31', NULL, NULL, NULL),
            ('MT0004', 'PX100002', 'CIN_MEETING', DATE '2028-06-01', 'SCHEDULED', NULL, NULL, NULL, NULL)
        """
    )
    store.execute(
        "INSERT INTO ssd_person BY POSITION (pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_surname, pers_dob, pers_sex, pers_send_flag) VALUES ('PX100003', NULL, NULL, NULL, NULL, DATE '2026-11-25', NULL, NULL)"
    )
    results = suites.run_contract_suites(store, ["meetings", "ssd_person"], AS_AT)

    # Scheduled dates may lie up to 400 days ahead; 2027-01-10 is fine, 2028-06-01 and 1850 are not.
    scheduled = result(results, "meetings", "expect_column_values_to_be_between", "scheduled_date")
    assert (scheduled.success, scheduled.blocking, scheduled.observed) == (False, False, "2 unexpected of 4 rows")
    # A held date after the as-at date has not happened yet.
    held = result(results, "meetings", "expect_column_values_to_be_between", "held_date")
    assert (held.success, held.blocking) == (False, False)
    dob = result(results, "ssd_person", "expect_column_values_to_be_between", "pers_dob")
    assert (dob.success, dob.blocking, dob.observed) == (False, False, "1 unexpected of 3 rows")
    assert suites.failed_tables(results) == []

    wider = suites.run_contract_suites(
        store, ["meetings"], AS_AT, date_rules=suites.DateRules(scheduled_horizon_days=600, recorded_grace_days=60)
    )
    assert result(wider, "meetings", "expect_column_values_to_be_between", "scheduled_date").observed == (
        "1 unexpected of 4 rows"
    )
    assert result(wider, "meetings", "expect_column_values_to_be_between", "held_date").success


def test_row_count_below_fraction_of_previous_delivery_fails_blocking(store):
    load_clean(store)  # 200 attendance sessions, 2 meetings
    results = suites.run_contract_suites(
        store,
        ["attendance_sessions", "meetings"],
        AS_AT,
        previous_row_counts={"attendance_sessions": 401, "meetings": 4},
        min_row_fraction=0.5,
    )
    shrunk = result(results, "attendance_sessions", "expect_table_row_count_to_be_between")
    assert (shrunk.success, shrunk.blocking) == (False, True)
    assert shrunk.observed == "200 rows; previous delivery 401 rows; minimum 201 (0.5 of previous)"
    assert result(results, "meetings", "expect_table_row_count_to_be_between").success  # 2 >= 0.5 x 4
    stricter = suites.run_contract_suites(
        store, ["meetings"], AS_AT, previous_row_counts={"meetings": 4}, min_row_fraction=0.9
    )
    assert not result(stricter, "meetings", "expect_table_row_count_to_be_between").success


def test_no_identifier_or_value_appears_in_results_or_store(store):
    relax(store, "ssd_person")
    secret_values = ["PXSECRET77", "A987654321098", "ZZ9", "PRSECRET55", "1850-01-01", "2031-02-03"]
    store.execute(
        """
        INSERT INTO ssd_person BY POSITION (pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_surname, pers_dob, pers_sex, pers_send_flag) VALUES
            ('PXSECRET77', 'A987654321098', NULL, NULL, NULL, DATE '1850-01-01', NULL, NULL),
            ('PXSECRET77', NULL, NULL, NULL, NULL, DATE '2031-02-03', NULL, NULL),
            (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
        """
    )
    relax(store, "meeting_invitations")
    store.execute(
        """
        INSERT INTO meeting_invitations VALUES
            ('MT0001', 'ZZ9', NULL, 'PRSECRET55', NULL, NULL),
            ('MT0001', 'ZZ9', NULL, 'PRSECRET55', NULL, NULL)
        """
    )
    results = suites.run_contract_suites(store, ["ssd_person", "meeting_invitations"], AS_AT)
    # not-null pers_person_id, code list, the pers_dob range (keys are enforced at ingest; pers_dob
    # may be NULL for an unborn child, so "pers_dob or pers_expected_dob" is enforced at ingest too)
    assert len([r for r in results if not r.success]) >= 3
    suites.store_contract_results(store, "run-1", results)
    stored = store.execute("SELECT * FROM contract_results").fetchall()
    text = repr(results) + repr(stored)
    for value in secret_values:
        assert value not in text


def test_results_are_stored_per_run_and_summarised(store):
    load_clean(store)
    # Far smaller than the previous delivery: one blocking failure.
    results = suites.run_contract_suites(
        store, ["ssd_person", "meetings"], AS_AT, previous_row_counts={"ssd_person": 100}
    )
    suites.store_contract_results(store, "run-1", results)
    suites.store_contract_results(store, "run-2", results)
    rows = store.execute(
        """
        SELECT run_id, table_name, count(*), count(*) FILTER (WHERE NOT success AND blocking)
        FROM contract_results GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    summary = suites.summarise(results)
    assert rows == [
        ("run-1", "meetings", summary["meetings"]["expectations"], 0),
        ("run-1", "ssd_person", summary["ssd_person"]["expectations"], 1),
        ("run-2", "meetings", summary["meetings"]["expectations"], 0),
        ("run-2", "ssd_person", summary["ssd_person"]["expectations"], 1),
    ]
    # ssd_person: the row count and its three date ranges (dob, death, expected dob; columns,
    # NOT NULL and codes are the table's own).
    assert summary["ssd_person"] == {"expectations": 4, "failed": 1, "blocking_failures": 1, "contract_passed": False}


def test_gx_sql_path_returns_real_metrics_on_duckdb(store):
    """Pins the duckdb-engine workaround: GX 1.24's SQL engine returns empty metrics on DuckDB
    (GX #10738, #11579) unless the connection keeps its pending result. If a GX, SQLAlchemy or
    duckdb-engine upgrade breaks that, expectations come back 'not evaluated' and this fails."""
    relax(store, "voice_records")
    store.execute(
        """
        INSERT INTO voice_records
        SELECT 'V' || CAST(i AS VARCHAR), CASE WHEN i % 1000 = 7 THEN NULL ELSE 'P1' END,
               DATE '2026-01-01', 'SOCIAL_CARE', 'CHILD_DIRECT', NULL
        FROM range(50000) r(i)
        """
    )
    results = suites.run_contract_suites(store, ["voice_records"], AS_AT, previous_row_counts={"voice_records": 60000})
    assert not [r for r in results if r.observed.startswith("not evaluated")]
    # Whole table, not a sample: GX counted every row.
    missing = result(results, "voice_records", "expect_column_values_to_not_be_null", "person_id")
    assert missing.observed == "50 unexpected of 50000 rows"
    # A passing expectation is reported without counts; a failing one gets them (second pass).
    assert result(results, "voice_records", "expect_table_row_count_to_be_between").observed.startswith("at least")
    again = suites.run_contract_suites(store, ["voice_records"], AS_AT, previous_row_counts={"voice_records": 110000})
    assert result(again, "voice_records", "expect_table_row_count_to_be_between").observed.startswith("50000 rows")
    # The store connection is left open and usable.
    assert store.execute("SELECT count(*) FROM voice_records").fetchall() == [(50000,)]


def test_refuses_to_run_inside_an_open_transaction_and_leaves_it_intact(store):
    """GX reads through its own cursor, which cannot see uncommitted tables: validating inside
    the ingest transaction would silently check the previous delivery, so it is refused."""
    store.execute("BEGIN TRANSACTION")
    load_clean(store)
    with pytest.raises(RuntimeError, match="commit the ingest transaction"):
        suites.run_contract_suites(store, ["attendance_sessions"], AS_AT)
    store.execute("COMMIT")
    results = suites.run_contract_suites(store, ["attendance_sessions"], AS_AT, trust_table_definition=False)
    assert result(results, "attendance_sessions", "expect_column_values_to_not_be_null", "upn").observed == (
        "0 unexpected"
    )


def test_pandas_path_agrees_with_sql_path(store):
    load_clean(store)
    store.execute(
        "INSERT INTO ssd_person BY POSITION (pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_surname, pers_dob, pers_sex, pers_send_flag) VALUES ('PX100001', NULL, NULL, NULL, NULL, DATE '1899-12-31', NULL, NULL)"
    )
    args = (store, ["ssd_person", "attendance_sessions"], AS_AT, {"ssd_person": 10})
    via_sql = suites.run_contract_suites(*args, execution_path="sql")
    via_pandas = suites.run_contract_suites(*args, execution_path="pandas")
    assert [(r.expectation, r.column_name, r.success, r.observed) for r in via_sql] == [
        (r.expectation, r.column_name, r.success, r.observed) for r in via_pandas
    ]
    assert len([r for r in via_sql if not r.success]) == 2  # DOB range, row count


def test_validates_a_staged_copy_under_the_contract_table_name(store):
    load_clean(store)
    store.execute("CREATE TABLE _staged_ssd_person AS SELECT * FROM ssd_person")
    store.execute("INSERT INTO _staged_ssd_person SELECT * FROM ssd_person")
    # The staged copy (4 rows) is judged, not the live table (2): below half of the previous 10.
    staged = suites.run_contract_suites(store, ["ssd_person"], AS_AT, {"ssd_person": 10}, table_prefix="_staged_")
    assert {r.table_name for r in staged} == {"ssd_person"}
    assert suites.failed_tables(staged) == ["ssd_person"]
    assert suites.failed_tables(suites.run_contract_suites(store, ["ssd_person"], AS_AT)) == []


def test_absent_and_unknown_tables(store):
    store.execute("DROP TABLE ehcp_plans")
    results = suites.run_contract_suites(store, ["ehcp_plans"], AS_AT)
    assert [(r.success, r.blocking, r.observed) for r in results] == [(False, True, "table absent from the store")]
    with pytest.raises(ValueError, match="not contract tables"):
        suites.run_contract_suites(store, ["exceptions"], AS_AT)


def test_runs_offline_without_writing_a_gx_project(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    load_clean(store)
    suites.run_contract_suites(store, ["meetings"], AS_AT)
    assert list(tmp_path.iterdir()) == []


def test_suites_cover_every_contract_table():
    catalog = suites.contract_catalog()
    assert set(suites.UNIQUE_KEYS) <= set(catalog)
    for table, key in suites.UNIQUE_KEYS.items():
        assert set(key) <= set(catalog[table].columns), table
    for table, column in suites.DOB_COLUMNS | suites.SCHEDULED_DATE_COLUMNS:
        assert column in catalog[table].date_columns, (table, column)
    assert catalog["attendance_sessions"].required == ("upn", "session_date", "session", "attendance_code")
    assert "\\" in catalog["attendance_sessions"].code_lists["attendance_code"]


def test_escalation_stage_outside_0_to_4_fails_blocking(store):
    store.execute(
        """
        INSERT INTO professional_differences VALUES
            ('PD1', 'PX100001', 'GP', 'SOCIAL_CARE', DATE '2026-10-01', NULL, 0, NULL, NULL),
            ('PD2', 'PX100001', 'GP', 'SOCIAL_CARE', DATE '2026-10-01', NULL, 4, NULL, NULL),
            ('PD3', 'PX100001', 'GP', 'SOCIAL_CARE', DATE '2026-10-01', NULL, 7, NULL, NULL)
        """
    )
    results = suites.run_contract_suites(store, ["professional_differences"], AS_AT)
    stage = result(results, "professional_differences", "expect_column_values_to_be_between", "current_stage")
    assert (stage.success, stage.blocking, stage.observed) == (False, True, "1 unexpected of 3 rows")


def test_the_ephemeral_context_is_not_serialised_after_each_asset(store, monkeypatch):
    """GX 'saves' an ephemeral context's whole configuration as YAML after every asset and batch
    definition (quadratic in the tables; a quarter of the contract stage): caseflags skips that
    save, and every expectation is still validated."""
    from great_expectations.data_context.types.base import DataContextConfig

    load_clean(store)
    dumps = []
    original = DataContextConfig.to_yaml_str
    monkeypatch.setattr(DataContextConfig, "to_yaml_str", lambda self: dumps.append(1) or original(self))
    results = suites.run_contract_suites(store, CLEAN_TABLES, AS_AT, previous_row_counts={"attendance_sessions": 300})
    assert dumps == []
    assert {r.table_name for r in results} == set(CLEAN_TABLES) and all(r.success for r in results)
