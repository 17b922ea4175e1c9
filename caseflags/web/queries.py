"""What the pages read from the snapshot, always within the user's scope.

Scope is applied in SQL on every query (`sql/web/scoped_exceptions.sql`): an agency user gets
only rows whose owner is their agency and, with an organisation, only that school's or
practice's rows, with other agencies' record ids masked out of the text. A child, an export or
an exception outside the scope is simply not found (the page answers 404).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from caseflags.audit.chronology import CHRONOLOGY_SOURCES
from caseflags.audit.model import ChronologyEvent
from caseflags.resources import SQL_DIR
from caseflags.web.accounts import User

SCOPED_SQL = (SQL_DIR / "web" / "scoped_exceptions.sql").read_text()
MATCHES_SQL = (SQL_DIR / "web" / "possible_matches.sql").read_text()
MATCH_WEIGHTS_SQL = (SQL_DIR / "web" / "match_weights.sql").read_text()
CHILD_LINKS_SQL = (SQL_DIR / "web" / "child_links.sql").read_text()
LINK_DECISIONS_SQL = (SQL_DIR / "web" / "link_decisions.sql").read_text()

FILTERS = ("check", "agency", "org", "severity", "status", "review", "assignee", "q", "overdue")
# Sort keys offered on the Exceptions page -> ORDER BY clauses (constants, never request text).
SORTS = {
    "priority": "status_rank, severity_rank, overdue DESC, check_id, first_seen, exception_id",
    "severity": "severity_rank, check_id, exception_id",
    "check": "check_id, severity_rank, exception_id",
    "first_seen": "first_seen, severity_rank, exception_id",
    "status": "status, severity_rank, exception_id",
    "review": "eff_review_status, severity_rank, exception_id",
    "agency": "agency, organisation NULLS LAST, severity_rank, exception_id",
    "organisation": "organisation NULLS LAST, severity_rank, exception_id",
    "child": "person_id NULLS LAST, severity_rank, exception_id",
    "assignee": "assignee NULLS LAST, severity_rank, exception_id",
}
DIRECTIONS = ("asc", "desc")


@dataclass
class Query:
    filters: dict[str, str | None] = field(default_factory=dict)
    sort: str = "priority"
    direction: str = "asc"
    page: int = 1
    page_size: int = 50

    @classmethod
    def from_params(cls, params, page_size: int) -> "Query":
        filters = {}
        for name in FILTERS:
            value = (params.get(name) or "").strip()
            filters[name] = value[:200] or None
        sort = params.get("sort") if params.get("sort") in SORTS else "priority"
        direction = params.get("dir") if params.get("dir") in DIRECTIONS else "asc"
        try:
            page = max(1, min(int(params.get("page") or 1), 100_000))
        except ValueError:
            page = 1
        return cls(filters, sort, direction, page, page_size)

    def used_filters(self) -> list[str]:
        return [k for k, v in self.filters.items() if v is not None]


def _scope(user: User) -> dict:
    if user.is_officer:
        return {"scope_agency": None, "scope_org": None}
    return {"scope_agency": user.agency, "scope_org": user.org}


def _order(query: Query) -> str:
    clause = SORTS[query.sort]
    if query.direction == "desc":
        first, _, rest = clause.partition(",")
        clause = f"{first} DESC" + (f",{rest}" if rest else "")
    return clause


def _register(cur: duckdb.DuckDBPyConnection, web_tables: tuple[pa.Table, pa.Table]) -> None:
    latest, assigned = web_tables
    cur.register("web_latest", latest)
    cur.register("web_assign", assigned)


def _parameters(cur, user: User, filters: dict, review_due_days: int) -> dict:
    as_at = snapshot_info(cur)["as_at"]
    overdue = filters.get("overdue")
    return {
        **_scope(user),
        **{k: filters.get(k) for k in FILTERS if k != "overdue"},
        "overdue": None if overdue is None else overdue in ("1", "true", "yes"),
        "person": filters.get("person"),
        "due_before": as_at - timedelta(days=review_due_days),
    }


def _dicts(cursor) -> list[dict]:
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def snapshot_info(cur: duckdb.DuckDBPyConnection) -> dict:
    return _dicts(cur.execute("SELECT * FROM snapshot_info"))[0]


def exceptions(cur, user: User, query: Query, web_tables, review_due_days: int, paged: bool = True) -> tuple[list[dict], int]:
    """The filtered rows (one page, or all for an export) and how many match."""
    _register(cur, web_tables)
    params = _parameters(cur, user, query.filters, review_due_days)
    total = cur.execute(f"SELECT count(*) FROM ({SCOPED_SQL})", params).fetchall()[0][0]
    sql = f"SELECT * FROM ({SCOPED_SQL}) ORDER BY {_order(query)}"
    if paged:
        sql += f" LIMIT {int(query.page_size)} OFFSET {int((query.page - 1) * query.page_size)}"
    return _dicts(cur.execute(sql, params)), total


def exceptions_by_id(cur, user: User, exception_ids: list[str], web_tables, review_due_days: int) -> list[dict]:
    """The exceptions among these ids that the user may see (others are silently absent)."""
    _register(cur, web_tables)
    params = _parameters(cur, user, {}, review_due_days)
    cur.register("wanted_ids", pa.table({"exception_id": pa.array(exception_ids, pa.string())}))
    return _dicts(cur.execute(
        f"SELECT * FROM ({SCOPED_SQL}) WHERE exception_id IN (SELECT exception_id FROM wanted_ids) ORDER BY exception_id",
        params,
    ))


def facets(cur, user: User) -> dict[str, list]:
    """Values for the filter drop-downs, within scope."""
    scope = _scope(user)
    where = "WHERE ($scope_agency IS NULL OR agency = $scope_agency) AND ($scope_org IS NULL OR organisation = $scope_org)"
    out = {}
    for name, column in (("check", "check_id"), ("agency", "agency"), ("org", "organisation"), ("severity", "severity")):
        out[name] = [r[0] for r in cur.execute(
            f"SELECT DISTINCT {column} FROM web_exceptions {where} AND {column} IS NOT NULL ORDER BY 1", scope).fetchall()]
    return out


def today(cur, user: User, web_tables, review_due_days: int, limit: int = 25) -> dict:
    """Today: NEW, HIGH and overdue-for-review first, then the summary by check and the trend."""
    _register(cur, web_tables)
    params = _parameters(cur, user, {}, review_due_days)
    base = f"SELECT * FROM ({SCOPED_SQL})"
    order = SORTS["priority"]
    sections = {
        "new": f"{base} WHERE status = 'NEW' ORDER BY {order} LIMIT {limit}",
        "high": f"{base} WHERE severity = 'HIGH' AND status <> 'NEW' ORDER BY {order} LIMIT {limit}",
        "overdue": f"{base} WHERE overdue AND status <> 'NEW' AND severity <> 'HIGH' ORDER BY first_seen, {order} LIMIT {limit}",
    }
    result = {name: _dicts(cur.execute(sql, params)) for name, sql in sections.items()}
    counts = cur.execute(
        f"""SELECT count(*) FILTER (WHERE status = 'NEW'), count(*) FILTER (WHERE severity = 'HIGH'),
                   count(*) FILTER (WHERE overdue), count(*),
                   count(*) FILTER (WHERE eff_review_status <> 'UNREVIEWED')
            FROM ({SCOPED_SQL})""",
        params,
    ).fetchall()[0]
    result["counts"] = dict(zip(("new", "high", "overdue", "listed", "reviewed"), counts))
    result["by_check"] = _dicts(cur.execute(
        f"""SELECT check_id, any_value(concern) AS concern, count(*) FILTER (WHERE status = 'NEW') AS new,
                   count(*) FILTER (WHERE status = 'OPEN') AS open, count(*) FILTER (WHERE severity = 'HIGH') AS high,
                   count(*) FILTER (WHERE overdue) AS overdue, count(*) AS listed
            FROM ({SCOPED_SQL}) GROUP BY check_id ORDER BY check_id""",
        params,
    ))
    if user.is_officer:
        result["trend"] = _dicts(cur.execute(
            "SELECT run_id, as_at, new, open, resolved FROM run_history WHERE lifecycle_seq IS NOT NULL "
            "ORDER BY lifecycle_seq DESC LIMIT 14"
        ))
    else:
        result["trend"] = []
    return result


def child(cur, user: User, person_id: str, web_tables, review_due_days: int) -> dict | None:
    """Everything the user may see about one child, or None when nothing is in scope (404)."""
    _register(cur, web_tables)
    params = _parameters(cur, user, {"person": person_id}, review_due_days)
    rows = _dicts(cur.execute(f"SELECT * FROM ({SCOPED_SQL}) ORDER BY {SORTS['priority']}", params))
    if not rows:
        return None
    as_at = rows[0]["as_at"]
    agency_only = None if user.is_officer else user.agency
    links = _dicts(cur.execute(
        """SELECT agency, agency_record_id, method, match_probability FROM person_links
           WHERE person_id = $person AND ($agency IS NULL OR agency = $agency)
           ORDER BY agency, agency_record_id""",
        {"person": person_id, "agency": agency_only},
    ))
    events = [e for e in child_events(cur, person_id, as_at) if agency_only is None or e.agency == agency_only]
    ids = [r["exception_id"] for r in rows]
    cur.register("child_ids", pa.table({"exception_id": pa.array(ids, pa.string())}))
    past = _dicts(cur.execute(
        """SELECT exception_id, annotated_at AS at, review_status AS status, review_note AS note, source_file
           FROM annotations WHERE exception_id IN (SELECT exception_id FROM child_ids)
             AND source_file IS DISTINCT FROM 'caseflags web'
           ORDER BY annotated_at DESC"""
    ))
    return {"person_id": person_id, "as_at": as_at, "rows": rows, "links": links,
            "events": events[-60:], "events_total": len(events), "imported_reviews": past}


def child_events(cur, person_id: str, as_at: date) -> list[ChronologyEvent]:
    """The child's chronology as the audit packs build it (`CHRONOLOGY_SOURCES`, same filter and
    order), one small query per source: planning the single UNION of every source costs DuckDB
    about half a second, each source on its own a few milliseconds."""
    present = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    found = []
    for rank, (_source, (tables, sql)) in enumerate(CHRONOLOGY_SOURCES.items()):
        if not set(tables) <= present:
            continue
        wrapped = (f"SELECT CAST(event_date AS DATE), agency, source_table, event_type, description, record_id "
                   f"FROM ({sql}) AS source_events(event_date, agency, source_table, event_type, description, record_id) "
                   f"WHERE event_date IS NULL OR event_date <= $as_at")
        for row in cur.execute(wrapped, {"person_id": person_id, "as_at": as_at}).fetchall():
            found.append((rank, row))
    found.sort(key=lambda item: (item[1][0] is None, item[1][0] or date.min, item[0], item[1][5] is None,
                                 item[1][5] or "", item[1][3], item[1][4]))
    return [ChronologyEvent(*row) for _rank, row in found]


def possible_matches(cur) -> list[dict]:
    """Candidates with the values compared, each field's match weight and the child's records."""
    rows = _dicts(cur.execute(MATCHES_SQL))
    weights = match_weights(cur, [(r["agency"], r["agency_record_id"], r["person_id"]) for r in rows])
    has = child_links(cur, sorted({r["person_id"] for r in rows}))
    for row in rows:
        row["fields"] = _compare(row)
        row["weights"] = weights.get((row["agency"], row["agency_record_id"], row["person_id"]), [])
        row["child_records"] = has.get(row["person_id"], [])
    return rows


def match_weights(cur, pairs: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[dict]]:
    """Each pair's per-field match weights (prior first); {} for a store without the table."""
    if not pairs or not _has_table(cur, "link_match_weights"):
        return {}
    found: dict[tuple[str, str, str], list[dict]] = {}
    for row in _dicts(cur.execute(MATCH_WEIGHTS_SQL, {"pairs": ["|".join(p) for p in pairs]})):
        found.setdefault((row["agency"], row["agency_record_id"], row["person_id"]), []).append(row)
    return found


def child_links(cur, people: list[str]) -> dict[str, list[dict]]:
    if not people:
        return {}
    found: dict[str, list[dict]] = {}
    for row in _dicts(cur.execute(CHILD_LINKS_SQL, {"people": people})):
        found.setdefault(row["person_id"], []).append(row)
    return found


def why_linked(cur, person_id: str) -> list[dict]:
    """The child page's "why linked": each partner record linked to the child, by what method,
    with the per-field match weights of a probabilistic link."""
    links = child_links(cur, [person_id]).get(person_id, [])
    weights = match_weights(cur, [(r["agency"], r["agency_record_id"], person_id) for r in links])
    for link in links:
        link["weights"] = weights.get((link["agency"], link["agency_record_id"], person_id), [])
    return links


def stored_link_decisions(cur) -> list[dict]:
    if not _has_table(cur, "link_decisions"):
        return []
    return _dicts(cur.execute(LINK_DECISIONS_SQL))


def _has_table(cur, name: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}).fetchall()[0][0])


def _compare(row: dict) -> list[dict]:
    pairs = (
        ("forename", row["record_forename"], row["child_forename"]),
        ("surname", row["record_surname"], row["child_surname"]),
        ("date of birth", row["record_dob"], row["child_dob"]),
        ("sex", row["record_sex"], row["child_sex"]),
        ("postcode", row["record_postcode"], row["child_postcodes"]),
        ("NHS number", row["record_nhs_number"], row["child_nhs_number"]),
        ("UPN", row["record_upn"], row["child_upn"]),
    )
    out = []
    for name, record_value, child_value in pairs:
        left = "" if record_value is None else str(record_value)
        right = "" if child_value is None else str(child_value)
        if not left and not right:
            verdict = "both empty"
        elif not left or not right:
            verdict = "one missing"
        elif left.strip().upper() == right.strip().upper() or left.strip().upper() in right.upper().split("; "):
            verdict = "agree"
        else:
            verdict = "differ"
        out.append({"field": name, "record": left, "child": right, "verdict": verdict})
    return out
