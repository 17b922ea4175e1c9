"""Re-export a delivery's `ssd_*` files the way an authority's analyst would, after running the
SSD v1.4.5 scripts (data-to-insight/ssd-data-model): the SSD's full column sets and order (the
SystemC script's CREATE TABLEs), its SQL types (DATETIME, NCHAR padding), then one of the export
tools, written from each tool's documented behaviour:

- `ssms_quoted`: SSMS "Save Results As" CSV with "Quote strings containing list separators" on:
  UTF-8 with BOM, CRLF, `NULL` for a null, DATETIME as `2025-10-16 00:00:00.000`, NCHAR(n) padded
  with spaces, a value quoted only when it holds a comma (its quotes doubled);
- `ssms_unquoted`: the same with that option off (SSMS's default): nothing is quoted, so a JSON
  list's commas look like delimiters;
- `ssms_unicode`: `ssms_quoted` saved as "Unicode": UTF-16 LE with its byte-order mark;
- `sqlcmd_w`: `sqlcmd -s, -W -o file`: header, a dash underline, values trimmed, `NULL`, nothing
  quoted, a blank line and "(N rows affected)", Windows-1252, CRLF;
- `sqlcmd_padded`: `sqlcmd -s,` without -W: header and values padded to the column's width;
- `pg_copy`: PostgreSQL `\\copy (...) TO file CSV HEADER` of the Eclipse script's tables: UTF-8, LF,
  a null as nothing, quoting per RFC 4180 (only when needed), TIMESTAMP as `2025-10-16 00:00:00`,
  CHAR(n) padded, the assessment factors as JSON_BUILD_ARRAY writes them (`null` for each absent
  factor);
- `excel`: an .xlsx workbook (one sheet), dates as Excel dates, text as text.

Columns caseflags adds to an SSD table (prof_agency, prof_practice_code) follow the SSD's own.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import polars as pl

# SSD v1.4.5 (SystemC) column sets, in order, with the types that decide how a tool writes them.
SSD_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "ssd_person": [
        ("pers_legacy_id", "NVARCHAR"),
        ("pers_person_id", "NVARCHAR"),
        ("pers_upn", "NVARCHAR"),
        ("pers_forename", "NVARCHAR"),
        ("pers_surname", "NVARCHAR"),
        ("pers_sex", "NVARCHAR"),
        ("pers_gender", "NVARCHAR"),
        ("pers_ethnicity", "NVARCHAR"),
        ("pers_dob", "DATETIME"),
        ("pers_single_unique_id", "NVARCHAR"),
        ("pers_upn_unknown", "NVARCHAR"),
        ("pers_send_flag", "NCHAR(5)"),
        ("pers_expected_dob", "DATETIME"),
        ("pers_death_date", "DATETIME"),
        ("pers_is_mother", "NCHAR(1)"),
        ("pers_nationality", "NVARCHAR"),
    ],
    "ssd_address": [
        ("addr_table_id", "NVARCHAR"),
        ("addr_person_id", "NVARCHAR"),
        ("addr_address_type", "NVARCHAR"),
        ("addr_address_start_date", "DATETIME"),
        ("addr_address_end_date", "DATETIME"),
        ("addr_address_postcode", "NVARCHAR"),
        ("addr_address_json", "NVARCHAR"),
    ],
    "ssd_disability": [
        ("disa_table_id", "NVARCHAR"),
        ("disa_person_id", "NVARCHAR"),
        ("disa_disability_code", "NVARCHAR"),
    ],
    "ssd_cin_episodes": [
        ("cine_referral_id", "NVARCHAR"),
        ("cine_person_id", "NVARCHAR"),
        ("cine_referral_date", "DATETIME"),
        ("cine_cin_primary_need_code", "NVARCHAR"),
        ("cine_referral_source_code", "NVARCHAR"),
        ("cine_referral_source_desc", "NVARCHAR"),
        ("cine_referral_outcome_json", "NVARCHAR"),
        ("cine_referral_nfa", "NCHAR(1)"),
        ("cine_close_reason", "NVARCHAR"),
        ("cine_close_date", "DATETIME"),
        ("cine_referral_team", "NVARCHAR"),
        ("cine_referral_worker_id", "NVARCHAR"),
    ],
    "ssd_cin_assessments": [
        ("cina_assessment_id", "NVARCHAR"),
        ("cina_person_id", "NVARCHAR"),
        ("cina_referral_id", "NVARCHAR"),
        ("cina_assessment_start_date", "DATETIME"),
        ("cina_assessment_child_seen", "NCHAR(1)"),
        ("cina_assessment_auth_date", "DATETIME"),
        ("cina_assessment_outcome_json", "NVARCHAR"),
        ("cina_assessment_outcome_nfa", "NCHAR(1)"),
        ("cina_assessment_team", "NVARCHAR"),
        ("cina_assessment_worker_id", "NVARCHAR"),
    ],
    "ssd_assessment_factors": [
        ("cinf_table_id", "NVARCHAR"),
        ("cinf_assessment_id", "NVARCHAR"),
        ("cinf_assessment_factors_json", "JSON"),
    ],
    "ssd_cin_plans": [
        ("cinp_cin_plan_id", "NVARCHAR"),
        ("cinp_referral_id", "NVARCHAR"),
        ("cinp_person_id", "NVARCHAR"),
        ("cinp_cin_plan_start_date", "DATETIME"),
        ("cinp_cin_plan_end_date", "DATETIME"),
        ("cinp_cin_plan_team", "NVARCHAR"),
        ("cinp_cin_plan_worker_id", "NVARCHAR"),
    ],
    "ssd_cin_visits": [
        ("cinv_cin_visit_id", "NVARCHAR"),
        ("cinv_person_id", "NVARCHAR"),
        ("cinv_cin_visit_date", "DATETIME"),
        ("cinv_cin_visit_seen", "NCHAR(1)"),
        ("cinv_cin_visit_seen_alone", "NCHAR(1)"),
        ("cinv_cin_visit_bedroom", "NCHAR(1)"),
    ],
    "ssd_s47_enquiry": [
        ("s47e_s47_enquiry_id", "NVARCHAR"),
        ("s47e_referral_id", "NVARCHAR"),
        ("s47e_person_id", "NVARCHAR"),
        ("s47e_s47_start_date", "DATETIME"),
        ("s47e_s47_end_date", "DATETIME"),
        ("s47e_s47_nfa", "NCHAR(1)"),
        ("s47e_s47_outcome_json", "NVARCHAR"),
        ("s47e_s47_completed_by_team", "NVARCHAR"),
        ("s47e_s47_completed_by_worker_id", "NVARCHAR"),
    ],
    "ssd_initial_cp_conference": [
        ("icpc_icpc_id", "NVARCHAR"),
        ("icpc_icpc_meeting_id", "NVARCHAR"),
        ("icpc_s47_enquiry_id", "NVARCHAR"),
        ("icpc_person_id", "NVARCHAR"),
        ("icpc_cp_plan_id", "NVARCHAR"),
        ("icpc_referral_id", "NVARCHAR"),
        ("icpc_icpc_transfer_in", "NCHAR(1)"),
        ("icpc_icpc_target_date", "DATETIME"),
        ("icpc_icpc_date", "DATETIME"),
        ("icpc_icpc_outcome_cp_flag", "NCHAR(1)"),
        ("icpc_icpc_outcome_json", "NVARCHAR"),
        ("icpc_icpc_team", "NVARCHAR"),
        ("icpc_icpc_worker_id", "NVARCHAR"),
    ],
    "ssd_professionals": [
        ("prof_professional_id", "NVARCHAR"),
        ("prof_staff_id", "NVARCHAR"),
        ("prof_professional_name", "NVARCHAR"),
        ("prof_social_worker_registration_no", "NVARCHAR"),
        ("prof_agency_worker_flag", "NCHAR(1)"),
        ("prof_professional_job_title", "NVARCHAR"),
        ("prof_professional_caseload", "INT"),
        ("prof_professional_department", "NVARCHAR"),
        ("prof_full_time_equivalency", "FLOAT"),
    ],
    "ssd_involvements": [
        ("invo_involvements_id", "NVARCHAR"),
        ("invo_professional_id", "NVARCHAR"),
        ("invo_professional_role_id", "NVARCHAR"),
        ("invo_professional_team", "NVARCHAR"),
        ("invo_person_id", "NVARCHAR"),
        ("invo_involvement_start_date", "DATETIME"),
        ("invo_involvement_end_date", "DATETIME"),
        ("invo_worker_change_reason", "NVARCHAR"),
        ("invo_referral_id", "NVARCHAR"),
    ],
    "ssd_linked_identifiers": [
        ("link_table_id", "NVARCHAR"),
        ("link_person_id", "NVARCHAR"),
        ("link_identifier_type", "NVARCHAR"),
        ("link_identifier_value", "NVARCHAR"),
        ("link_valid_from_date", "DATETIME"),
        ("link_valid_to_date", "DATETIME"),
    ],
}

STYLES = ("ssms_quoted", "ssms_unquoted", "ssms_unicode", "sqlcmd_w", "sqlcmd_padded", "pg_copy", "excel")


def ssd_rows(path: Path) -> tuple[list[tuple[str, str]], list[dict]]:
    """The file's rows under the SSD's column set: (columns with types, rows of None-or-text)."""
    table = path.stem
    frame = pl.read_csv(path, infer_schema=False)
    columns = list(SSD_COLUMNS[table])
    known = {c for c, _ in columns}
    columns += [(c, "NVARCHAR") for c in frame.columns if c not in known]  # caseflags' own additions
    rows = []
    for record in frame.iter_rows(named=True):
        rows.append({c: (record.get(c) if record.get(c) not in ("",) else None) for c, _ in columns})
    return columns, rows


def _sql_value(value: str | None, kind: str, style: str) -> str | None:
    """The value as the tool renders it (None: the tool's null)."""
    if value is None:
        return None
    if kind == "DATETIME":
        day = date.fromisoformat(value[:10]).isoformat()
        return f"{day} 00:00:00.000" if style.startswith(("ssms", "sqlcmd")) else f"{day} 00:00:00"
    if kind.startswith("NCHAR("):
        width = int(kind[6:-1])
        return value.ljust(width)
    if kind == "JSON":
        codes = json.loads(value) if value.startswith("[") else value.split(",")
        if style == "pg_copy":  # JSON_BUILD_ARRAY: a null for each absent factor, ", " between items
            return json.dumps([*codes, None, None])
        return "[" + ", ".join(f'"{c}"' for c in codes) + "]"  # SystemC's STUFF(... ', "' + code + '"')
    return value


def _ssms_field(text: str, quoted: bool) -> str:
    if quoted and "," in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _rfc4180(text: str) -> str:
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def export_file(source: Path, folder: Path, style: str) -> Path:
    """Write `source` (an ssd_* CSV of the contract) as `style` into `folder`; returns the file."""
    columns, rows = ssd_rows(source)
    names = [c for c, _ in columns]
    values = [[_sql_value(r[c], kind, style) for c, kind in columns] for r in rows]
    table = source.stem
    if style == "excel":
        out = folder / f"{table}.xlsx"
        data = {}
        for i, (c, kind) in enumerate(columns):
            col = [v[i] for v in values]
            if kind == "DATETIME":
                data[c] = pl.Series(c, [None if x is None else date.fromisoformat(x[:10]) for x in col], dtype=pl.Date)
            else:
                data[c] = pl.Series(c, col, dtype=pl.Utf8)
        pl.DataFrame(data).write_excel(out, autofit=False)
        return out
    out = folder / f"{table}.csv"
    if style in ("ssms_quoted", "ssms_unquoted", "ssms_unicode"):
        quoted = style != "ssms_unquoted"
        lines = [",".join(names)]
        lines += [",".join("NULL" if v is None else _ssms_field(v, quoted) for v in row) for row in values]
        text = "\r\n".join(lines) + "\r\n"
        if style == "ssms_unicode":
            out.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
        else:
            out.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
        return out
    if style in ("sqlcmd_w", "sqlcmd_padded"):
        cells = [["NULL" if v is None else v for v in row] for row in values]
        widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
        if style == "sqlcmd_w":
            header = ",".join(names)
            underline = ",".join("-" * len(n) for n in names)
            body = [",".join(r) for r in cells]
        else:
            header = ",".join(n.ljust(w) for n, w in zip(names, widths))
            underline = ",".join("-" * w for w in widths)
            body = [",".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
        trailer = f"({len(cells)} rows affected)"
        text = "\r\n".join([header, underline, *body, "", trailer]) + "\r\n"
        out.write_bytes(text.encode("cp1252"))
        return out
    if style == "pg_copy":
        lines = [",".join(_rfc4180(n) for n in names)]
        lines += [",".join("" if v is None else _rfc4180(v) for v in row) for row in values]
        out.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        return out
    raise ValueError(style)


def reexport(delivery: Path, folder: Path, style: str) -> Path:
    """A copy of `delivery` whose ssd_* files are re-exported in `style` (the rest as delivered)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(delivery.iterdir()):
        if path.is_dir():
            continue
        if path.name.startswith("ssd_") and path.suffix == ".csv":
            export_file(path, folder, style)
        else:
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
