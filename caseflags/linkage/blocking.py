"""Candidate pairs: the blocking rules the model scores, and how many true pairs they reach.

A child (left, `l`) and a partner record (right, `r`) are compared when they share one of
these. Each rule is a plain SQL condition on `l` and `r`, so the same text drives splink and the
blocking-recall measure (`blocking_recall`). Together the rules survive, each on its own:

| damage | still caught by |
|---|---|
| a corrupted surname | `dob`; forename + birth year / + day-month; forename + postcode |
| a swapped day and month | `dob_swapped`; forename + surname + birth year |
| a DOB typo (one character) | forename + surname + birth year, or + day and month (one of the two is intact) |
| a DOB missing or unparseable | forename + surname when the record has no DOB; forename / surname + postcode |
| a missing forename or surname | `dob`; surname / forename + postcode |
| a changed postcode | `dob`; the name rules |
| a DOB and a postcode both changed | forename + surname + postcode district |
| forename and surname swapped | `dob`; forename = other's surname and surname = other's forename |
| a nickname | `dob`; surname + postcode; surname + forename form + birth year |

Each rule stays small on an authority's data: a birth date is shared by a handful of children,
and a postcode by a household or a street. Surname and birth year alone would make 5 million
pairs on the generator's `large` profile (its names are few); with the forename, 0.3 million.
"""

from __future__ import annotations

import duckdb

# (name, SQL condition on l = child and r = record). Order matters only for the measure's report.
BLOCKING_RULES: tuple[tuple[str, str], ...] = (
    ("dob", "l.dob = r.dob"),
    ("dob_swapped", "l.dob = r.dob_swapped"),
    (
        "names_birth_year",
        "l.forename = r.forename AND l.surname = r.surname AND substr(l.dob, 1, 4) = substr(r.dob, 1, 4)",
    ),
    (
        "names_birth_day_month",
        "l.forename = r.forename AND l.surname = r.surname AND substr(l.dob, 6, 5) = substr(r.dob, 6, 5)",
    ),
    ("names_no_record_dob", "l.forename = r.forename AND l.surname = r.surname AND r.dob IS NULL"),
    (
        "nickname_surname_birth_year",
        "l.forename_formal = r.forename_formal AND l.surname = r.surname AND substr(l.dob, 1, 4) = substr(r.dob, 1, 4)",
    ),
    (
        "names_postcode_district",
        "l.forename = r.forename AND l.surname = r.surname AND l.postcode_district = r.postcode_district",
    ),
    ("forename_postcode", "l.forename = r.forename AND l.postcode = r.postcode"),
    ("surname_postcode", "l.surname = r.surname AND l.postcode = r.postcode"),
    ("names_swapped", "l.forename = r.surname AND l.surname = r.forename"),
    ("postcode_birth_month", "l.postcode = r.postcode AND substr(l.dob, 1, 7) = substr(r.dob, 1, 7)"),
)

# EM training sessions: each leaves out of the estimate the fields it blocks on, so together
# they estimate every comparison (dob from the names and postcode sessions, names from dob).
EM_TRAINING_RULES: tuple[str, ...] = (
    "l.dob = r.dob",
    "l.forename = r.forename AND l.surname = r.surname",
    "l.postcode = r.postcode",
)


def splink_blocking_rules() -> list[str]:
    return [condition for _, condition in BLOCKING_RULES]


def blocking_recall(con: duckdb.DuckDBPyConnection, children: str, records: str, true_pairs: str) -> dict:
    """Of the true (child, record) pairs, how many any blocking rule reaches, and each rule alone.

    `children` has person_id and the model columns, `records` agency, agency_record_id and the
    model columns, `true_pairs` agency, agency_record_id, person_id (table or view names, not
    data). Returns counts only: {"true_pairs", "reached", "recall", "by_rule": {name: reached}}.
    """
    flags = ",\n".join(f'coalesce(({condition}), false) AS "{name}"' for name, condition in BLOCKING_RULES)
    rows = con.execute(
        f"""
        WITH judged AS (
            SELECT {flags}
            FROM {true_pairs} AS t
            JOIN {children} AS l ON l.person_id = t.person_id
            JOIN {records} AS r ON r.agency = t.agency AND r.agency_record_id = t.agency_record_id
        )
        SELECT count(*), {", ".join(f'count(*) FILTER (WHERE "{name}")' for name, _ in BLOCKING_RULES)},
               count(*) FILTER (WHERE {" OR ".join(f'"{name}"' for name, _ in BLOCKING_RULES)})
        FROM judged
        """
    ).fetchone()
    total, *per_rule, reached = rows
    missing = con.execute(f"SELECT count(*) FROM {true_pairs}").fetchone()[0] - total
    total += missing  # a true pair whose child or record is not in the inputs is never reached
    return {
        "true_pairs": total,
        "reached": reached,
        "recall": round(reached / total, 5) if total else None,
        "by_rule": {name: n for (name, _), n in zip(BLOCKING_RULES, per_rule)},
    }
