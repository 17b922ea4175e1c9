"""What every reader of a delivered file shares: the refusal, the line column, the header map."""

from __future__ import annotations

from caseflags.contracts.schema import TableSpec

LINE = "_line"  # 1-based line (CSV, XLSX row) or row number (Parquet) of each record
SOURCE = "_source"  # the file a loaded row came from (a table may combine a CSV and a return)


class ExtractRefused(Exception):
    """A whole file cannot be loaded (unknown table, missing required column, unreadable)."""

    def __init__(self, file: str, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


# A header must hold one of these columns (an unborn child has only an expected date of birth);
# refused as missing the first when it has neither.
ONE_OF_COLUMNS = {"ssd_person": (("pers_dob", "pers_expected_dob"),)}
# Older SSD versions' names for a contract column (SSD 1.4 renamed pers_common_child_id).
COLUMN_ALIASES = {"pers_common_child_id": "pers_single_unique_id"}


def column_key(name) -> str:
    return str(name).strip().lstrip("\ufeff").strip().lower()


def unused_columns(header: list[str], spec: TableSpec) -> list[str]:
    """The delivered columns caseflags does not read (run.json: "not used")."""
    used = set(spec.column_names)
    return [
        str(n).strip().lstrip("\ufeff").strip()
        for n in header
        if column_key(n)
        and column_key(n) not in used
        and not (
            COLUMN_ALIASES.get(column_key(n)) in used
            and COLUMN_ALIASES[column_key(n)] not in {column_key(h) for h in header}
        )
    ]


def header_map(header: list[str], spec: TableSpec, file: str, header_out: list[str] | None = None) -> dict[str, int]:
    """Position of each contract column in the header (case and spaces forgiven); refuses a
    header missing a required column or holding control characters (a damaged header would
    otherwise read an optional column as blank)."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        if any(ord(ch) < 32 and ch not in "\t" for ch in str(name)):
            raise ExtractRefused(file, "damaged header row (control characters in a column name)")
        key = column_key(name)
        if key in spec.column_names and key not in positions:
            positions[key] = i
    for i, name in enumerate(header):
        alias = COLUMN_ALIASES.get(column_key(name))
        if alias in spec.column_names and alias not in positions:
            positions[alias] = i
    if header_out is not None:
        header_out[:] = [str(n) for n in header]
    missing = [c for c in spec.required if c not in positions]
    for first, *others in ONE_OF_COLUMNS.get(spec.name, ()):
        if first not in positions and not any(o in positions for o in others):
            missing.append(first)
    if missing:
        raise ExtractRefused(file, f"missing required column {', '.join(missing)}")
    return positions


def bounded(text: str | None, limit: int) -> str | None:
    """A prefix of at most `limit` characters (quarantine keeps the full length beside it)."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit]
