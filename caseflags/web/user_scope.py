"""A user's scope checked against the store: `caseflags users add|edit|enable`.

An agency must be a contract agency code; an organisation is only for agencies whose rows are
split by organisation (a GP practice, a school) and must be one the store knows
(sql/web/known_organisations.sql). A user scoped to something the store has never seen would see
"0 listed" with no hint, so such a scope is refused, naming what is known instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from caseflags.contracts.schema import load_contract
from caseflags.outputs.organisations import ORGANISATION_AGENCIES
from caseflags.resources import sql_text
from caseflags.web.accounts import ROLES, AccountError, User, get_user
from caseflags.workspace.database import transaction


def agency_codes() -> list[str]:
    return sorted(load_contract()["agency_records"].column("agency").codes)


def check_scope(db_path: Path, role: str, agency: str | None, org: str | None) -> tuple[str | None, str | None]:
    """(agency, org) normalised as stored, or AccountError naming what is wrong."""
    agency = agency.strip().upper() if agency else None
    org = org.strip().upper() if org else None
    if role == "officer":
        if agency or org:
            raise AccountError("an officer sees every agency: --agency and --org are for agency users")
        return None, None
    if not agency:
        raise AccountError("an agency user needs --agency CODE")
    codes = agency_codes()
    if agency not in codes:
        raise AccountError(f"--agency {agency} is not an agency code; known: {', '.join(codes)}")
    if org is None:
        return agency, None
    if agency not in ORGANISATION_AGENCIES:
        raise AccountError(
            f"--org is only for {' and '.join(sorted(ORGANISATION_AGENCIES))} users "
            f"(a GP practice code or a school URN)"
        )
    if not db_path.is_file():
        raise AccountError(f"store not found: {db_path} (needed to check --org {org})")
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        raise AccountError(f"store {db_path} cannot be read now (a nightly may be running): try again") from None
    try:
        known = con.execute(sql_text("web/known_organisations.sql"), {"agency": agency, "org": org}).fetchone()[0]
    except duckdb.CatalogException:
        known = False  # a store with no GP or school tables yet knows no organisation
    finally:
        con.close()
    if not known:
        kind = "GP practice" if agency == "GP" else "school URN"
        raise AccountError(f"--org {org} is not a {kind} the store knows for {agency}")
    return agency, org


def edit_user(
    con: sqlite3.Connection, db_path: Path, username: str, role: str | None, agency: str | None, org: str | None
) -> User:
    """Re-scope a user: a new role, agency or organisation, checked against the store. A field not
    given keeps its value, except that a new agency clears the old organisation."""
    user = get_user(con, username)
    if user is None:
        raise AccountError(f"no user {username}")
    new_role = role or user.role
    if new_role not in ROLES:
        raise AccountError(f"--role must be one of {', '.join(ROLES)}")
    if new_role == "officer":
        new_agency, new_org = None, None
    else:
        new_agency = agency or user.agency
        new_org = org if (org is not None or agency) else user.org
    new_agency, new_org = check_scope(db_path, new_role, new_agency, new_org or None)
    with transaction(con):
        con.execute(
            "UPDATE users SET role = ?, agency = ?, org = ? WHERE username = ?",
            (new_role, new_agency, new_org, username),
        )
    return get_user(con, username)


def enable_user(con: sqlite3.Connection, db_path: Path, username: str) -> User:
    """Re-enable a disabled user, after checking their scope still holds in the store."""
    user = get_user(con, username)
    if user is None:
        raise AccountError(f"no user {username}")
    check_scope(db_path, user.role, user.agency, user.org)
    with transaction(con):
        con.execute("UPDATE users SET disabled = 0 WHERE username = ?", (username,))
    return get_user(con, username)
