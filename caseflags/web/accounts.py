"""User accounts of the workspace: argon2 password hashes, roles and scope, login rate limit,
and the access log (route patterns only, no personal data).

Roles: `officer` sees everything; `agency` sees only rows its agency owns and, with an
organisation (a school URN or a GP practice code), only that organisation's rows.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from caseflags.workspace.database import timestamp, transaction

ROLES = ("officer", "agency")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
# Login throttle (docs/WEB.md, "Login throttle"). Failures are counted per (user name, client
# address) pair: after FREE_FAILURES, each further attempt of that pair waits BACKOFF_BASE_SECONDS,
# doubled per failure, at most BACKOFF_MAX_SECONDS; a pair's failures are forgotten after
# PAIR_MEMORY_SECONDS or at its next success. So a typo by one colleague, or a stranger typing an
# officer's name, only ever slows that one pair. A password spray across names from one address is
# capped apart: ADDRESS_MAX_FAILURES failures from one address within ADDRESS_WINDOW_SECONDS refuse
# that address until the oldest leaves the window.
FREE_FAILURES = 3
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 3600.0
PAIR_MEMORY_SECONDS = 24 * 3600
ADDRESS_MAX_FAILURES = 30
ADDRESS_WINDOW_SECONDS = 15 * 60
# Kept for callers of the earlier per-name limit (same meaning as ADDRESS_WINDOW_SECONDS).
FAILURE_WINDOW_SECONDS = ADDRESS_WINDOW_SECONDS
MAX_FAILURES = FREE_FAILURES

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A user command that cannot be done; the message is one line for the CLI."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    agency: str | None
    org: str | None
    disabled: bool
    password_changed_at: str
    # The worker (ssd_professionals id, e.g. PRF00142) this login is: "mine" and "my team".
    professional: str | None = None

    @property
    def is_officer(self) -> bool:
        return self.role == "officer"

    @property
    def scope_text(self) -> str:
        if self.is_officer:
            return "officer: every agency"
        return f"{self.agency}" + (f" / {self.org}" if self.org else "")


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    professional = row["professional"] if "professional" in row.keys() else None
    return User(
        row["username"],
        row["role"],
        row["agency"],
        row["org"],
        bool(row["disabled"]),
        row["password_changed_at"],
        professional,
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


PROFESSIONAL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def add_user(
    con: sqlite3.Connection,
    username: str,
    password: str,
    role: str,
    agency: str | None,
    org: str | None,
    professional: str | None = None,
) -> User:
    if not USERNAME_PATTERN.match(username):
        raise AccountError("a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise AccountError(f"--role must be one of {', '.join(ROLES)}")
    agency = agency.strip().upper() if agency else None
    org = org.strip().upper() if org else None
    if role == "agency" and not agency:
        raise AccountError("an agency user needs --agency CODE")
    if org and not agency:
        raise AccountError("--org needs --agency")
    professional = professional.strip().upper() if professional else None
    if professional and not PROFESSIONAL_PATTERN.match(professional):
        raise AccountError("--professional is a worker id such as PRF00142")
    _check_password(password)
    now = timestamp()
    with transaction(con):
        if con.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise AccountError(f"user {username} already exists")
        con.execute(
            "INSERT INTO users (username, password_hash, role, agency, org, disabled, created_at, password_changed_at,"
            " professional) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (username, _hasher.hash(password), role, agency, org, now, now, professional),
        )
    return get_user(con, username)


def get_user(con: sqlite3.Connection, username: str) -> User | None:
    return _user(con.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone())


def list_users(con: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in con.execute("SELECT * FROM users ORDER BY username").fetchall()]


def disable_user(con: sqlite3.Connection, username: str) -> None:
    with transaction(con):
        if not con.execute("UPDATE users SET disabled = 1 WHERE username = ?", (username,)).rowcount:
            raise AccountError(f"no user {username}")
        end_user_sessions(con, username)


def set_password(con: sqlite3.Connection, username: str, password: str) -> None:
    """New password; every session of the user ends at once."""
    _check_password(password)
    with transaction(con):
        changed = con.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
            (_hasher.hash(password), timestamp(), username),
        ).rowcount
        if not changed:
            raise AccountError(f"no user {username}")
        end_user_sessions(con, username)


class LoginRefused(Exception):
    """Too many failed attempts: try again in `retry_after` seconds."""

    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = max(1, int(-(-retry_after // 1)))


def throttle_wait(con: sqlite3.Connection, username: str, client: str, now: float) -> float:
    """Seconds this (user name, client) must still wait before trying a password; 0 to go ahead."""
    con.execute("DELETE FROM login_failures WHERE failed_at < ?", (now - PAIR_MEMORY_SECONDS,))
    pair_failures, pair_last = con.execute(
        "SELECT count(*), max(failed_at) FROM login_failures WHERE username = ? AND client = ?",
        (username[:64], client),
    ).fetchone()
    wait = 0.0
    if pair_failures >= FREE_FAILURES:
        backoff = min(BACKOFF_BASE_SECONDS * 2 ** (pair_failures - FREE_FAILURES), BACKOFF_MAX_SECONDS)
        wait = max(wait, pair_last + backoff - now)
    since = now - ADDRESS_WINDOW_SECONDS
    address_failures = con.execute(
        "SELECT failed_at FROM login_failures WHERE client = ? AND failed_at >= ? ORDER BY failed_at DESC LIMIT 1 OFFSET ?",
        (client, since, ADDRESS_MAX_FAILURES - 1),
    ).fetchone()
    if address_failures is not None:  # the ADDRESS_MAX_FAILURES-th newest failure is still in the window
        wait = max(wait, address_failures[0] + ADDRESS_WINDOW_SECONDS - now)
    return wait


def authenticate(
    con: sqlite3.Connection, username: str, password: str, client: str, now: float | None = None
) -> User | None:
    """The user when name and password match and the account is enabled; None otherwise.

    Raises LoginRefused while this (user name, client) pair is backing off or this client has
    sprayed too many failures (checked before the password, so guessing gains nothing).
    """
    now = time.time() if now is None else now
    wait = throttle_wait(con, username, client, now)
    if wait > 0:
        raise LoginRefused(wait)
    row = con.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    try:
        ok = _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password) and row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row["disabled"]:
        con.execute("INSERT INTO login_failures VALUES (?, ?, ?)", (username[:64], client, now))
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        con.execute("UPDATE users SET password_hash = ? WHERE username = ?", (_hasher.hash(password), username))
    con.execute("DELETE FROM login_failures WHERE username = ? AND client = ?", (username[:64], client))
    return _user(row)


# -- sessions: kept in the workspace database; the cookie holds only a random id ---------------


def _session_key(session_id: str) -> str:
    """What the table keeps: a hash of the id, so a copy of the database opens no session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(con: sqlite3.Connection, username: str, hours: float, now: float | None = None) -> str:
    """A new session of the user for `hours`; returns its id (for the cookie)."""
    now = time.time() if now is None else now
    session_id = secrets.token_urlsafe(32)
    with transaction(con):
        con.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
        con.execute(
            "INSERT INTO web_sessions VALUES (?, ?, ?, ?)",
            (_session_key(session_id), username, now, now + hours * 3600),
        )
    return session_id


def session_user(con: sqlite3.Connection, session_id: str | None, now: float | None = None) -> User | None:
    """The enabled user of a live session; None for an ended, expired or unknown one."""
    if not session_id or not isinstance(session_id, str):
        return None
    now = time.time() if now is None else now
    row = con.execute(
        "SELECT u.* FROM web_sessions s JOIN users u USING (username) WHERE s.session_key = ? AND s.expires_at > ?",
        (_session_key(session_id), now),
    ).fetchone()
    user = _user(row)
    return None if user is None or user.disabled else user


def end_session(con: sqlite3.Connection, session_id: str | None) -> None:
    if session_id and isinstance(session_id, str):
        con.execute("DELETE FROM web_sessions WHERE session_key = ?", (_session_key(session_id),))


def end_user_sessions(con: sqlite3.Connection, username: str) -> int:
    """Every session of the user ends now (password changed, account disabled)."""
    return con.execute("DELETE FROM web_sessions WHERE username = ?", (username,)).rowcount


def log_access(
    con: sqlite3.Connection,
    user: str | None,
    method: str,
    route: str,
    filters: list[str],
    status: int,
    rows: int | None,
) -> None:
    """One line per page or export: who, which route pattern, which filter names; no values."""
    con.execute(
        "INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        (timestamp(), user, method, route, json.dumps(sorted(filters)) if filters else None, status, rows),
    )
