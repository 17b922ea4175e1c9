"""Cross-border linkage: which child of one authority is a person another authority shares.

The in-authority person index (caseflags.linkage.people.link_people) does the matching, called
through its public entry point, not copied: for each home authority a private in-memory store
holds its shared children as `ssd_person` (with `ssd_address`) and every OTHER authority's
shared people as partner records (`agency_records`, record id `<LA code>/<local id>`). So the
same rules apply across the border as within an authority: identifiers first (NHS number, UPN),
then splink on names, date of birth, sex and postcode with the model trained from the
identifier-linked pairs, the same thresholds, nothing logged but counts.

Each authority keeps its own ids: a link joins (home LA, its child id) to (other LA, its own id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from caseflags.linkage.people import link_people
from caseflags.resources import SQL_DIR
from caseflags.store.database import ensure_store

log = logging.getLogger(__name__)

# A probabilistic match contradicted by a differing NHS number or UPN is not a link across the border.
CONTRADICTED_SQL = SQL_DIR / "region/contradicted.sql"
LINK_COLUMNS = ("home_la", "home_person_id", "other_la", "other_local_id", "method", "match_probability")
CANDIDATE_COLUMNS = ("home_la", "home_person_id", "other_la", "other_local_id", "match_probability", "evidence")


@dataclass(frozen=True)
class RegionLinkSummary:
    """Counts only: safe to log and to put in the regional run record."""

    links_by_method: dict[str, int]
    possible_matches: int
    authorities_linked: int


def link_region(
    region: duckdb.DuckDBPyConnection, match_threshold: float, review_threshold: float
) -> RegionLinkSummary:
    """Rebuild region_links and region_possible_matches from region_people."""
    people = region.sql(
        "SELECT la_code, local_id, source, nhs_number, upn, forename, surname, dob, sex, postcode FROM region_people"
    ).pl()
    links, candidates = [], []
    codes = sorted(set(people.get_column("la_code").to_list()))
    for home in codes if len(codes) > 1 else []:
        home_children = people.filter((pl.col("la_code") == home) & (pl.col("source") == "SOCIAL_CARE"))
        others = people.filter(pl.col("la_code") != home)
        if home_children.height == 0 or others.height == 0:
            continue
        found, possible = _link_home(home, home_children, others, match_threshold, review_threshold)
        links.append(found)
        candidates.append(possible)
    link_frame = pl.concat(links) if links else _empty(LINK_COLUMNS)
    candidate_frame = pl.concat(candidates) if candidates else _empty(CANDIDATE_COLUMNS)
    region.execute("BEGIN TRANSACTION")
    try:
        region.execute("DELETE FROM region_links")
        region.execute("DELETE FROM region_possible_matches")
        region.register("_links", link_frame)
        region.execute(f"INSERT INTO region_links SELECT {', '.join(LINK_COLUMNS)} FROM _links")
        region.unregister("_links")
        region.register("_candidates", candidate_frame)
        region.execute(f"INSERT INTO region_possible_matches SELECT {', '.join(CANDIDATE_COLUMNS)} FROM _candidates")
        region.unregister("_candidates")
        region.execute("COMMIT")
    except BaseException:
        region.execute("ROLLBACK")
        raise
    by_method = dict(
        region.execute("SELECT method, count(*) FROM region_links GROUP BY method ORDER BY method").fetchall()
    )
    summary = RegionLinkSummary(by_method, candidate_frame.height, len(links))
    log.info(
        "region linkage: links by method %s, %d possible matches", summary.links_by_method, summary.possible_matches
    )
    return summary


def _empty(columns) -> pl.DataFrame:
    return pl.DataFrame(schema={c: (pl.Float64 if c == "match_probability" else pl.Utf8) for c in columns})


def _link_home(
    home: str, children: pl.DataFrame, others: pl.DataFrame, match_threshold: float, review_threshold: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    with duckdb.connect() as work:
        ensure_store(work)
        work.register("_children", children)
        work.execute(
            """INSERT INTO ssd_person (pers_person_id, pers_upn, pers_single_unique_id, pers_forename, pers_surname,
                                       pers_dob, pers_sex)
               SELECT local_id, upn, nhs_number, forename, surname, dob, sex FROM _children WHERE dob IS NOT NULL"""
        )
        work.execute(
            "INSERT INTO ssd_address (addr_person_id, addr_address_postcode) SELECT local_id, postcode FROM _children "
            "WHERE postcode IS NOT NULL"
        )
        work.unregister("_children")
        work.register("_others", others)
        work.execute(
            """INSERT INTO agency_records (agency, agency_record_id, nhs_number, upn, forename, surname, dob, sex, postcode)
               SELECT source, la_code || '/' || local_id, nhs_number, upn, forename, surname, dob, sex, postcode
               FROM _others"""
        )
        work.unregister("_others")
        link_people(
            work,
            match_threshold=match_threshold,
            review_threshold=review_threshold,
            model_path=None,
            offer_contradicted=True,
        )
        work.execute(CONTRADICTED_SQL.read_text())
        found = work.sql(
            """SELECT $home AS home_la, person_id AS home_person_id, split_part(agency_record_id, '/', 1) AS other_la,
                      substr(agency_record_id, strpos(agency_record_id, '/') + 1) AS other_local_id, method,
                      match_probability
               FROM person_links
               WHERE method <> 'LA_ID' AND strpos(agency_record_id, '/') > 0
                 AND (agency_record_id, person_id) NOT IN (SELECT agency_record_id, person_id FROM contradicted)
               ORDER BY ALL""",
            params={"home": home},
        ).pl()
        possible = work.sql(
            """SELECT $home AS home_la, person_id AS home_person_id, split_part(agency_record_id, '/', 1) AS other_la,
                      substr(agency_record_id, strpos(agency_record_id, '/') + 1) AS other_local_id,
                      match_probability, evidence
               FROM link_candidates
               UNION ALL
               SELECT $home, person_id, split_part(agency_record_id, '/', 1),
                      substr(agency_record_id, strpos(agency_record_id, '/') + 1), match_probability,
                      'model match, but an NHS number or UPN differs'
               FROM contradicted
               ORDER BY ALL""",
            params={"home": home},
        ).pl()
    return found, possible
