"""Duplicate business keys, resolved row by row (keys: caseflags/contracts/keys.py).

Among the rows that passed every other rule, rows sharing a table's key are:
- identical in every contract column: one record delivered twice. The first (first source,
  lowest line) loads; each repeat is quarantined, `duplicate key (…): identical to line N of F,
  loaded once`.
- different: no way to tell which is right, so none loads; each is quarantined,
  `duplicate key (…): K rows with this key differ, none loaded (first at line N of F)`.
The reason names the key columns and locations, never the key's value.
"""

from __future__ import annotations

import polars as pl

from caseflags.contracts.keys import KEYS_IGNORING_ROWS_WITH_MISSING_PART, UNIQUE_KEYS
from caseflags.ingest.common import LINE, SOURCE


def resolve_duplicates(
    table: str, data: pl.DataFrame, columns: list[str], source: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows to load, problems: file, line, column_name, reason) for `data` holding the
    contract columns plus `_line` (and `_source`, or every row from the file `source`), in
    delivery order."""
    no_problems = pl.DataFrame(schema={"file": pl.Utf8, "line": pl.Int64, "column_name": pl.Utf8, "reason": pl.Utf8})
    key = UNIQUE_KEYS.get(table)
    if not key or data.height < 2:
        return data, no_problems
    # Cheap first look (one hash per row, no copy of the rows): most deliveries have no duplicate.
    if not data.lazy().select(pl.struct(key).hash().is_duplicated().any()).collect().item():
        return data, no_problems
    keyed = (
        pl.all_horizontal([pl.col(k).is_not_null() for k in key])
        if table in KEYS_IGNORING_ROWS_WITH_MISSING_PART
        else pl.lit(True)
    )
    order = "\x00order"
    marked = data.with_row_index(order).with_columns((keyed & (pl.len().over(key) > 1)).alias("\x00dup"))
    if SOURCE not in marked.columns:
        marked = marked.with_columns(pl.lit(source, pl.Utf8).alias(SOURCE))
    if not marked.get_column("\x00dup").any():
        return data, no_problems
    dups = (
        marked.filter(pl.col("\x00dup"))
        .with_columns(pl.struct(columns).hash().alias("\x00content"))
        .with_columns(
            (pl.col("\x00content").n_unique().over(key) == 1).alias("\x00identical"),
            pl.col(order).min().over(key).alias("\x00first"),
            pl.len().over(key).alias("\x00count"),
        )
    )
    first = dups.filter(pl.col(order) == pl.col("\x00first")).select(
        *key, pl.col(LINE).alias("\x00first_line"), pl.col(SOURCE).alias("\x00first_file")
    )
    dups = dups.join(first, on=list(key), how="left", nulls_equal=True)
    label = ", ".join(key)
    identical = pl.format(
        f"duplicate key ({label}): identical to line {{}} of {{}}, loaded once",
        pl.col("\x00first_line"),
        pl.col("\x00first_file"),
    )
    different = pl.format(
        f"duplicate key ({label}): {{}} rows with this key differ, none loaded (first at line {{}} of {{}})",
        pl.col("\x00count"),
        pl.col("\x00first_line"),
        pl.col("\x00first_file"),
    )
    rejected = dups.filter(~pl.col("\x00identical") | (pl.col(order) != pl.col("\x00first")))
    problems = rejected.select(
        pl.col(SOURCE).alias("file"),
        pl.col(LINE).alias("line"),
        pl.lit(None, pl.Utf8).alias("column_name"),
        pl.when(pl.col("\x00identical")).then(identical).otherwise(different).alias("reason"),
    )
    dropped = rejected.get_column(order)
    kept = data.with_row_index(order).filter(~pl.col(order).is_in(dropped.implode())).drop(order)
    return kept, problems
