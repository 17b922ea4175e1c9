"""User accounts of the workspace: argon2 password hashes, roles and scope, login rate limit,
and the access log (route patterns only, no personal data).

Roles: `officer` sees everything; `agency` sees only rows its agency owns and, with an
organisation (a school URN or a GP practice code), only that organisation's rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from caseflags.web.workspace import timestamp, transaction

ROLES = ("officer", "agency")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
# Login rate limit: this many failures for one user name, or from one client, within the window
# refuse further attempts until the oldest failure leaves the window.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60

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
    return User(row["username"], row["role"], row["agency"], row["org"], bool(row["disabled"]), row["password_changed_at"],
                professional)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


PROFESSIONAL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def add_user(con: sqlite3.Connection, username: str, password: str, role: str, agency: str | None, org: str | None,
             professional: str | None = None) -> User:
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


def set_password(con: sqlite3.Connection, username: str, password: str) -> None:
    """New password; sessions signed before it stop working (their password stamp differs)."""
    _check_password(password)
    with transaction(con):
        changed = con.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
            (_hasher.hash(password), timestamp(), username),
        ).rowcount
        if not changed:
            raise AccountError(f"no user {username}")


class LoginRefused(Exception):
    """Too many failed attempts: try later."""


def authenticate(con: sqlite3.Connection, username: str, password: str, client: str, now: float | None = None) -> User | None:
    """The user when name and password match and the account is enabled; None otherwise.

    Raises LoginRefused while the user name or the client has MAX_FAILURES failures within
    FAILURE_WINDOW_SECONDS (checked before the password, so guessing gains nothing).
    """
    now = time.time() if now is None else now
    since = now - FAILURE_WINDOW_SECONDS
    con.execute("DELETE FROM login_failures WHERE failed_at < ?", (since,))
    by_name, by_client = con.execute(
        "SELECT count(*) FILTER (WHERE username = ?), count(*) FILTER (WHERE client = ?) FROM login_failures WHERE failed_at >= ?",
        (username, client, since),
    ).fetchone()
    if by_name >= MAX_FAILURES or by_client >= MAX_FAILURES:
        raise LoginRefused()
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
    con.execute("DELETE FROM login_failures WHERE username = ?", (username,))
    return _user(row)


def log_access(con: sqlite3.Connection, user: str | None, method: str, route: str, filters: list[str], status: int,
               rows: int | None) -> None:
    """One line per page or export: who, which route pattern, which filter names; no values."""
    con.execute(
        "INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        (timestamp(), user, method, route, json.dumps(sorted(filters)) if filters else None, status, rows),
    )
