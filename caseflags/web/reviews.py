"""Reviews, assignments and link decisions saved in the browser (the workspace database).

Every save appends a row with who and when; nothing is updated or deleted, so the history is
complete. The latest row per exception is the web's review until the nightly carries it into the
store (`caseflags.workspace.carry`), after which both say the same.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta

import pyarrow as pa

from caseflags.config import MAX_TEXT_LENGTH
from caseflags.outputs.lifecycle import EXPIRING_REVIEW_STATUSES, REVIEW_STATUSES
from caseflags.workspace.database import timestamp, transaction, utc_now

DECISIONS = ("CONFIRMED", "REJECTED")
MAX_NOTE_LENGTH = MAX_TEXT_LENGTH  # limits.max_text_length: the same cap as the imports


class ReviewError(ValueError):
    """A review that cannot be saved; the message is shown on the page."""


def check_review(status: str, note: str | None, severities) -> None:
    """Refuse a review the page must not save: an unknown status, or a HIGH exception closed as
    FALSE_POSITIVE / ACCEPTED_RISK without a note saying why (bulk: any HIGH among the rows)."""
    status = (status or "").strip().upper()
    if status not in REVIEW_STATUSES:
        raise ReviewError(f"review status must be one of {', '.join(REVIEW_STATUSES)}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ReviewError(f"a note is at most {MAX_NOTE_LENGTH} characters")
    if status in EXPIRING_REVIEW_STATUSES and not note and "HIGH" in set(severities):
        raise ReviewError(f"{status} on a HIGH exception needs a note saying why")


def check_assignee(ws: sqlite3.Connection, assignee: str | None, rows: list[dict]) -> None:
    """An assignee is an enabled user of the workspace who can see every one of these rows
    (an officer, or a user of the row's agency and, with an organisation, of its organisation)."""
    if assignee is None:
        return
    found = ws.execute("SELECT role, agency, org, disabled FROM users WHERE username = ?", (assignee,)).fetchone()
    if found is None:
        raise ReviewError(f"there is no user {assignee!r}: assign to a user name of the workspace")
    if found["disabled"]:
        raise ReviewError(f"user {assignee} is disabled: assign to someone else")
    if found["role"] == "officer":
        return
    hidden = [
        r for r in rows if r["agency"] != found["agency"] or (found["org"] and r.get("organisation") != found["org"])
    ]
    if hidden:
        raise ReviewError(
            f"user {assignee} cannot see {len(hidden)} of these exceptions (another agency or organisation)"
        )


def assignable_users(ws: sqlite3.Connection, row: dict | None = None) -> list[str]:
    """Enabled users who could be assigned `row` (every enabled user without a row)."""
    users = ws.execute("SELECT username, role, agency, org FROM users WHERE NOT disabled ORDER BY username").fetchall()
    if row is None:
        return [u["username"] for u in users]
    return [
        u["username"]
        for u in users
        if u["role"] == "officer"
        or (u["agency"] == row["agency"] and (not u["org"] or u["org"] == row.get("organisation")))
    ]


def save_reviews(
    ws: sqlite3.Connection,
    exception_ids: list[str],
    status: str,
    note: str | None,
    reviewer: str,
    expiry_days: int,
    now: datetime | None = None,
) -> int:
    """One review row per exception (a bulk review shares a bulk id); returns how many."""
    status = (status or "").strip().upper()
    if status not in REVIEW_STATUSES:
        raise ReviewError(f"review status must be one of {', '.join(REVIEW_STATUSES)}")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_LENGTH:
        raise ReviewError(f"a note is at most {MAX_NOTE_LENGTH} characters")
    if not exception_ids:
        raise ReviewError("no exception chosen")
    now = now or utc_now()
    expires = (now.date() + timedelta(days=expiry_days)).isoformat() if status in EXPIRING_REVIEW_STATUSES else None
    bulk_id = secrets.token_hex(8) if len(exception_ids) > 1 else None
    with transaction(ws):
        ws.executemany(
            "INSERT INTO reviews (exception_id, review_status, review_note, reviewer, created_at, expires_on, bulk_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(e, status, note, reviewer, timestamp(now), expires, bulk_id) for e in exception_ids],
        )
    return len(exception_ids)


def assign(
    ws: sqlite3.Connection,
    exception_ids: list[str],
    assignee: str | None,
    assigned_by: str,
    now: datetime | None = None,
) -> int:
    assignee = (assignee or "").strip() or None
    if assignee and len(assignee) > 64:
        raise ReviewError("an assignee name is at most 64 characters")
    if not exception_ids:
        raise ReviewError("no exception chosen")
    with transaction(ws):
        ws.executemany(
            "INSERT INTO assignments (exception_id, assignee, assigned_by, assigned_at) VALUES (?, ?, ?, ?)",
            [(e, assignee, assigned_by, timestamp(now)) for e in exception_ids],
        )
    return len(exception_ids)


def latest_tables(ws: sqlite3.Connection) -> tuple[pa.Table, pa.Table]:
    """The latest web review and the current assignee of each exception, for DuckDB to join."""
    reviews = ws.execute(
        """
        SELECT exception_id, review_status, review_note, created_at, expires_on, reviewer FROM (
            SELECT *, row_number() OVER (PARTITION BY exception_id ORDER BY review_id DESC) AS n FROM reviews
        ) WHERE n = 1
        """
    ).fetchall()
    assignments = ws.execute(
        """
        SELECT exception_id, assignee FROM (
            SELECT *, row_number() OVER (PARTITION BY exception_id ORDER BY assignment_id DESC) AS n FROM assignments
        ) WHERE n = 1 AND assignee IS NOT NULL
        """
    ).fetchall()
    latest = pa.table(
        {
            "exception_id": pa.array([r[0] for r in reviews], pa.string()),
            "w_status": pa.array([r[1] for r in reviews], pa.string()),
            "w_note": pa.array([r[2] for r in reviews], pa.string()),
            "w_at": pa.array([datetime.fromisoformat(r[3]) for r in reviews], pa.timestamp("us")),
            "w_expires": pa.array(
                [datetime.fromisoformat(r[4]).date() if r[4] else None for r in reviews], pa.date32()
            ),
            "w_reviewer": pa.array([r[5] for r in reviews], pa.string()),
        }
    )
    assigned = pa.table(
        {
            "exception_id": pa.array([r[0] for r in assignments], pa.string()),
            "assignee": pa.array([r[1] for r in assignments], pa.string()),
        }
    )
    return latest, assigned


def history(ws: sqlite3.Connection, exception_ids: list[str]) -> list[dict]:
    """Web reviews and assignments of these exceptions, newest first: who, when, what."""
    if not exception_ids:
        return []
    marks = ",".join("?" * len(exception_ids))
    rows = ws.execute(
        f"""
        SELECT exception_id, created_at AS at, reviewer AS who, 'review' AS kind, review_status AS status,
               review_note AS note, NULL AS assignee
        FROM reviews WHERE exception_id IN ({marks})
        UNION ALL
        SELECT exception_id, assigned_at, assigned_by, 'assignment', NULL, NULL, coalesce(assignee, '(unassigned)')
        FROM assignments WHERE exception_id IN ({marks})
        ORDER BY at DESC
        """,
        [*exception_ids, *exception_ids],
    ).fetchall()
    return [dict(r) for r in rows]


def record_link_decision(
    ws: sqlite3.Connection,
    agency: str,
    agency_record_id: str,
    person_id: str,
    decision: str,
    note: str | None,
    decided_by: str,
) -> None:
    decision = (decision or "").strip().upper()
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}")
    if note and len(note.strip()) > MAX_NOTE_LENGTH:
        raise ReviewError(f"a note is at most {MAX_NOTE_LENGTH} characters")
    with transaction(ws):
        ws.execute(
            "INSERT INTO link_decisions (agency, agency_record_id, person_id, decision, note, decided_by, decided_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (agency, agency_record_id, person_id, decision, (note or "").strip() or None, decided_by, timestamp()),
        )


def link_decisions(ws: sqlite3.Connection) -> dict[tuple[str, str, str], dict]:
    """The latest web decision per (agency, record, child)."""
    rows = ws.execute(
        """
        SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY agency, agency_record_id, person_id ORDER BY decision_id DESC) AS n
            FROM link_decisions
        ) WHERE n = 1
        """
    ).fetchall()
    return {(r["agency"], r["agency_record_id"], r["person_id"]): dict(r) for r in rows}


def link_decision_history(ws: sqlite3.Connection, stored: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Every decision on each (agency, record, child) pair, newest first: those the nightly has
    carried into the store (`stored`, from the snapshot) and those saved here since. A decision
    carried from this workspace appears once (same pair, decision, time and officer)."""
    entries: dict[tuple, dict] = {}

    def add(row: dict, carried: bool) -> None:
        at = row["decided_at"]
        at = (at if isinstance(at, datetime) else datetime.fromisoformat(str(at))).isoformat(
            sep=" ", timespec="seconds"
        )
        key = (row["agency"], row["agency_record_id"], row["person_id"], row["decision"], at, row["decided_by"])
        entries.setdefault(
            key,
            {
                "decision": row["decision"],
                "decided_at": at,
                "decided_by": row["decided_by"],
                "note": row["note"],
                "carried": carried,
            },
        )

    for row in stored:
        add(row, True)
    for row in ws.execute(
        "SELECT agency, agency_record_id, person_id, decision, decided_at, decided_by, note "
        "FROM link_decisions ORDER BY decision_id"
    ).fetchall():
        add(dict(row), False)
    history: dict[tuple[str, str, str], list[dict]] = {}
    for key, entry in entries.items():
        history.setdefault(key[:3], []).append(entry)
    for pair in history.values():
        pair.sort(key=lambda e: e["decided_at"], reverse=True)
    return history
