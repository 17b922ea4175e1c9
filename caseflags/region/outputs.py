"""Regional outputs in `<region out>/<as-at>/`: exceptions.csv, report.html and region.json.

exceptions.csv has the usual columns (OUTPUTS.md) plus `la_code`: every cross-border exception
once per authority it is routed to, then the exception lists of the authorities whose sharing
basis is "exceptions". The report puts the authorities side by side (status, counts per check,
change since the previous regional run) and lists the cross-border exceptions by authority.
Per-authority reports are not touched. Every file is owner-only.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from caseflags.outputs.files import escape, write_csv, write_text
from caseflags.outputs.lifecycle import CONTRACT_CSV_COLUMNS, update_lifecycle
from caseflags.private_files import private_dir

REGION_CSV_COLUMNS = (*CONTRACT_CSV_COLUMNS, "la_code")  # no priority or owner: those are each authority's


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or {})
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def cross_border_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    return _rows(con, """
        SELECT *, split_part(entity_id, '/', 1) AS la_code
        FROM exceptions_listed WHERE run_id = $run_id
        ORDER BY check_id, la_code, agency, person_id NULLS LAST, entity_id
    """, {"run_id": run_id})


def write_region_outputs(con: duckdb.DuckDBPyConnection, run_id: str, as_at: date, out: Path,
                         record: dict) -> Path:
    update_lifecycle(con, run_id, as_at)
    run_dir = private_dir(private_dir(out) / as_at.isoformat())
    crossing = cross_border_rows(con, run_id)
    shared = _rows(con, """
        SELECT *, CAST(as_at AS VARCHAR) AS as_at FROM region_authority_exceptions WHERE as_at = $as_at
        ORDER BY la_code, check_id, agency, person_id NULLS LAST, entity_id
    """, {"as_at": as_at})
    write_csv(run_dir / "exceptions.csv", REGION_CSV_COLUMNS, crossing + shared)
    write_text(run_dir / "report.html", render_region_report(con, as_at, crossing, record))
    write_text(run_dir / "region.json", json.dumps(record, indent=2, default=str))
    return run_dir


def _table(headers: list[str], rows: list[list], empty: str = "None.") -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_region_report(con: duckdb.DuckDBPyConnection, as_at: date, crossing: list[dict], record: dict) -> str:
    authorities = _rows(con, "SELECT * FROM region_authorities ORDER BY la_code")
    codes = [a["la_code"] for a in authorities]
    previous = con.execute("SELECT max(as_at) FROM region_check_counts WHERE as_at < ?", [as_at]).fetchone()[0]
    counts = {(r["la_code"], r["as_at"], r["check_id"]): r for r in _rows(
        con, "SELECT * FROM region_check_counts WHERE as_at = $now OR as_at = $before", {"now": as_at, "before": previous})}
    checks = sorted({key[2] for key in counts})
    status_rows = [[a["la_code"], a["name"], a["status"], a["reason"] or "", a["sharing"],
                    a["people_shared"] if a["people_shared"] is not None else "",
                    f"{a['seconds']:.0f}" if a["seconds"] else ""] for a in authorities]
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
                trend = "" if before is None or before["exception_count"] is None else f" ({now['exception_count'] - before['exception_count']:+d})"
                line.append(f"{now['exception_count']}{trend}")
        side_by_side.append(line)
    by_authority = []
    for code in codes:
        mine = [r for r in crossing if r["la_code"] == code]
        by_authority.append(f"<h3>{escape(code)}: {len(mine)} cross-border exceptions</h3>" + _table(
            ["check", "severity", "owner", "id here", "entity", "detail"],
            [[r["check_id"], r["severity"], r["agency"], r["person_id"] or "", r["entity_id"], r["detail"]] for r in mine]))
    links = record.get("linkage", {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>caseflags region {escape(as_at.isoformat())}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #bbb;padding:3px 6px;text-align:left;font-size:90%}}th{{background:#eee}}</style></head>
<body>
<h1>{escape(record.get("region", "Region"))}: as at {escape(as_at.isoformat())}</h1>
<h2>Authorities</h2>
{_table(["LA", "name", "run", "reason", "sharing", "people shared", "seconds"], status_rows)}
<h2>Exceptions per check, side by side</h2>
<p>Change since the previous regional run ({escape(str(previous) if previous else "none")}) in brackets.</p>
{_table(["check", *codes], side_by_side)}
<h2>Cross-border children</h2>
<p>Links across authorities by method: {escape(json.dumps(links.get("links_by_method", {})))};
possible matches for officers: {escape(str(links.get("possible_matches", 0)))}.</p>
{"".join(by_authority)}
</body></html>
"""
