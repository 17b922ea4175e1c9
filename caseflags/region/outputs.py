"""Regional outputs in `<region out>/<as-at>/`: exceptions.csv, report.html and region.json.

exceptions.csv has the usual columns (OUTPUTS.md) plus `la_code`: every cross-border exception
once per authority it is routed to, then the exception lists of the authorities whose sharing
basis is "exceptions". The report puts the authorities side by side (status, counts per check,
change since the previous regional run) and lists the cross-border exceptions by authority; it is
templates/region_report.html.j2 (caseflags.outputs.templating: every value escaped, the style sheet
templates/region.css inlined, nothing loaded).
Per-authority reports are not touched. Every file is owner-only.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from caseflags.outputs.files import write_csv, write_text
from caseflags.outputs.lifecycle import CONTRACT_CSV_COLUMNS, update_lifecycle
from caseflags.outputs.templating import environment, inline_asset
from caseflags.private_files import private_dir

_PACKAGE = "caseflags.region"
REGION_CSV_COLUMNS = (*CONTRACT_CSV_COLUMNS, "la_code")  # no priority or owner: those are each authority's


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or {})
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def cross_border_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    return _rows(
        con,
        """
        SELECT *, split_part(entity_id, '/', 1) AS la_code
        FROM exceptions_listed WHERE run_id = $run_id
        ORDER BY check_id, la_code, agency, person_id NULLS LAST, entity_id
    """,
        {"run_id": run_id},
    )


def write_region_outputs(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date, out: Path, record: dict) -> Path:
    update_lifecycle(con, run_id, as_at)
    run_dir = private_dir(private_dir(out) / as_at.isoformat())
    crossing = cross_border_rows(con, run_id)
    shared = _rows(
        con,
        """
        SELECT *, CAST(as_at AS VARCHAR) AS as_at FROM region_authority_exceptions WHERE as_at = $as_at
        ORDER BY la_code, check_id, agency, person_id NULLS LAST, entity_id
    """,
        {"as_at": as_at},
    )
    write_csv(run_dir / "exceptions.csv", REGION_CSV_COLUMNS, crossing + shared)
    write_text(run_dir / "report.html", render_region_report(con, as_at, crossing, record))
    write_text(run_dir / "region.json", json.dumps(record, indent=2, default=str))
    return run_dir


def render_region_report(con: duckdb.DuckDBPyConnection, as_at: date, crossing: list[dict], record: dict) -> str:
    return render_region_page(region_report_values(con, as_at, crossing, record))


def render_region_page(values: dict) -> str:
    """report.html from its values (`region_report_values`): templates/region_report.html.j2, style inlined."""
    return (
        environment(_PACKAGE)
        .get_template("region_report.html.j2")
        .render(values, css=inline_asset(_PACKAGE, "region.css"))
    )


def region_report_values(con: duckdb.DuckDBPyConnection, as_at: date, crossing: list[dict], record: dict) -> dict:
    """What the region's report.html shows, as plain values (the template escapes them)."""
    authorities = _rows(con, "SELECT * FROM region_authorities ORDER BY la_code")
    codes = [a["la_code"] for a in authorities]
    previous = con.execute("SELECT max(as_at) FROM region_check_counts WHERE as_at < ?", [as_at]).fetchone()[0]
    counts = {
        (r["la_code"], r["as_at"], r["check_id"]): r
        for r in _rows(
            con,
            "SELECT * FROM region_check_counts WHERE as_at = $now OR as_at = $before",
            {"now": as_at, "before": previous},
        )
    }
    checks = sorted({key[2] for key in counts})
    status_rows = [
        [
            a["la_code"],
            a["name"],
            a["status"],
            a["reason"] or "",
            a["sharing"],
            a["people_shared"] if a["people_shared"] is not None else "",
            f"{a['seconds']:.0f}" if a["seconds"] else "",
        ]
        for a in authorities
    ]
    side_by_side = []
    for check_id in checks:
        line = [check_id]
        for code in codes:
            now = counts.get((code, as_at, check_id))
            before = counts.get((code, previous, check_id)) if previous else None
            if now is None:
                line.append("no run")
            elif now["status"] != "EVALUATED":
                line.append("not evaluated")
            else:
                trend = (
                    ""
                    if before is None or before["exception_count"] is None
                    else f" ({now['exception_count'] - before['exception_count']:+d})"
                )
                line.append(f"{now['exception_count']}{trend}")
        side_by_side.append(line)
    by_authority = [
        {
            "la_code": code,
            "rows": [
                [r["check_id"], r["severity"], r["agency"], r["person_id"] or "", r["entity_id"], r["detail"]]
                for r in crossing
                if r["la_code"] == code
            ],
        }
        for code in codes
    ]
    links = record.get("linkage", {})
    return {
        "as_at": as_at,
        "region": record.get("region", "Region"),
        "status_rows": status_rows,
        "codes": codes,
        "previous": previous,
        "side_by_side": side_by_side,
        "by_authority": by_authority,
        "links_by_method": json.dumps(links.get("links_by_method", {})),
        "possible_matches": links.get("possible_matches", 0),
    }
