"""One child given by several sources: an `ssd_person.csv` row and a CIN census child, or the
same child in two census years, share the authority's own id (`pers_person_id` = `LAchildID`).

They are one child, merged into one `ssd_person` row, when they agree: the census carries no
names, so a UPN and a date of birth that agree (where both sources give one) confirm it. Each
column takes the first value given, in order of trust: the CSV (the authority's case-management
system, nightly) first, then the returns, the latest census year first. A sex of `U` (not known,
or an unborn child) gives way to a known one.

Sources that disagree on who the child is (a different UPN, date of birth, sex, NHS number,
name or death date under the same id) cannot be settled by caseflags: every row of that id is
quarantined, one quarantine row per differing column, naming the column and the other sources'
lines, never the values. The rows that depend on that child (episodes, assessments, plans, S47
enquiries, conferences, disabilities, identifiers, visits, ...: every table with a person id,
and assessment factors through their assessment) are then quarantined too, so no row loads
without its child and the ledger (read = loaded + quarantined, per file) stays true. A row
merged into another source's row counts as loaded for its own file (`merged` in the ledger).

docs/RETURNS.md "A child given by a CSV and returns".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import polars as pl

from caseflags.contracts.keys import UNIQUE_KEYS
from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import LINE, SOURCE
from caseflags.ingest.extracts import ParsedExtract, _quarantine_frame, rejected_by_source
from caseflags.ingest.scan import DEFAULT_LIMITS, IngestLimits

PERSON_KEY = "pers_person_id"
# Who the child is: sources that disagree here are two accounts of a child that caseflags
# cannot settle. Compared after trimming (UPN and names also without regard to case).
IDENTITY_COLUMNS = (
    "pers_upn",
    "pers_dob",
    "pers_sex",
    "pers_single_unique_id",
    "pers_forename",
    "pers_surname",
    "pers_death_date",
)
UNKNOWN_SEX = {"U"}
# Tables whose rows hang on a person by another table's key, not a person column.
DEPENDENT_BY_KEY = {"ssd_assessment_factors": ("cinf_assessment_id", "ssd_cin_assessments", "cina_assessment_id")}


def person_column(table: str) -> str | None:
    """The column of `table` that holds the child's `pers_person_id`, if it has one."""
    if table == "ssd_person":
        return None
    for column in load_contract()[table].column_names:
        if column.endswith("person_id") and not column.startswith("la_"):
            return column
    return None


@dataclass
class PeopleOutcome:
    """What merging decided, for the tables staged after `ssd_person`."""

    conflicts: dict[str, str] = field(default_factory=dict)  # person id -> the columns the sources disagree on
    withheld_keys: dict[str, set] = field(default_factory=dict)  # table -> keys of rows quarantined with their child


def _normalised(column: str, dtype: pl.DataType) -> pl.Expr:
    """The value compared between sources: trimmed, blank as missing; UPN, names and sex without
    regard to case; a sex of `U` (not known) as missing."""
    expr = pl.col(column)
    if dtype != pl.Utf8:
        return expr
    expr = expr.str.strip_chars()
    if column in ("pers_upn", "pers_forename", "pers_surname", "pers_sex"):
        expr = expr.str.to_lowercase()
    if column == "pers_sex":
        expr = pl.when(expr.is_in([u.lower() for u in UNKNOWN_SEX])).then(None).otherwise(expr)
    return pl.when(expr == "").then(None).otherwise(expr)


def combine_people(
    parts: list[ParsedExtract], ranks: dict[str, int], limits: IngestLimits = DEFAULT_LIMITS
) -> tuple[ParsedExtract, PeopleOutcome]:
    """`ssd_person` from several sources (each already free of its own duplicate ids), with each
    child given by more than one source merged or, when the sources disagree, quarantined.
    `ranks`: order of trust per source name (lower first)."""
    outcome = PeopleOutcome()
    columns = load_contract()["ssd_person"].column_names
    frames = [p.data if SOURCE in p.data.columns else p.data.with_columns(pl.lit(p.file).alias(SOURCE)) for p in parts]
    data = pl.concat(frames, how="vertical_relaxed")
    shared = pl.col(SOURCE).n_unique().over(PERSON_KEY) > 1
    single = data.filter(~shared)
    several = (
        data.filter(shared)
        .with_columns(pl.col(SOURCE).replace_strict(ranks, default=len(ranks), return_dtype=pl.Int64).alias("\x00rank"))
        .sort("\x00rank", LINE)
    )
    merged: dict[str, int] = {}
    conflict_rows: dict[str, list[dict]] = {}
    merged_frame = None
    if several.height:
        normal = {c: f"\x00n_{c}" for c in IDENTITY_COLUMNS}
        several = several.with_columns(_normalised(c, several.schema[c]).alias(n) for c, n in normal.items())
        differing = (
            several.group_by(PERSON_KEY)
            .agg((pl.col(n).drop_nulls().n_unique() > 1).alias(c) for c, n in normal.items())
            .filter(pl.any_horizontal(IDENTITY_COLUMNS))
        )
        conflicted = several.filter(pl.col(PERSON_KEY).is_in(differing.get_column(PERSON_KEY).implode()))
        agreeing = several.filter(~pl.col(PERSON_KEY).is_in(differing.get_column(PERSON_KEY).implode()))
        columns_of = {
            row[PERSON_KEY]: [c for c in IDENTITY_COLUMNS if row[c]] for row in differing.iter_rows(named=True)
        }
        for _key, group in conflicted.group_by(PERSON_KEY, maintain_order=True):
            rows = group.select(*columns, SOURCE, LINE).to_dicts()
            differ = columns_of[rows[0][PERSON_KEY]]
            outcome.conflicts[rows[0][PERSON_KEY]] = ", ".join(differ)
            for row in rows:
                others = "; ".join(f"{o[SOURCE]} line {o[LINE]}" for o in rows if o is not row)
                for column in differ:
                    conflict_rows.setdefault(row[SOURCE], []).append(
                        {
                            "line": row[LINE],
                            "column_name": column,
                            "reason": f"the same child ({PERSON_KEY}) is given with a different {column} by "
                            f"{others}: none of them loaded, nor the rows that depend on the child",
                            "raw": ",".join("" if row[c] is None else str(row[c]) for c in columns),
                        }
                    )
        if agreeing.height:
            # Column by column, the first value given in order of trust; a known sex before `U`.
            known_sex = pl.when(pl.col(normal["pers_sex"]).is_not_null()).then(pl.col("pers_sex"))
            merged_frame = (
                agreeing.group_by(PERSON_KEY, maintain_order=True)
                .agg(
                    *[pl.col(c).drop_nulls().first() for c in columns if c not in (PERSON_KEY, "pers_sex")],
                    pl.coalesce(known_sex.drop_nulls().first(), pl.col("pers_sex").drop_nulls().first()).alias(
                        "pers_sex"
                    ),
                    pl.col(SOURCE).first(),
                    pl.col(LINE).first(),
                )
                .select(data.columns)
                .cast(data.schema)
            )
            later = agreeing.filter(pl.int_range(pl.len()).over(PERSON_KEY) > 0)
            merged = dict(later.group_by(SOURCE).len().iter_rows())
    kept = pl.concat([single, merged_frame]) if merged_frame is not None else single
    quarantine = [p.quarantine for p in parts]
    rejected = rejected_by_source(parts)
    issues = pl.concat([p.identifier_issues for p in parts])
    for source, rows in conflict_rows.items():
        quarantine.append(_quarantine_frame(source, rows, {r["line"]: r["raw"] for r in rows}, limits))
        rejected[source] = rejected.get(source, 0) + len({r["line"] for r in rows})
        lines = pl.DataFrame(
            {"file": [source] * len(rows), "line": [r["line"] for r in rows]},
            schema={"file": pl.Utf8, "line": pl.Int64},
        ).unique()
        issues = issues.join(lines, on=["file", "line"], how="anti")
    parsed = ParsedExtract(
        table="ssd_person",
        file=" + ".join(p.file for p in parts),
        content_sha256=hashlib.sha256(":".join(p.content_sha256 for p in parts).encode()).hexdigest(),
        rows_read=sum(p.rows_read for p in parts),
        data=kept.sort(SOURCE, LINE),
        quarantine=pl.concat(quarantine),
        identifier_issues=issues,
        reads={k: v for p in parts for k, v in p.reads.items()},
        rejected=rejected,
        warnings=pl.concat([p.warnings for p in parts]),
        merged=merged,
    )
    return parsed, outcome


def quarantine_dependents(
    parsed: ParsedExtract, outcome: PeopleOutcome, limits: IngestLimits = DEFAULT_LIMITS
) -> ParsedExtract:
    """Rows of `parsed` that hang on a child quarantined for disagreeing sources: quarantined
    too, naming the column that points at the child."""
    if not outcome.conflicts:
        return parsed
    table = parsed.table
    column = person_column(table)
    if column is not None:
        hit = pl.col(column).is_in(list(outcome.conflicts))
        reason_of = {
            pid: f"its child ({column}) was quarantined: the sources disagree on {cols}"
            for pid, cols in outcome.conflicts.items()
        }
    elif table in DEPENDENT_BY_KEY:
        column, parent, _parent_key = DEPENDENT_BY_KEY[table]
        withheld = outcome.withheld_keys.get(parent, set())
        if not withheld:
            return parsed
        hit = pl.col(column).is_in(list(withheld))
        reason_of = None
    else:
        return parsed
    data = parsed.data if SOURCE in parsed.data.columns else parsed.data.with_columns(pl.lit(parsed.file).alias(SOURCE))
    dropped = data.filter(hit)
    if not dropped.height:
        return parsed
    key = UNIQUE_KEYS.get(table)
    if key and len(key) == 1:
        outcome.withheld_keys.setdefault(table, set()).update(dropped.get_column(key[0]).to_list())
    columns = load_contract()[table].column_names
    quarantine = [parsed.quarantine]
    rejected = dict(parsed.rejected)
    for (source,), group in dropped.group_by(SOURCE, maintain_order=True):
        rows, raw = [], {}
        for row in group.iter_rows(named=True):
            reason = (
                reason_of[row[column]]
                if reason_of is not None
                else f"its assessment ({column}) was quarantined with its child, whose sources disagree"
            )
            rows.append({"line": row[LINE], "column_name": column, "reason": reason})
            raw[row[LINE]] = ",".join("" if row[c] is None else str(row[c]) for c in columns)
        quarantine.append(_quarantine_frame(source, rows, raw, limits))
        rejected[source] = rejected.get(source, 0) + group.height
    kept = parsed.data.filter(~hit)
    lines = dropped.select(pl.col(SOURCE).alias("file"), pl.col(LINE).alias("line"))
    issues = parsed.identifier_issues.join(lines, on=["file", "line"], how="anti")
    return replace(parsed, data=kept, quarantine=pl.concat(quarantine), identifier_issues=issues, rejected=rejected)


def supersede_earlier_census(
    parts: list[ParsedExtract], ranks: dict[str, int], outcome: PeopleOutcome | None = None
) -> tuple[list[ParsedExtract], dict[str, int]]:
    """The same record (same key: an episode, assessment, plan, ... of the same child on the same
    date) given by returns of several census years: the latest census's row is kept (it holds the
    later state, e.g. the episode's closure); the earlier ones are merged into it, counted as
    loaded for their own file. Rows of a child quarantined for disagreeing sources are left alone
    (quarantined with the child). A CSV row is never superseded: a clash with a CSV stays a
    duplicate key (`duplicates.py`)."""
    table = parts[0].table
    # A table without a key (linked identifiers: a FormerUPN in both years) merges identical rows.
    key = UNIQUE_KEYS.get(table) or tuple(load_contract()[table].column_names)
    returns = [p for p in parts if ranks.get(p.file, 0) >= 1]
    if len(returns) < 2:
        return parts, {}
    column = person_column(table)
    conflicted = list(outcome.conflicts) if outcome is not None and column is not None else []
    keyed = pl.concat(
        [
            p.data.select(*key).with_columns(
                pl.lit(ranks[p.file], pl.Int64).alias("\x00rank"), pl.lit(p.file).alias(SOURCE)
            )
            for p in returns
        ],
        how="vertical_relaxed",
    )
    best = keyed.group_by(key).agg(
        pl.col("\x00rank").min().alias("\x00best"), pl.col(SOURCE).n_unique().alias("\x00sources")
    )
    shared = best.filter(pl.col("\x00sources") > 1)
    if not shared.height:
        return parts, {}
    merged: dict[str, int] = {}
    result = []
    for part in parts:
        if part not in returns:
            result.append(part)
            continue
        marked = part.data.join(shared.select(*key, "\x00best"), on=list(key), how="left", nulls_equal=True)
        drop = pl.col("\x00best").is_not_null() & (pl.col("\x00best") < ranks[part.file])
        if conflicted:
            drop = drop & ~pl.col(column).is_in(conflicted)
        dropped = marked.filter(drop).height
        if dropped:
            merged[part.file] = dropped
            part = replace(part, data=marked.filter(~drop).drop("\x00best"))
        result.append(part)
    return result, merged
