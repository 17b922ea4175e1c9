"""exceptions.xlsx: a Summary sheet, one sheet per check with the review columns to fill in, and
a hidden `_caseflags` sheet naming the format, run and scope that review import checks.

A check's sheet is titled with the check's short name (catalogue `short_name`). Its first row
holds the machine column names and is hidden (review import reads it); the second row holds the
plain headers people read. Rows come in priority order, HIGH rows highlighted, detail wrapped.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

from caseflags.checking.registry import load_registry
from caseflags.outputs.agencies import agency_columns
from caseflags.outputs.files import SafeWorkbook
from caseflags.outputs.files import workbook as safe_workbook
from caseflags.outputs.lifecycle import CSV_COLUMNS, REVIEW_STATUSES

# v2: sheets titled by short name, a hidden row of machine names above the plain headers.
WORKBOOK_FORMAT = "caseflags-exceptions-v2"
LEGACY_WORKBOOK_FORMAT = "caseflags-exceptions-v1"  # still imported
SUMMARY_SHEET = "Summary"
META_SHEET = "_caseflags"
# Review columns and the values the workbook was exported with (hidden), which let an import
# tell an officer's edit from an untouched row of an older file.
EXPORTED_STATUS_COLUMN = "_exported_review_status"
EXPORTED_NOTE_COLUMN = "_exported_review_note"
IMPORT_KEY_COLUMNS = (
    "exception_id",
    "check_id",
    "review_status",
    "review_note",
    EXPORTED_STATUS_COLUMN,
    EXPORTED_NOTE_COLUMN,
)
SHEET_NAME_LIMIT = 31  # Excel's limit on a worksheet name


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def legacy_sheet_name_for(check_id: str) -> str:
    """A v1 workbook's sheet name: the id itself, or (over Excel's 31 characters) a stable shortening."""
    if len(check_id) <= SHEET_NAME_LIMIT:
        return check_id
    digest = hashlib.sha1(check_id.encode()).hexdigest()[:4]
    return f"{check_id[: SHEET_NAME_LIMIT - 5]}~{digest}"


def sheet_name_for(check_id: str, workbook_format: str = WORKBOOK_FORMAT) -> str:
    """The check's sheet title: its catalogue short name (<= 31 characters, unique), else the id
    (shortened as v1 did when too long). `workbook_format` v1 gives the v1 names."""
    if workbook_format == LEGACY_WORKBOOK_FORMAT:
        return legacy_sheet_name_for(check_id)
    check = load_registry().get(check_id)
    return check.short_name if check is not None and check.short_name else legacy_sheet_name_for(check_id)


# Plain headers, shown above the machine names' hidden row.
PLAIN_HEADERS = {
    "exception_id": "Exception id",
    "check_id": "Check",
    "concern": "Concern",
    "severity": "Severity",
    "person_id": "Child (LA id)",
    "agency_record_ids": "Your record ids",
    "agency": "Agency that acts",
    "entity_type": "Record type",
    "entity_id": "Record",
    "detail": "What is wrong and what to do",
    "locator": "Where to find it",
    "first_seen": "First seen",
    "status": "New or open",
    "review_status": "Review status (choose)",
    "review_note": "Review note (type)",
    "as_at": "As at",
    "priority": "Priority",
    "priority_reason": "Why this priority",
    "owner_name": "Owner",
    "owner_team": "Owner's team",
    "central_queue_reason": "Why in the central queue",
    "social_worker_name": "Social worker",
    "social_worker_team": "Social worker's team",
    "reviewer": "Last reviewed by",
    "assignee": "Assigned to",
    "evaluated_as_at": "Checked as at",
    "last_review": "Last review",
    EXPORTED_STATUS_COLUMN: "(exported status)",
    EXPORTED_NOTE_COLUMN: "(exported note)",
}


def _last_review_text(row: dict) -> str | None:
    if row.get("last_review_status") is None:
        return None
    text = f"{row['last_review_status']} on {row['last_annotated_at'].date().isoformat()}"
    if row.get("review_expires_on") is not None:
        verb = "expired" if row.get("review_expired") else "expires"
        text += f", {verb} {row['review_expires_on'].isoformat()}"
    return text


def _sheet_columns(for_agency: str | None) -> tuple[str, ...]:
    columns = list(agency_columns(for_agency) if for_agency else CSV_COLUMNS)
    # who reviewed and who is assigned: officers' names, in the officers' (whole) workbook only
    people = () if for_agency else ("reviewer", "assignee")
    return (*columns, *people, "evaluated_as_at", "last_review", EXPORTED_STATUS_COLUMN, EXPORTED_NOTE_COLUMN)


_WIDTHS = {
    "exception_id": 18,
    "check_id": 30,
    "concern": 40,
    "severity": 9,
    "person_id": 14,
    "agency_record_ids": 20,
    "agency": 16,
    "entity_type": 16,
    "entity_id": 22,
    "detail": 90,
    "locator": 40,
    "first_seen": 11,
    "status": 8,
    "review_status": 20,
    "review_note": 40,
    "as_at": 11,
    "evaluated_as_at": 15,
    "last_review": 34,
    "priority": 9,
    "priority_reason": 45,
    "owner_name": 22,
    "owner_team": 22,
    "central_queue_reason": 36,
    "social_worker_name": 22,
    "social_worker_team": 22,
    "reviewer": 18,
    "assignee": 18,
}
WRAPPED = ("detail", "priority_reason", "locator", "review_note", "central_queue_reason")
HEADER_ROWS = 2  # the hidden machine names, then the plain headers


def write_workbook(
    path: Path,
    rows: list[dict],
    summary: dict,
    for_agency: str | None,
) -> None:
    """exceptions.xlsx (or an agency's, with `for_agency`) through the shared safe writer."""
    with safe_workbook(path) as workbook:
        # Created "as at": the same rows make the same bytes, so an unchanged file is not rewritten.
        workbook.set_properties({"created": datetime.combine(summary["as_at"], datetime.min.time())})
        _fill_workbook(workbook, rows, summary, for_agency)


def _fill_workbook(workbook: SafeWorkbook, rows: list[dict], summary: dict, for_agency: str | None) -> None:
    columns = _sheet_columns(for_agency)
    fmt_header = workbook.add_format(
        {"bold": True, "bg_color": "#DDE4EE", "border": 1, "text_wrap": True, "valign": "top"}
    )
    fmt_editable_header = workbook.add_format(
        {"bold": True, "bg_color": "#FFE699", "border": 1, "text_wrap": True, "valign": "top"}
    )
    fmt_editable = workbook.add_format({"bg_color": "#FFF7D6", "locked": False})
    fmt_date = workbook.add_format({"num_format": "yyyy-mm-dd"})
    fmt_marked = workbook.add_format({"font_color": "#7F7F7F", "italic": True})
    fmt_title = workbook.add_format({"bold": True, "font_size": 14})
    fmt_bold = workbook.add_format({"bold": True})
    fmt_link = workbook.add_format({"font_color": "blue", "underline": 1})

    _write_summary_sheet(workbook, summary, rows, for_agency, fmt_title, fmt_bold, fmt_header, fmt_link)

    by_check: dict[str, list[dict]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    fmt_wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    fmt_high = workbook.add_format({"bg_color": "#F8D7DA"})
    status_col = columns.index("review_status")
    status_letter = column_letter(status_col)
    severity_letter = column_letter(columns.index("severity"))
    first = HEADER_ROWS + 1  # Excel row number of the first data row
    registry = load_registry()
    order = {check_id: i for i, check_id in enumerate(registry)}
    for check_id in sorted(by_check, key=lambda c: (order.get(c, len(order)), c)):
        sheet = workbook.add_worksheet(sheet_name_for(check_id))
        check_rows = by_check[check_id]
        for col, name in enumerate(columns):
            editable = name in ("review_status", "review_note")
            sheet.write_string(0, col, name)
            sheet.write_string(
                1,
                col,
                PLAIN_HEADERS.get(name, name.replace("_", " ").capitalize()),
                fmt_editable_header if editable else fmt_header,
            )
            hidden = name in (EXPORTED_STATUS_COLUMN, EXPORTED_NOTE_COLUMN)
            cell_format = fmt_editable if editable else (fmt_wrap if name in WRAPPED else None)
            sheet.set_column(col, col, _WIDTHS.get(name, 14), cell_format, {"hidden": hidden})
        sheet.set_row(0, None, None, {"hidden": True})  # machine names, for review import
        for r, row in enumerate(check_rows, start=HEADER_ROWS):
            values = {
                **row,
                "last_review": _last_review_text(row),
                EXPORTED_STATUS_COLUMN: row["review_status"],
                EXPORTED_NOTE_COLUMN: row["review_note"],
            }
            for col, name in enumerate(columns):
                value = values.get(name)
                if name in ("review_status", "review_note"):
                    sheet.write_string(r, col, value or "", fmt_editable)
                elif isinstance(value, date):
                    sheet.write_datetime(r, col, datetime.combine(value, datetime.min.time()), fmt_date)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    sheet.write_number(r, col, value)
                elif value is not None:
                    sheet.write_string(r, col, str(value), fmt_wrap if name in WRAPPED else None)
        last_row = HEADER_ROWS + len(check_rows) - 1
        sheet.freeze_panes(HEADER_ROWS, 1)
        sheet.autofilter(1, 0, max(last_row, HEADER_ROWS), len(columns) - 1)
        sheet.data_validation(
            HEADER_ROWS,
            status_col,
            max(last_row, HEADER_ROWS),
            status_col,
            {
                "validate": "list",
                "source": list(REVIEW_STATUSES),
                "error_title": "Review status",
                "error_message": "Choose one of: " + ", ".join(REVIEW_STATUSES),
            },
        )
        # FALSE_POSITIVE / ACCEPTED_RISK stay listed, greyed, until the review expires.
        sheet.conditional_format(
            HEADER_ROWS,
            0,
            max(last_row, HEADER_ROWS),
            len(columns) - 1,
            {
                "type": "formula",
                "criteria": f'=OR(${status_letter}{first}="FALSE_POSITIVE",${status_letter}{first}="ACCEPTED_RISK")',
                "format": fmt_marked,
                "stop_if_true": True,
            },
        )
        # HIGH rows stand out.
        sheet.conditional_format(
            HEADER_ROWS,
            0,
            max(last_row, HEADER_ROWS),
            len(columns) - 1,
            {"type": "formula", "criteria": f'=${severity_letter}{first}="HIGH"', "format": fmt_high},
        )

    meta = workbook.add_worksheet(META_SHEET)
    meta.write_row(0, 0, ["key", "value"])
    meta_rows = [
        ("format", WORKBOOK_FORMAT),
        ("run_id", summary["run_id"]),
        ("as_at", summary["as_at"].isoformat()),
        ("scope", for_agency or "ALL"),
    ]
    for r, (key, value) in enumerate(meta_rows, start=1):
        meta.write_string(r, 0, key)
        meta.write_string(r, 1, value)
    meta.hide()


def _write_summary_sheet(workbook, summary, rows, for_agency, fmt_title, fmt_bold, fmt_header, fmt_link) -> None:
    sheet = workbook.add_worksheet(SUMMARY_SHEET)
    sheet.set_column(0, 0, 38)
    sheet.set_column(1, 8, 14)
    scope = f" for {for_agency}" if for_agency else ""
    sheet.write_string(0, 0, f"caseflags exceptions{scope}", fmt_title)
    info = [
        ("As at", summary["as_at"].isoformat()),
        ("Run", summary["run_id"]),
        ("Compared with run", summary["previous_run_id"] or "(first run)"),
    ]
    r = 2
    for label, value in info:
        sheet.write_string(r, 0, label, fmt_bold)
        sheet.write_string(r, 1, value)
        r += 1
    r += 1
    sheet.write_string(r, 0, "How to review", fmt_bold)
    r += 1
    for line in (
        "Each check has its own sheet, rows in priority order (HIGH rows highlighted). Set the review status",
        "from the drop-down and add a review note; leave every other column and the hidden first row as they are.",
        "Then return the file: caseflags review import FILE.xlsx",
        "FALSE_POSITIVE and ACCEPTED_RISK stay listed (greyed) until the review expires, then need a fresh look.",
        "Resolved exceptions are counted below; fix the record at source and it drops off the next run.",
    ):
        sheet.write_string(r, 0, line)
        r += 1
    r += 1

    counts = summary["counts_by_check"]
    if for_agency:  # the checks that concern this agency this run, and any not evaluated
        counts = [c for c in counts if c["listed"] or c["resolved"] or c["status"] != "EVALUATED"]
    headers = ["check", "concern", "check status", "NEW", "OPEN", "RESOLVED since last run", "listed", "sheet"]
    sheet.write_string(r, 0, "By check", fmt_bold)
    r += 1
    sheet.write_row(r, 0, headers, fmt_header)
    r += 1
    for c in counts:
        sheet.write_string(r, 0, c["check_id"])
        sheet.write_string(r, 1, c["concern"] or "")
        status = c["status"] if c["status"] == "EVALUATED" else f"{c['status']}: {c['reason'] or ''}"
        sheet.write_string(r, 2, status)
        sheet.write_number(r, 3, c["new"])
        sheet.write_number(r, 4, c["open"])
        sheet.write_number(r, 5, c["resolved"])
        sheet.write_number(r, 6, c["listed"])
        if c["listed"]:
            name = sheet_name_for(c["check_id"])
            sheet.write_url(r, 7, f"internal:'{name}'!A1", fmt_link, string=name)
        r += 1
    r += 1
    if summary.get("children_first"):
        sheet.write_string(r, 0, "Children to act on first (highest priority; why; open concerns)", fmt_bold)
        r += 1
        sheet.write_row(
            r,
            0,
            [
                "rank",
                "child (LA id)",
                "priority",
                "why",
                "open concerns",
                "concerns",
                "agencies",
                "social worker",
                "team",
            ],
            fmt_header,
        )
        r += 1
        for child in summary["children_first"]:
            sheet.write_number(r, 0, child["rank"])
            sheet.write_string(r, 1, child["person_id"])
            sheet.write_number(r, 2, child["priority"])
            sheet.write_string(r, 3, child["priority_reason"] or "")
            sheet.write_number(r, 4, child["open_concerns"])
            sheet.write_string(r, 5, child["concerns"] or "")
            sheet.write_string(r, 6, child["agencies"] or "")
            sheet.write_string(r, 7, child["social_worker_name"] or "")
            sheet.write_string(r, 8, child["social_worker_team"] or "")
            r += 1
        r += 1
    sheet.write_string(r, 0, "By agency", fmt_bold)
    r += 1
    sheet.write_row(r, 0, ["agency", "NEW", "OPEN", "RESOLVED since last run", "listed"], fmt_header)
    r += 1
    for a in summary["counts_by_agency"]:
        sheet.write_string(r, 0, a["agency"])
        sheet.write_row(r, 1, [a["new"], a["open"], a["resolved"], a["listed"]])
        r += 1
    sheet.activate()
