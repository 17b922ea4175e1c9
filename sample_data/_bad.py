"""The bad variant: the clean delivery plus input a correct ingest must cope with.

Loads (not rejected): agency_records.csv saved as Windows-1252 (with "Zoë"), family_contacts.csv
with UK DD/MM/YYYY dates, ssd_person.csv with a UTF-8 byte-order mark, trailing blank lines in
voice_records.csv. Rejected (quarantined): one malformed row appended to several files, each
with exactly one bad value; `bad_rows.csv` lists them. Rows are appended after the clean rows,
so every clean row keeps its line number and the truth is unchanged.
"""

import csv
import io
from pathlib import Path

from ._identifiers import is_valid_nhs_number, is_valid_upn
from ._tables import TABLE_COLUMNS, ground_truth

UK_DATES_TABLE = "family_contacts"
WINDOWS_1252_TABLE = "agency_records"
BOM_TABLE = "ssd_person"
TRAILING_BLANK_LINES_TABLE = "voice_records"

# (table, column, bad value, reason); the reason words match the quarantine rules.
MALFORMED_ROWS = [
    ("meetings", "scheduled_date", "2026-02-30", "unparseable date"),
    ("meetings", "status", "POSTPONED", "unknown code"),
    ("meetings", "child_attended", "maybe", "invalid flag"),
    ("voice_records", "agency", "", "blank required value"),
    ("professional_differences", "current_stage", "two", "not an integer"),
    ("agency_flags", "flag_type", "CP_PLAN", "unknown code"),
    (UK_DATES_TABLE, "contact_date", "31/13/2026", "unparseable date"),
    ("ssd_cin_plans", "cinp_cin_plan_start_date", "", "blank required value"),
    ("attendance_sessions", "attendance_code", "Z9", "unknown code"),
    (WINDOWS_1252_TABLE, "dob", "not known", "unparseable date"),
    ("information_sharing", "shared_date", "14.03.2026", "unparseable date"),
    ("ssd_person", "pers_send_flag", "2", "invalid flag"),
]
IDENTIFIER_CHECKS = {
    "nhs_number": is_valid_nhs_number,
    "pers_single_unique_id": is_valid_nhs_number,
    "upn": is_valid_upn,
    "pers_upn": is_valid_upn,
}


def _read(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8", suffix: str = ""):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(buffer.getvalue() + suffix)


def _template_row(rows: list[list[str]], columns: list[str]) -> list[str]:
    """The last clean row whose identifiers are valid (so the bad row has one fault only)."""
    for row in reversed(rows[1:]):
        if all(
            not row[columns.index(c)] or check(row[columns.index(c)].replace(" ", ""))
            for c, check in IDENTIFIER_CHECKS.items()
            if c in columns
        ):
            return list(row)
    raise ValueError("no template row")


def _to_uk(value: str) -> str:
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    return value


def make_bad_delivery(out: Path, seed: int) -> dict[str, int]:
    tables = {
        table: _read(out / f"{table}.csv")
        for table in {t for t, *_ in MALFORMED_ROWS} | {BOM_TABLE, TRAILING_BLANK_LINES_TABLE}
    }
    clean = {table: list(rows) for table, rows in tables.items()}
    bad_rows = []
    for number, (table, column, value, reason) in enumerate(MALFORMED_ROWS):
        columns = TABLE_COLUMNS[table]
        row = _template_row(clean[table], columns)
        if columns[0] not in ("agency", "upn"):
            row[0] = f"{row[0]}BAD{number}"  # never collides with a real id
        elif columns[:2] == ["agency", "agency_record_id"] or tuple(columns[:2]) == ("agency", "agency_record_id"):
            # A partner record with a bad DOB now loads (DOB missing, a data-quality warning):
            # its own id keeps it from being a duplicate of the template row.
            row[1] = f"{row[1]}BAD{number}"
        row[columns.index(column)] = value
        tables[table].append(row)
        bad_rows.append((table, len(tables[table]), column, reason))

    # Someone opened these in Excel: a non-ASCII name, saved as Windows-1252.
    agency = tables[WINDOWS_1252_TABLE]
    columns = TABLE_COLUMNS[WINDOWS_1252_TABLE]
    if not any("Zoë" in cell for row in agency[1:] for cell in row):
        with open(ground_truth(out) / "truth_links.csv", encoding="utf-8", newline="") as handle:
            unlinked = {row["agency_record_id"] for row in csv.DictReader(handle) if not row["person_id"]}
        row = next(r for r in agency[1:] if r[columns.index("agency_record_id")] in unlinked)  # nobody's truth changes
        row[columns.index("forename")] = "Zoë"
    contacts = tables[UK_DATES_TABLE]
    date_columns = [i for i, c in enumerate(TABLE_COLUMNS[UK_DATES_TABLE]) if c.endswith("_date")]
    for row in contacts[1:]:
        for i in date_columns:
            row[i] = _to_uk(row[i])

    for table, rows in tables.items():
        encoding = "cp1252" if table == WINDOWS_1252_TABLE else "utf-8-sig" if table == BOM_TABLE else "utf-8"
        _write(out / f"{table}.csv", rows, encoding, "\n\n" if table == TRAILING_BLANK_LINES_TABLE else "")
    with open(ground_truth(out) / "bad_rows.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["table", "line", "column", "reason"])
        writer.writerows(sorted(bad_rows))
    counts = {f"{table}.csv": len(rows) - 1 for table, rows in tables.items()}
    counts["ground_truth/bad_rows.csv"] = len(bad_rows)
    return counts
