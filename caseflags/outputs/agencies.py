"""Agency folders: `agencies/<AGENCY>/exceptions.csv|xlsx`, each agency's own rows only.

An agency's file names the child by its own record ids (the LA child id only for the LA's own
services), and never shows another agency's record id for the same child.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import duckdb

from caseflags.outputs.files import safe_folder_name
from caseflags.outputs.lifecycle import CSV_COLUMNS
from caseflags.resources import sql_text

# Agencies whose own records are keyed by the LA child id (pers_person_id); every other agency
# gets its own record ids for the child instead, never the social care id.
LA_CHILD_ID_AGENCIES = ("SOCIAL_CARE", "EDUCATION")


def agency_columns(agency: str) -> tuple[str, ...]:
    """An agency's own file: no owner column (it is all theirs); the LA child id only for the
    LA's own services, every other agency gets its own record ids for the child."""
    id_column = "person_id" if agency in LA_CHILD_ID_AGENCIES else "agency_record_ids"
    columns = tuple(id_column if c == "person_id" else c for c in CSV_COLUMNS if c != "agency")
    if agency == "SOCIAL_CARE":
        return columns
    # a partner is told whom to call in social care: the child's worker by name and team
    return (*columns, "social_worker_name", "social_worker_team")


MASK = "[other agency record]"


def _bounded(text: str, start: int, end: int, identifier: str) -> bool:
    """The occurrence is the id itself, not part of a longer token: where the id begins (ends)
    with a letter or digit, the character before (after) it is not one."""
    before_ok = start == 0 or not (identifier[0].isalnum() and text[start - 1].isalnum())
    after_ok = end == len(text) or not (identifier[-1].isalnum() and text[end].isalnum())
    return before_ok and after_ok


def _occurrences(text: str, identifier: str) -> Iterator[tuple[int, int]]:
    start = text.find(identifier)
    while start != -1:
        end = start + len(identifier)
        if _bounded(text, start, end, identifier):
            yield start, end
        start = text.find(identifier, start + 1)


def mask_ids(text: str | None, hidden: Iterable[str], visible: Iterable[str] = ()) -> str | None:
    """`text` with every occurrence of an id in `hidden` replaced by MASK.

    Ids are compared exactly, character for character (no pattern is built from them), so
    punctuation, spaces and non-ASCII letters in an id change nothing. Longer ids are masked
    first; an occurrence inside one of the agency's own ids (`visible`) is left, since the
    agency already holds that id."""
    if not text:
        return text
    hidden = sorted({h for h in hidden if h}, key=lambda h: (-len(h), h))
    if not hidden:
        return text
    taken = [span for own in {v for v in visible if v} for span in _occurrences(text, own)]
    masked: list[tuple[int, int]] = []
    for identifier in hidden:
        for start, end in _occurrences(text, identifier):
            if not any(start < b and a < end for a, b in taken):
                masked.append((start, end))
                taken.append((start, end))
    if not masked:
        return text
    parts, last = [], 0
    for start, end in sorted(masked):
        parts.append(text[last:start])
        parts.append(MASK)
        last = end
    parts.append(text[last:])
    return "".join(parts)


def agency_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[dict]]:
    """Each agency's listed rows, with its own record ids for the child, and every id it may not
    see (another agency's record id for the same child; the LA child id outside the LA) masked
    out of entity_id, detail and locator by exact identity."""
    cursor = con.execute(
        sql_text("outputs/agency_rows.sql"),
        {"run_id": run_id, "la_child_id_agencies": list(LA_CHILD_ID_AGENCIES)},
    )
    columns = [c[0] for c in cursor.description]
    by_agency: dict[str, list[dict]] = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values))
        hidden = row.pop("hidden_ids")
        uses_la_child_id = row.pop("uses_la_child_id")
        visible = (row["agency_record_ids"] or "").split("; ")
        if uses_la_child_id and row["person_id"]:
            visible.append(row["person_id"])
        for column in ("entity_id", "detail", "locator"):
            row[column] = mask_ids(row[column], hidden, visible)
        if not uses_la_child_id:
            row["person_id"] = None
        by_agency.setdefault(row["agency"], []).append(row)
    return by_agency


def agency_folder_name(agency: str) -> str:
    """A safe folder name for an agency code (`safe_folder_name`): the code itself when plain,
    otherwise its safe characters and a hash of the exact code, so two codes never share a folder."""
    return safe_folder_name(agency)
