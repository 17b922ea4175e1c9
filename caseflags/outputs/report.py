"""report.html: one self-contained page for a run (inline CSS and JS, no network).

Charts are drawn in the browser as inline SVG from the data embedded in the page (a JSON
script block); every chart's numbers are also in a table next to it, so the page reads without
scripts too. The script marks `<body data-charts-drawn="N">` once it has drawn N charts.
Quarantine appears as counts by file, column and reason: raw lines hold personal data and are
only in quarantine.csv.

The page is `templates/report.html.j2` (the Linkage section `report_linkage.html.j2`), its style
`report.css` and its script `report.js`, both inlined when the page is written. This module only
gathers the values: the store's facts for the run, then the tables and counts the page shows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import duckdb

from caseflags.linkage.parameters import describe_model
from caseflags.outputs.templating import environment, inline_asset
from caseflags.resources import sql_text

TREND_RUNS = 60  # runs shown in the trend chart
_PACKAGE = "caseflags.outputs"


@dataclass(frozen=True)
class Table:
    """One table of the page: column headers, rows (values in header order), the numeric columns
    (right-aligned) and the sentence shown instead of an empty table."""

    headers: tuple[str, ...]
    rows: list[list]
    numeric: Collection[int] = ()
    empty: str = "None."


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    cursor = con.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def render_report(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    summary: dict,
    listed_rows: list[dict],
    good_practice_rows: list[dict] | None,
    delivery: dict | None = None,
    refused_files: list[dict] | None = None,
) -> str:
    """report.html for the run: the store's facts, the page's values, then the template."""
    return render_page(
        report_page(
            run_id, as_at, summary, listed_rows, good_practice_rows, delivery, refused_files, **store_facts(con, run_id)
        )
    )


def render_page(page: dict) -> str:
    """The page from its values (`report_page`), style and script inlined: one file that loads nothing."""
    return (
        environment(_PACKAGE)
        .get_template("report.html.j2")
        .render(page, css=inline_asset(_PACKAGE, "report.css"), script=inline_asset(_PACKAGE, "report.js"))
    )


def store_facts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    """What the page reads from the store about the run (its own SQL files in sql/outputs/report/)."""
    params = {"run_id": run_id}
    run = _fetch(con, sql_text("outputs/report/run.sql"), params)
    return {
        "run": {"status": None, "started_at": None, "finished_at": None, **(run[0] if run else {})},
        "trend": _fetch(con, sql_text("outputs/report/trend.sql"), {**params, "limit": TREND_RUNS})[::-1],
        "quarantine": _fetch(con, sql_text("outputs/report/quarantine_summary.sql"), params),
        "loads": _fetch(con, sql_text("outputs/report/loads.sql"), params),
        "contract_by_table": _fetch(con, sql_text("outputs/report/contract_by_table.sql"), params),
        "contract_failures": _fetch(con, sql_text("outputs/report/contract_failures.sql"), params),
        "warnings": _fetch(con, sql_text("outputs/report/warnings_summary.sql"), params),
        "linkage": linkage_facts(con, run_id),
    }


def report_page(
    run_id: str,
    as_at: date,
    summary: dict,
    listed_rows: list[dict],
    good_practice_rows: list[dict] | None,
    delivery: dict | None,
    refused_files: list[dict] | None,
    *,
    run: dict,
    trend: list[dict],
    quarantine: list[dict],
    loads: list[dict],
    contract_by_table: list[dict],
    contract_failures: list[dict],
    warnings: list[dict],
    linkage: dict,
) -> dict:
    """The template's values: every count, table and chart series of the page."""
    concern_items, agency_items = _chart_items(summary)
    not_evaluated = [c for c in summary["counts_by_check"] if c["status"] != "EVALUATED"]
    return {
        "run_id": run_id,
        "as_at": as_at,
        "run": run,
        "previous_run_id": summary["previous_run_id"],
        "delivery": delivery,
        "untrustworthy": untrustworthy_loads(loads),
        "not_evaluated_count": len(not_evaluated),
        "totals": summary["totals"],
        "severity_counts": {s: sum(1 for r in listed_rows if r["severity"] == s) for s in ("HIGH", "MEDIUM", "LOW")},
        "carried": sum(1 for r in listed_rows if r["evaluated_as_at"] < r["as_at"]),
        "marked": sum(1 for r in listed_rows if r["review_status"] in ("FALSE_POSITIVE", "ACCEPTED_RISK")),
        "act_first": Table(
            ("rank", "child", "priority", "why", "open concerns", "agencies", "social worker"),
            [
                [
                    c["rank"],
                    c["person_id"],
                    c["priority"],
                    c["priority_reason"],
                    c["concerns"],
                    c["agencies"],
                    c["social_worker_name"] or "no allocated worker",
                ]
                for c in summary.get("children_first", [])
            ],
            {0, 2},
            "No child has a listed exception.",
        ),
        "trend": Table(
            ("as at", "run", "NEW", "OPEN", "RESOLVED"),
            [[t["as_at"], t["run_id"], t["new"], t["open"], t["resolved"]] for t in trend],
            {2, 3, 4},
        ),
        "by_concern": Table(
            ("concern", "checks", "NEW", "OPEN", "RESOLVED"),
            [[i["label"], ", ".join(i["checks"]), i["NEW"], i["OPEN"], i["RESOLVED"]] for i in concern_items],
            {2, 3, 4},
            "No exceptions listed.",
        ),
        "by_agency": Table(
            ("agency", "NEW", "OPEN", "RESOLVED"),
            [[i["label"], i["NEW"], i["OPEN"], i["RESOLVED"]] for i in agency_items],
            {1, 2, 3},
            "No exceptions listed.",
        ),
        "by_check": Table(
            ("check", "concern", "status", "NEW", "OPEN", "RESOLVED", "listed"),
            [
                [c["check_id"], c["concern"], c["status"], c["new"], c["open"], c["resolved"], c["listed"]]
                for c in summary["counts_by_check"]
            ],
            {3, 4, 5, 6},
            "No check results recorded.",
        ),
        "good_practice": good_practice(good_practice_rows),
        "not_evaluated": Table(
            ("check", "concern", "why", "exceptions carried"),
            [[c["check_id"], c["concern"], c["reason"], c["listed"]] for c in not_evaluated],
            {3},
            "Every check was evaluated.",
        ),
        "ledger": ledger(loads),
        "refused_files": None
        if refused_files is None
        else Table(
            ("file", "reason"),
            [[r["file"], r["reason"]] for r in refused_files],
            empty="None: every delivered file was read.",
        ),
        "quarantined": sum(q["rows"] for q in quarantine),
        "quarantine": Table(
            ("table", "file", "column", "reason", "rows"),
            [[q["table_name"], q["file"], q["column_name"], q["reason"], q["rows"]] for q in quarantine],
            {4},
            "No rows quarantined.",
        ),
        "loads": Table(
            ("table", "file", "status", "reason", "read", "loaded", "quarantined", "data as at"),
            [
                [
                    l["table_name"],
                    l["file"],
                    l["status"],
                    l["reason"],
                    l["rows_read"],
                    l["rows_loaded"],
                    l["rows_quarantined"],
                    l["delivered_as_at"],
                ]
                for l in loads
            ],
            {4, 5, 6},
            "No extract load records for this run.",
        ),
        "contract_by_table": Table(
            ("table", "expectations", "failed", "blocking failed"),
            [[c["table_name"], c["expectations"], c["failed"], c["blocking_failed"]] for c in contract_by_table],
            {1, 2, 3},
            "No data-contract results recorded for this run.",
        ),
        # Failed expectations are listed only when the run has contract results at all.
        "contract_failures": Table(
            ("table", "expectation", "column", "blocking", "observed"),
            [
                [f["table_name"], f["expectation"], f["column_name"], "yes" if f["blocking"] else "no", f["observed"]]
                for f in contract_failures
            ],
            empty="Every expectation passed.",
        )
        if contract_by_table
        else None,
        "linkage": linkage,
        "warnings_total": sum(r["warnings"] for r in warnings),
        "warnings": Table(
            ("table", "file", "element", "reason", "warnings"),
            [[r["table_name"], r["file"], r["column_name"], r["reason"], r["warnings"]] for r in warnings],
            {4},
            "No data-quality warnings.",
        ),
        "chart_data": {
            "trend": [
                {
                    "as_at": t["as_at"].isoformat(),
                    "NEW": t["new"] or 0,
                    "OPEN": t["open"] or 0,
                    "RESOLVED": t["resolved"] or 0,
                }
                for t in trend
            ],
            "by_concern": [{"label": i["label"], "NEW": i["NEW"], "OPEN": i["OPEN"]} for i in concern_items],
            "by_agency": [{"label": i["label"], "NEW": i["NEW"], "OPEN": i["OPEN"]} for i in agency_items],
        },
    }


def _chart_items(summary: dict) -> tuple[list[dict], list[dict]]:
    """Listed exceptions (NEW + OPEN) by concern and by agency, largest first."""
    by_concern: dict[str, dict] = {}
    for c in summary["counts_by_check"]:
        key = c["concern"] or c["check_id"]
        item = by_concern.setdefault(key, {"label": key, "checks": [], "NEW": 0, "OPEN": 0, "RESOLVED": 0})
        item["checks"].append(c["check_id"])
        item["NEW"] += c["new"]
        item["OPEN"] += c["open"]
        item["RESOLVED"] += c["resolved"]
    concern_items = sorted(
        (i for i in by_concern.values() if i["NEW"] + i["OPEN"]), key=lambda i: (-(i["NEW"] + i["OPEN"]), i["label"])
    )
    agency_items = sorted(
        (
            {"label": a["agency"], "NEW": a["new"], "OPEN": a["open"], "RESOLVED": a["resolved"]}
            for a in summary["counts_by_agency"]
            if a["listed"]
        ),
        key=lambda i: (-(i["NEW"] + i["OPEN"]), i["label"]),
    )
    return concern_items, agency_items


def untrustworthy_loads(loads: list[dict]) -> list[dict]:
    """The tables refused as untrustworthy (rows read but almost none loaded;
    ingest.stage.untrustworthy_reason): when any, the headline says the night cannot be called good."""
    return [l for l in loads if l["status"] == "REFUSED" and str(l.get("reason") or "").startswith("untrustworthy")]


def ledger(loads: list[dict]) -> dict:
    """The ledger per delivered extract (from `extract_loads`): records read = loaded +
    quarantined (+ withheld: rows of a table whose data contract failed, so none was published).
    `unbalanced` names each table that does not balance (a banner above the table)."""
    rows, unbalanced = [], []
    for load in loads:
        read, loaded, quarantined = load["rows_read"], load["rows_loaded"], load["rows_quarantined"]
        if load["status"] not in ("LOADED", "UNCHANGED", "FAILED_CONTRACT") or read is None:
            continue
        withheld = read - loaded - quarantined if load["status"] == "FAILED_CONTRACT" else 0
        balanced = read == loaded + quarantined + withheld and withheld >= 0
        if not balanced:
            unbalanced.append(load)
        rows.append(
            [
                load["table_name"],
                load["file"],
                load["status"],
                read,
                loaded,
                quarantined,
                withheld,
                "yes" if balanced else "NO",
            ]
        )
    table = Table(
        ("table", "file", "status", "read", "loaded", "quarantined", "withheld", "balanced"),
        rows,
        {3, 4, 5, 6},
        "No extract was read this run.",
    )
    return {"table": table, "unbalanced": unbalanced}


def good_practice(good_practice_rows: list[dict] | None) -> dict | None:
    """Children per practice seen, then each practice's children with the evidence; None when
    good practice was not derived for the run."""
    if good_practice_rows is None:
        return None
    by_practice: dict[str, list[dict]] = {}
    for g in good_practice_rows:
        by_practice.setdefault(str(g.get("practice")), []).append(g)
    practices = sorted(by_practice.items())
    return {
        "summary": Table(
            ("practice", "children"),
            [[p, len(v)] for p, v in practices],
            {1},
            "No good practice found in the data for this run.",
        ),
        "details": [
            (
                p,
                len(items),
                Table(
                    ("child", "evidence"),
                    [
                        [g.get("person_id"), g.get("evidence")]
                        for g in sorted(items, key=lambda g: str(g.get("person_id")))
                    ],
                ),
            )
            for p, items in practices
        ],
    }


def linkage_facts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    """The linkage model (method, date, parameters, expected quality) and this run's DOB warnings.

    Parameters and counts only: no names, dates of birth or identifiers (docs/LINKAGE.md).
    """
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    model = describe_model(con) if "linkage_model" in tables else None
    facts: dict = {"model": None, "warnings": None}
    if model is not None:
        facts["model"] = {
            "trained_at": model["trained_at"],
            "training_method": model["training_method"],
            "labelled_pairs": model["labelled_pairs"],
            "label_weight": model["label_weight"],
            "em_sessions": "; ".join(model["em_sessions"]) or "none",
            "quality": Table(
                ("threshold", "expected precision", "expected recall", "labelled pairs", "basis"),
                [
                    [
                        f"{q['threshold_name']} {q['threshold']}",
                        q["expected_precision"],
                        q["expected_recall"],
                        q["labelled_pairs"],
                        q["basis"],
                    ]
                    for q in model["expected_quality"]
                ],
                {1, 2, 3},
            ),
            "levels": Table(
                ("comparison", "level", "m", "u", "match weight"),
                [
                    [
                        lv["comparison"],
                        lv["label"],
                        round(lv["m_probability"], 4),
                        round(lv["u_probability"], 6),
                        None if lv["match_weight"] is None else round(lv["match_weight"], 2),
                    ]
                    for lv in model["levels"]
                ],
                {2, 3, 4},
            ),
        }
    if "data_quality_warnings" in tables:
        warnings = con.execute(sql_text("linkage/warnings_by_reason.sql"), {"run_id": run_id}).fetchall()
        facts["warnings"] = Table(
            ("table", "column", "reason", "rows"),
            [list(w) for w in warnings],
            {3},
            "None: every value loaded as delivered.",
        )
    return facts


def linkage_section(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """The report's Linkage section on its own (the same template the page includes)."""
    return environment(_PACKAGE).get_template("report_linkage.html.j2").render(linkage=linkage_facts(con, run_id))
