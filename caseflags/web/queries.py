"""What the pages read from the snapshot, always within the user's scope.

Scope is applied in SQL on every query (`sql/web/scoped_exceptions.sql`): an agency user gets
only rows whose owner is their agency and, with an organisation, only that school's or
practice's rows, with other agencies' record ids masked out of the text. A child, an export or
an exception outside the scope is simply not found (the page answers 404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from caseflags.audit.chronology import CHRONOLOGY_SOURCES
from caseflags.audit.model import ChronologyEvent
from caseflags.resources import SQL_DIR, config_default
from caseflags.web.accounts import User

SCOPED_SQL = (SQL_DIR / "web" / "scoped_exceptions.sql").read_text()
MATCHES_SQL = (SQL_DIR / "web" / "possible_matches.sql").read_text()
CHILD_FACTS_SQL = (SQL_DIR / "web" / "child_facts.sql").read_text()
ALLOCATED_WORKER_SQL = (SQL_DIR / "audit" / "context" / "allocated_social_worker.sql").read_text()
MATCH_WEIGHTS_SQL = (SQL_DIR / "web" / "match_weights.sql").read_text()
CHILD_LINKS_SQL = (SQL_DIR / "web" / "child_links.sql").read_text()
LINK_DECISIONS_SQL = (SQL_DIR / "web" / "link_decisions.sql").read_text()

# `mine` (assigned to me, or owned by my linked worker), `team` (owned by my worker's team) and
# `no_org` (school and GP rows no school or practice sees) take "1".
FILTERS = (
    "check",
    "agency",
    "org",
    "severity",
    "status",
    "review",
    "assignee",
    "q",
    "overdue",
    "mine",
    "team",
    "no_org",
)
FLAG_FILTERS = ("overdue", "mine", "team", "no_org")
# Sort keys offered on the Exceptions page -> ORDER BY clauses (constants, never request text).
SORTS = {
    "priority": "priority_order, exception_id",
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
    page_size: int = config_default("web", "page_size")

    @classmethod
    def from_params(cls, params, page_size: int) -> Query:
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
        # DESC goes before NULLS LAST ("person_id DESC NULLS LAST"): rows without a value stay last.
        column, nulls, _ = first.partition(" NULLS LAST")
        clause = f"{column} DESC{' NULLS LAST' if nulls else ''}" + (f",{rest}" if rest else "")
    return clause


def _register(cur: duckdb.DuckDBPyConnection, web_tables: tuple[pa.Table, pa.Table]) -> None:
    latest, assigned = web_tables
    cur.register("web_latest", latest)
    cur.register("web_assign", assigned)


def _flag(value: str | None) -> bool | None:
    return None if value is None else value in ("1", "true", "yes")


def my_professional(cur, user: User) -> dict:
    """The worker linked to the login (`users add --professional`): id, name and teams."""
    professional = getattr(user, "professional", None)
    found = (
        _dicts(
            cur.execute(
                "SELECT professional_name, teams FROM web_professional_teams WHERE professional_id = $professional",
                {"professional": professional},
            )
        )
        if professional
        else []
    )
    name, teams = (found[0]["professional_name"], found[0]["teams"] or []) if found else (None, [])
    return {"id": professional, "name": name, "teams": list(teams)}


def _parameters(cur, user: User, filters: dict, review_due_days: int) -> dict:
    as_at = snapshot_info(cur)["as_at"]
    mine = _flag(filters.get("mine")) or _flag(filters.get("team"))
    worker = my_professional(cur, user) if mine else {"id": None, "name": None, "teams": []}
    return {
        **_scope(user),
        **{k: filters.get(k) for k in FILTERS if k not in FLAG_FILTERS},
        **{k: _flag(filters.get(k)) for k in FLAG_FILTERS},
        "me": user.username,
        "my_professional": worker["id"],
        "my_professional_name": worker["name"],
        "my_teams": worker["teams"],
        "person": filters.get("person"),
        "due_before": as_at - timedelta(days=review_due_days),
    }


def _dicts(cursor) -> list[dict]:
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def snapshot_info(cur: duckdb.DuckDBPyConnection) -> dict:
    return _dicts(cur.execute("SELECT * FROM snapshot_info"))[0]


def exceptions(
    cur, user: User, query: Query, web_tables, review_due_days: int, paged: bool = True
) -> tuple[list[dict], int]:
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
    return _dicts(
        cur.execute(
            f"SELECT * FROM ({SCOPED_SQL}) WHERE exception_id IN (SELECT exception_id FROM wanted_ids) ORDER BY exception_id",
            params,
        )
    )


def facets(cur, user: User) -> dict[str, list]:
    """Values for the filter drop-downs, within scope."""
    scope = _scope(user)
    where = (
        "WHERE ($scope_agency IS NULL OR agency = $scope_agency) AND ($scope_org IS NULL OR organisation = $scope_org)"
    )
    out = {}
    for name, column in (
        ("check", "check_id"),
        ("agency", "agency"),
        ("org", "organisation"),
        ("severity", "severity"),
    ):
        out[name] = [
            r[0]
            for r in cur.execute(
                f"SELECT DISTINCT {column} FROM web_exceptions {where} AND {column} IS NOT NULL ORDER BY 1", scope
            ).fetchall()
        ]
    return out


# Today's sections: name -> (the filter on /exceptions that lists the same rows, its WHERE clause).
# A tile counts exactly the rows its section lists, and its "all" link is that filter.
TODAY_SECTIONS = {
    "new": ("status=NEW", "status = 'NEW'"),
    "high": ("severity=HIGH", "severity = 'HIGH'"),
    "overdue": ("overdue=1", "overdue"),
}


def today(
    cur, user: User, web_tables, review_due_days: int, limit: int = 10, children: int = 10, rest_limit: int = 25
) -> dict:
    """Today: the children to act on first (by child priority), each with every open concern the
    user may see and its owners; then the rest by priority; then the new, high and overdue rows;
    then the summary by check and the trend. Each section carries its total (`totals`), which is
    what its tile shows."""
    _register(cur, web_tables)
    params = _parameters(cur, user, {}, review_due_days)
    base = f"SELECT * FROM ({SCOPED_SQL})"
    # An officer's children in the store's child order (child priority); a partner's by their own
    # rows only (their most urgent row), so nothing outside their scope decides their order.
    child_key = "coalesce(c.child_order, 0), s.first_row" if user.is_officer else "s.first_row"
    first_children = _dicts(
        cur.execute(
            f"""SELECT s.person_id, s.concerns, s.first_row, c.child_priority, c.child_priority_reason
            FROM (SELECT person_id, count(*) AS concerns, min(priority_order) AS first_row
                  FROM ({SCOPED_SQL}) WHERE person_id IS NOT NULL GROUP BY person_id) AS s
            LEFT JOIN web_children AS c ON c.person_id = s.person_id
            ORDER BY {child_key}, s.person_id LIMIT {int(children)}""",
            params,
        )
    )
    chosen = [c["person_id"] for c in first_children]
    cur.register("today_children", pa.table({"person_id": pa.array(chosen, pa.string())}))
    in_chosen = "person_id IN (SELECT person_id FROM today_children)"
    child_rows = _dicts(cur.execute(f"{base} WHERE {in_chosen} ORDER BY priority_order", params))
    for c in first_children:
        c["rows"] = [r for r in child_rows if r["person_id"] == c["person_id"]]
        c["owners"] = sorted({r["owner_name"] for r in c["rows"] if r.get("owner_name")})
    rest_where = f"person_id IS NULL OR NOT ({in_chosen})"
    result = {
        "children": first_children,
        "rest": _dicts(
            cur.execute(f"{base} WHERE {rest_where} ORDER BY priority_order LIMIT {int(rest_limit)}", params)
        ),
    }
    for name, (_link, where) in TODAY_SECTIONS.items():
        result[name] = _dicts(cur.execute(f"{base} WHERE {where} ORDER BY priority_order LIMIT {int(limit)}", params))
    counts = cur.execute(
        f"""SELECT count(*) FILTER (WHERE status = 'NEW'), count(*) FILTER (WHERE severity = 'HIGH'),
                   count(*) FILTER (WHERE overdue), count(*),
                   count(*) FILTER (WHERE eff_review_status <> 'UNREVIEWED'),
                   count(*) FILTER (WHERE {rest_where}), count(DISTINCT person_id)
            FROM ({SCOPED_SQL})""",
        params,
    ).fetchall()[0]
    result["counts"] = dict(zip(("new", "high", "overdue", "listed", "reviewed", "rest", "children_all"), counts))
    result["counts"]["children"] = len(first_children)
    result["counts"]["child_rows"] = len(child_rows)
    result["section_links"] = {name: link for name, (link, _where) in TODAY_SECTIONS.items()}
    result["by_check"] = _dicts(
        cur.execute(
            f"""SELECT check_id, any_value(concern) AS concern, count(*) FILTER (WHERE status = 'NEW') AS new,
                   count(*) FILTER (WHERE status = 'OPEN') AS open, count(*) FILTER (WHERE severity = 'HIGH') AS high,
                   count(*) FILTER (WHERE overdue) AS overdue, count(*) AS listed
            FROM ({SCOPED_SQL}) GROUP BY check_id ORDER BY check_id""",
            params,
        )
    )
    if user.is_officer:
        result["trend"] = _dicts(
            cur.execute(
                "SELECT run_id, as_at, new, open, resolved FROM run_history WHERE lifecycle_seq IS NOT NULL "
                "ORDER BY lifecycle_seq DESC LIMIT 14"
            )
        )
    else:
        result["trend"] = []
    return result


EVENTS_PAGE_SIZE = 100

# The chronology's sources as a reader names them (the source column of the Child page).
SOURCE_LABELS = {
    "ssd_cin_episodes": "Social care: referrals",
    "ssd_cin_assessments": "Social care: assessments",
    "ssd_assessment_factors": "Social care: assessment factors",
    "ssd_cin_plans": "Social care: CIN plans",
    "plan_actions": "Plan actions",
    "ssd_cin_visits": "Social care: visits",
    "ssd_s47_enquiry": "Social care: section 47 enquiries",
    "ssd_initial_cp_conference": "Social care: child protection conferences",
    "meetings": "Meetings",
    "meeting_invitations": "Meeting invitations",
    "voice_records": "Voice of the child",
    "information_sharing": "Information sharing",
    "professional_differences": "Professional differences",
    "transition_plans": "Transition plans",
    "family_contacts": "Contacts with the family",
    "ssd_involvements": "Social care: allocated workers",
    "ssd_professionals": "Social care: workers",
    "agency_flags": "Agency flags",
    "person_links": "Linked records",
    "gp_registrations": "GP registrations",
    "person_identifiers": "Identifiers",
    "ehcp_plans": "EHCP plans",
    "attendance_sessions": "School attendance register",
    "attendance_summaries": "School attendance summaries",
    "ssd_address": "Social care: addresses",
}


def source_label(source_table: str) -> str:
    parts = [p.strip() for p in source_table.split("+")]
    return " + ".join(SOURCE_LABELS.get(p, p.replace("_", " ")) for p in parts)


_ID_LISTS = re.compile(r"=\s*([A-Za-z0-9][A-Za-z0-9_/-]*(?:\s*,\s*[A-Za-z0-9][A-Za-z0-9_/-]*)*)")
_DATES = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
FIRED_FALLBACK_LIMIT = 12


def records_that_fired(row: dict, events: list[ChronologyEvent], person_id: str) -> list[ChronologyEvent]:
    """The chronology records an exception points at: those whose record id its entity id or its
    locator names; failing that, the events of the sources its locator names within its dates
    (e.g. the months of attendance a low-attendance row covers). Read from what the user is
    shown (`shown_entity_id`; `fired_locator`, the machine form of the locator shown), among the
    events the user may see."""
    entity = row.get("shown_entity_id") or ""
    locator = row.get("fired_locator") or row.get("shown_locator") or ""
    ids = {part for part in re.split(r"[:;,\s]+", entity) if part}
    for found in _ID_LISTS.findall(locator):
        ids.update(part.strip() for part in found.split(","))
    ids -= {person_id, "", row.get("agency") or ""}
    matched = [e for e in events if e.record_id and e.record_id in ids]
    if matched:
        return matched
    named = {source for source in SOURCE_LABELS if re.search(rf"\b{source}\b", locator)}
    if not named:
        return []
    dates = sorted(date.fromisoformat(d) for d in _DATES.findall(locator) if _valid_date(d))
    low, high = (dates[0], dates[-1]) if len(dates) >= 2 else (None, None)
    window = [
        e
        for e in events
        if {p.strip() for p in e.source_table.split("+")} & named
        and (low is None or (e.event_date is not None and low <= e.event_date <= high))
    ]
    return window[-FIRED_FALLBACK_LIMIT:]


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def child_known(cur, person_id: str) -> bool:
    """A child the store knows: linked to a record of any agency."""
    return bool(
        cur.execute("SELECT count(*) FROM person_links WHERE person_id = $person", {"person": person_id}).fetchall()[0][
            0
        ]
    )


def child_facts(cur, person_id: str, as_at: date) -> dict:
    """The facts header: age, CiN since, CP, EHCP, allocated worker(s) with team, school, GP."""
    facts = _dicts(cur.execute(CHILD_FACTS_SQL, {"person_id": person_id, "as_at": as_at}))[0]
    workers = cur.execute(ALLOCATED_WORKER_SQL, {"person_id": person_id, "as_at": as_at}).fetchall()
    names = {
        r["professional_id"]: r
        for r in _dicts(
            cur.execute(
                "SELECT professional_id, professional_name, teams FROM web_professional_teams "
                "WHERE list_contains(CAST($ids AS VARCHAR[]), professional_id)",
                {"ids": [w[0] for w in workers]},
            )
        )
    }
    facts["workers"] = [
        {
            "professional_id": professional,
            "since": since,
            "name": (names.get(professional) or {}).get("professional_name"),
            "teams": list((names.get(professional) or {}).get("teams") or []),
        }
        for professional, since in workers
    ]
    return facts


def child(cur, user: User, person_id: str, web_tables, review_due_days: int, events_page: int = 1) -> dict | None:
    """Everything the user may see about one child, or None when nothing is in scope (404).

    An officer sees every child the store knows (with or without an open exception, such as an
    audit sample's control children); a partner only a child with a row in their scope, and only
    their own agency's links and events."""
    _register(cur, web_tables)
    params = _parameters(cur, user, {"person": person_id}, review_due_days)
    rows = _dicts(cur.execute(f"SELECT * FROM ({SCOPED_SQL}) ORDER BY priority_order", params))
    if not rows and not (user.is_officer and child_known(cur, person_id)):
        return None
    as_at = snapshot_info(cur)["as_at"]
    agency_only = None if user.is_officer else user.agency
    links = _dicts(
        cur.execute(
            """SELECT agency, agency_record_id, method, match_probability FROM person_links
           WHERE person_id = $person AND ($agency IS NULL OR agency = $agency)
           ORDER BY agency, agency_record_id""",
            {"person": person_id, "agency": agency_only},
        )
    )
    events = [e for e in child_events(cur, person_id, as_at) if agency_only is None or e.agency == agency_only]
    for row in rows:
        row["fired"] = records_that_fired(row, events, person_id)
    newest_first = events[::-1]
    pages = max(1, -(-len(newest_first) // EVENTS_PAGE_SIZE))
    events_page = max(1, min(events_page, pages))
    shown = newest_first[(events_page - 1) * EVENTS_PAGE_SIZE : events_page * EVENTS_PAGE_SIZE]
    facts = child_facts(cur, person_id, as_at)
    if not user.is_officer:  # a partner: the child's age and the allocated worker, no other agency's facts
        facts = {"age_years": facts["age_years"], "workers": facts["workers"], "partner": True}
    ids = [r["exception_id"] for r in rows]
    cur.register("child_ids", pa.table({"exception_id": pa.array(ids, pa.string())}))
    past = _dicts(
        cur.execute(
            """SELECT exception_id, annotated_at AS at, review_status AS status, review_note AS note, source_file
           FROM annotations WHERE exception_id IN (SELECT exception_id FROM child_ids)
             AND source_file IS DISTINCT FROM 'caseflags web'
           ORDER BY annotated_at DESC"""
        )
    )
    return {
        "person_id": person_id,
        "as_at": as_at,
        "rows": rows,
        "links": links,
        "facts": facts,
        "events": shown,
        "events_total": len(events),
        "events_page": events_page,
        "events_pages": pages,
        "events_page_size": EVENTS_PAGE_SIZE,
        "imported_reviews": past,
    }


def child_events(cur, person_id: str, as_at: date) -> list[ChronologyEvent]:
    """The child's chronology as the audit packs build it (`CHRONOLOGY_SOURCES`, same filter and
    order), one small query per source: planning the single UNION of every source costs DuckDB
    about half a second, each source on its own a few milliseconds."""
    present = {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    found = []
    for rank, (_source, (tables, sql)) in enumerate(CHRONOLOGY_SOURCES.items()):
        if not set(tables) <= present:
            continue
        wrapped = (
            f"SELECT CAST(event_date AS DATE), agency, source_table, event_type, description, record_id "
            f"FROM ({sql}) AS source_events(event_date, agency, source_table, event_type, description, record_id) "
            f"WHERE event_date IS NULL OR event_date <= $as_at"
        )
        for row in cur.execute(wrapped, {"person_id": person_id, "as_at": as_at}).fetchall():
            found.append((rank, row))
    found.sort(
        key=lambda item: (
            item[1][0] is None,
            item[1][0] or date.min,
            item[0],
            item[1][5] is None,
            item[1][5] or "",
            item[1][3],
            item[1][4],
        )
    )
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
    return bool(
        cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $name", {"name": name}).fetchall()[0][0]
    )


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
