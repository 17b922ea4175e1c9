"""The Great-Expectations-only baseline: four design-card checks as a team using GX alone writes them.

Such a team has no SQL rule files. It reads the store tables it needs into pandas, shapes one
frame per check (one row per entity the rule judges: an agency's record, a child, a meeting),
and states the rule as a GX expectation on a column of that frame. The exception list is GX's
unexpected rows, asked for with `result_format` COMPLETE and `unexpected_index_column_names`
(person_id, agency, entity_id): that is how a GX-only team gets the children to act on.

| check | frame: one row per | expectation |
|---|---|---|
| `CIN_EHCP_FLAG_MISSING` | agency holding a record of a CiN child with an active EHCP | `ExpectColumnValuesToBeInSet(has_flag, [True])` |
| `SOCIAL_WORKER_CHANGES_FREQUENT` | CiN child with a CW allocation in the window | `ExpectColumnValuesToBeBetween(worker_count, max=threshold-1)` |
| `GP_NOT_INVITED` | CiN meeting in the window while the child had a GP | `ExpectColumnValuesToBeInSet(gp_invited, [True])` |
| `SCHOOL_ATTENDANCE_LOW` | school-age CiN child with possible sessions | `ExpectColumnPairValuesAToBeGreaterThanB(possible_x_pct, missed_x100)` |

The rules are the catalogue's (`checks/<ID>.toml`, thresholds from the registry and
the configuration); the people are matched only through the store's link tables, as the SQL
checks do. The bench asserts the unexpected rows equal the SQL checks' exception rows.
Synthetic data only: the rows are returned to the caller, never logged.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pandas as pd

FOUR_CHECKS = ("CIN_EHCP_FLAG_MISSING", "SOCIAL_WORKER_CHANGES_FREQUENT", "GP_NOT_INVITED", "SCHOOL_ATTENDANCE_LOW")
KEY_COLUMNS = ["person_id", "agency", "entity_id"]

# Store columns each check reads (a GX-only team reads what it needs, whole tables).
NEEDED_COLUMNS = {
    "ssd_person": ["pers_person_id", "pers_send_flag", "pers_dob"],
    "ssd_cin_plans": ["cinp_person_id", "cinp_cin_plan_start_date", "cinp_cin_plan_end_date"],
    "ehcp_plans": ["ehcp_id", "upn", "named_plan_start_date", "ceased_date"],
    "person_identifiers": ["person_id", "identifier_type", "identifier_value"],
    "person_links": ["agency", "agency_record_id", "person_id"],
    "agency_flags": ["agency", "agency_record_id", "flag_type", "start_date", "end_date"],
    "ssd_involvements": [
        "invo_person_id",
        "invo_professional_id",
        "invo_professional_role_id",
        "invo_involvement_start_date",
        "invo_involvement_end_date",
    ],
    "meetings": ["meeting_id", "person_id", "meeting_type", "scheduled_date", "status", "held_date"],
    "meeting_invitations": ["meeting_id", "invitee_role", "agency"],
    "gp_registrations": ["nhs_number", "registered_from", "registered_to"],
    "attendance_sessions": ["upn", "session_date", "attendance_code"],
    "attendance_summaries": ["upn", "period_start", "period_end", "possible_sessions", "present_sessions"],
}

# Session codes by class (EXTRACTS.md); anything else is "not a possible session".
ATTENDING = ("/", "\\", "L", "K", "V", "P", "W", "B")
AUTHORISED = ("C", "C1", "C2", "M", "J1", "S", "T", "R", "I", "E")
UNAUTHORISED = ("G", "N", "O", "U")


@dataclass
class GxOnlyResult:
    rows: dict[str, set[tuple[str, str, str]]]
    seconds: dict[str, float] = field(default_factory=dict)  # read, prepare, validate, total
    frame_rows: dict[str, int] = field(default_factory=dict)


def read_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Every table the four checks need, whole, as pandas frames (code lists as plain text)."""
    frames = {}
    for table, columns in NEEDED_COLUMNS.items():
        select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' if _is_enum(con, table, c) else f'"{c}"' for c in columns)
        frames[table] = con.sql(f'SELECT {select} FROM "{table}"').df()
    return frames


def _is_enum(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    kinds = con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
    ).fetchall()
    return bool(kinds) and kinds[0][0].startswith("ENUM")


# --- frames: one row per judged entity ---------------------------------------------------------


def _open_on(start: pd.Series, end: pd.Series, day: pd.Timestamp, start_may_be_blank: bool = False) -> pd.Series:
    started = start <= day
    if start_may_be_blank:
        started = started | start.isna()
    return started & (end.isna() | (end > day))


def cin_children(t: dict[str, pd.DataFrame], day: pd.Timestamp) -> pd.Index:
    plans = t["ssd_cin_plans"]
    open_plans = plans[_open_on(plans["cinp_cin_plan_start_date"], plans["cinp_cin_plan_end_date"], day)]
    return pd.Index(open_plans["cinp_person_id"].unique())


def _identifiers(t: dict[str, pd.DataFrame], kind: str) -> pd.DataFrame:
    ids = t["person_identifiers"]
    return ids.loc[ids["identifier_type"] == kind, ["person_id", "identifier_value"]]


def flag_frame(t: dict[str, pd.DataFrame], day: pd.Timestamp, cin: pd.Index) -> pd.DataFrame:
    plans = t["ehcp_plans"]
    active = plans[_open_on(plans["named_plan_start_date"], plans["ceased_date"], day)]
    with_child = active.merge(_identifiers(t, "UPN"), left_on="upn", right_on="identifier_value")
    cin_with_ehcp = pd.Index(with_child["person_id"].unique()).intersection(cin)

    people = t["ssd_person"]
    social_care = people[people["pers_person_id"].isin(cin_with_ehcp)]
    social_care = pd.DataFrame(
        {
            "person_id": social_care["pers_person_id"],
            "agency": "SOCIAL_CARE",
            "entity_id": social_care["pers_person_id"] + ":EHCP",
            "has_flag": social_care["pers_send_flag"].eq(True).fillna(False).astype(bool),
        }
    )

    links = t["person_links"]
    partner = links[links["person_id"].isin(cin_with_ehcp) & (links["agency"] != "SOCIAL_CARE")]
    partner = partner.groupby(["person_id", "agency"], as_index=False)["agency_record_id"].min()
    flags = t["agency_flags"]
    open_cin = flags[(flags["flag_type"] == "CIN") & _open_on(flags["start_date"], flags["end_date"], day, True)]
    flagged = open_cin.merge(links, on=["agency", "agency_record_id"])[["person_id", "agency"]].drop_duplicates()
    partner = partner.merge(flagged.assign(has_flag=True), on=["person_id", "agency"], how="left")
    partner = pd.DataFrame(
        {
            "person_id": partner["person_id"],
            "agency": partner["agency"],
            "entity_id": partner["agency_record_id"] + ":CIN",
            "has_flag": partner["has_flag"].eq(True).fillna(False).astype(bool),
        }
    )
    return pd.concat([social_care, partner], ignore_index=True)


def worker_frame(t: dict[str, pd.DataFrame], day: pd.Timestamp, cin: pd.Index, window_days: int) -> pd.DataFrame:
    window_start = day - pd.Timedelta(days=window_days - 1)
    inv = t["ssd_involvements"]
    in_window = inv[
        (inv["invo_professional_role_id"] == "CW")
        & inv["invo_person_id"].isin(cin)
        & (inv["invo_involvement_start_date"] <= day)
        & (inv["invo_involvement_end_date"].isna() | (inv["invo_involvement_end_date"] > window_start))
    ]
    counts = in_window.groupby("invo_person_id")["invo_professional_id"].nunique()
    return pd.DataFrame(
        {
            "person_id": counts.index.astype(str),
            "agency": "SOCIAL_CARE",
            "entity_id": counts.index.astype(str),
            "worker_count": counts.to_numpy(),
        }
    )


def meeting_frame(t: dict[str, pd.DataFrame], day: pd.Timestamp, cin: pd.Index, window_days: int) -> pd.DataFrame:
    window_start = day - pd.Timedelta(days=window_days - 1)
    m = t["meetings"]
    m = m[
        m["meeting_type"].isin(["CIN_MEETING", "CIN_REVIEW"])
        & m["status"].isin(["HELD", "SCHEDULED"])
        & m["person_id"].isin(cin)
    ].copy()
    m["meeting_date"] = m["scheduled_date"].where(m["status"] != "HELD", m["held_date"].fillna(m["scheduled_date"]))
    m = m[(m["meeting_date"] >= window_start) & (m["meeting_date"] <= day)]

    registrations = (
        m[["meeting_id", "person_id", "meeting_date"]]
        .merge(_identifiers(t, "NHS_NUMBER"), on="person_id")
        .merge(t["gp_registrations"], left_on="identifier_value", right_on="nhs_number")
    )
    current = (registrations["registered_from"] <= registrations["meeting_date"]) & (
        registrations["registered_to"].isna() | (registrations["registered_to"] > registrations["meeting_date"])
    )
    m = m[m["meeting_id"].isin(registrations.loc[current, "meeting_id"])]
    invitations = t["meeting_invitations"]
    gp_invited = invitations.loc[(invitations["invitee_role"] == "GP") | (invitations["agency"] == "GP"), "meeting_id"]
    return pd.DataFrame(
        {
            "person_id": m["person_id"],
            "agency": "SOCIAL_CARE",
            "entity_id": m["meeting_id"],
            "gp_invited": m["meeting_id"].isin(gp_invited),
        }
    )


def _academic_year_start(day: date) -> date:
    return date(day.year - (1 if day.month < 9 else 0), 9, 1)


def attendance_frame(
    t: dict[str, pd.DataFrame], as_at: date, cin: pd.Index, pct: int, min_possible: int
) -> pd.DataFrame:
    current_start = _academic_year_start(as_at)
    previous_start = date(current_start.year - 1, 9, 1)
    windows = {
        "current": (pd.Timestamp(current_start), pd.Timestamp(as_at)),
        "previous": (pd.Timestamp(previous_start), pd.Timestamp(current_start - timedelta(days=1))),
    }

    # Compulsory school age: aged 5 to 15 on the 31 August before as-at.
    people = t["ssd_person"]
    people = people[people["pers_person_id"].isin(cin) & people["pers_dob"].notna()]
    aug31 = pd.Timestamp(current_start - timedelta(days=1))
    dob = people["pers_dob"]
    age = aug31.year - dob.dt.year - ((dob.dt.month * 100 + dob.dt.day) > (aug31.month * 100 + aug31.day)).astype(int)
    school_age = people.loc[age.between(5, 15), "pers_person_id"]
    pupils = _identifiers(t, "UPN")
    pupils = pupils[pupils["person_id"].isin(school_age)].rename(columns={"identifier_value": "upn"})

    sessions = t["attendance_sessions"]
    sessions = sessions[
        (sessions["session_date"] >= windows["previous"][0]) & (sessions["session_date"] <= windows["current"][1])
    ]
    sessions = sessions.merge(pupils, on="upn")
    code = sessions["attendance_code"]
    sessions = pd.DataFrame(
        {
            "person_id": sessions["person_id"],
            "window_name": (sessions["session_date"] >= windows["current"][0]).map(
                {True: "current", False: "previous"}
            ),
            "possible": code.isin(ATTENDING + AUTHORISED + UNAUTHORISED).astype(int),
            "missed": code.isin(AUTHORISED + UNAUTHORISED).astype(int),
        }
    )
    by_sessions = sessions.groupby(["person_id", "window_name"], as_index=False)[["possible", "missed"]].sum()

    summaries = t["attendance_summaries"].merge(pupils, on="upn")
    per_window = []
    for name, (start, end) in windows.items():
        overlapping = summaries[(summaries["period_start"] <= end) & (summaries["period_end"] >= start)]
        per_window.append(
            pd.DataFrame(
                {
                    "person_id": overlapping["person_id"],
                    "window_name": name,
                    "possible": overlapping["possible_sessions"],
                    "missed": overlapping["possible_sessions"] - overlapping["present_sessions"],
                }
            )
        )
    by_summaries = (
        pd.concat(per_window).groupby(["person_id", "window_name"], as_index=False)[["possible", "missed"]].sum()
    )

    # Sessions when the child has any in the window; otherwise the overlapping summaries.
    both = by_sessions.merge(
        by_summaries, on=["person_id", "window_name"], how="outer", suffixes=("", "_summary"), indicator=True
    )
    from_summaries = both["_merge"] == "right_only"
    both["possible"] = both["possible"].where(~from_summaries, both["possible_summary"])
    both["missed"] = both["missed"].where(~from_summaries, both["missed_summary"])
    both = both[["person_id", "window_name", "possible", "missed"]]

    # This academic year once it has enough possible sessions; before that the previous one.
    wide = both.pivot(index="person_id", columns="window_name", values="possible")
    current_possible = wide.get("current", pd.Series(0, index=wide.index)).fillna(0)
    previous_possible = wide.get("previous", pd.Series(0, index=wide.index)).fillna(0)
    chosen = pd.Series("current", index=wide.index)
    chosen[(current_possible < min_possible) & (previous_possible > 0)] = "previous"
    chosen = chosen.rename("window_name").reset_index()
    judged = both.merge(chosen, on=["person_id", "window_name"])
    judged = judged[judged["possible"] > 0]
    return pd.DataFrame(
        {
            "person_id": judged["person_id"],
            "agency": "EDUCATION",
            "entity_id": judged["person_id"],
            # missed * 100 >= pct * possible is an exception; integers, so exactly the threshold counts.
            "possible_x_pct": (judged["possible"] * pct).astype("int64"),
            "missed_x100": (judged["missed"] * 100).astype("int64"),
        }
    )


def check_frames(t: dict[str, pd.DataFrame], as_at: date, thresholds: dict[str, dict]):
    """(frame, expectation) per check."""
    import great_expectations as gx

    day = pd.Timestamp(as_at)
    cin = cin_children(t, day)
    workers = thresholds["SOCIAL_WORKER_CHANGES_FREQUENT"]
    gp = thresholds["GP_NOT_INVITED"]
    attendance = thresholds["SCHOOL_ATTENDANCE_LOW"]
    return {
        "CIN_EHCP_FLAG_MISSING": (
            flag_frame(t, day, cin),
            gx.expectations.ExpectColumnValuesToBeInSet(column="has_flag", value_set=[True]),
        ),
        "SOCIAL_WORKER_CHANGES_FREQUENT": (
            worker_frame(t, day, cin, int(workers["window_days"])),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="worker_count", max_value=int(workers["max_social_workers"]) - 1
            ),
        ),
        "GP_NOT_INVITED": (
            meeting_frame(t, day, cin, int(gp["window_days"])),
            gx.expectations.ExpectColumnValuesToBeInSet(column="gp_invited", value_set=[True]),
        ),
        "SCHOOL_ATTENDANCE_LOW": (
            attendance_frame(
                t, as_at, cin, int(attendance["persistent_absence_pct"]), int(attendance["min_possible_sessions"])
            ),
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(column_A="possible_x_pct", column_B="missed_x100"),
        ),
    }


# --- GX ----------------------------------------------------------------------------------------


def _context():
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx.get_context(mode="ephemeral")


def validate(frames) -> dict[str, set[tuple[str, str, str]]]:
    """Run each check's expectation through GX; its unexpected rows are the exceptions."""
    import great_expectations as gx

    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": KEY_COLUMNS}
    context = _context()
    source = context.data_sources.add_pandas("gx_only")
    rows = {}
    for check_id, (frame, expectation) in frames.items():
        asset = source.add_dataframe_asset(check_id)
        batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
        suite = context.suites.add(gx.ExpectationSuite(name=check_id, expectations=[expectation]))
        validation = batch.validate(suite, result_format=result_format)
        found = set()
        for outcome in validation.results:
            if (outcome.exception_info or {}).get("raised_exception"):
                raise RuntimeError(f"{check_id}: GX could not evaluate {outcome.expectation_config.type}")
            for index in outcome.result.get("unexpected_index_list") or []:
                found.add(tuple(str(index[c]) for c in KEY_COLUMNS))
        rows[check_id] = found
    return rows


def run(con: duckdb.DuckDBPyConnection, as_at: date, thresholds: dict[str, dict]) -> GxOnlyResult:
    """Read, shape, validate; seconds per phase."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = read_tables(con)
        read_done = time.perf_counter()
        frames = check_frames(tables, as_at, thresholds)
        prepared = time.perf_counter()
        rows = validate(frames)
    finished = time.perf_counter()
    return GxOnlyResult(
        rows=rows,
        seconds={
            "read": read_done - started,
            "prepare": prepared - read_done,
            "validate": finished - prepared,
            "total": finished - started,
        },
        frame_rows={check_id: len(frame) for check_id, (frame, _) in frames.items()},
    )


def default_thresholds(overrides: dict[str, dict] | None = None) -> dict[str, dict]:
    from caseflags.checking.registry import load_registry

    registry = load_registry()
    overrides = overrides or {}
    return {check_id: registry[check_id].threshold_values(overrides.get(check_id)) for check_id in FOUR_CHECKS}
