"""Parquet and XLSX extracts read as text, refusing what cannot be read and nothing more.

A file the library cannot open (corrupt Parquet, damaged workbook) is refused by name with
the kind of error only (never a cell value). A Parquet column of a kind no contract column can
hold (struct, binary, a list outside the factor list, objects) refuses the file naming the
column, rather than loading a rendering such as `{"…"}`. Values are turned into text the way
an agency would have typed them: whole floats lose `.0`, NaN (pandas' missing value) is blank,
an infinite number is a row-level fault (quarantined), a value longer than `max_field_size`
is quarantined with its length.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from caseflags.contracts.schema import TableSpec
from caseflags.ingest.common import LINE, ExtractRefused, header_map
from caseflags.ingest.scan import IngestLimits
from caseflags.outputs.workbook_guard import workbook_problems

_PROBLEM = "\x00problem"


def read_tabular_text(
    path: Path, spec: TableSpec, limits: IngestLimits, header_out: list[str] | None = None
) -> tuple[pl.DataFrame, list[dict], dict[int, str]]:
    """Contract columns as text plus `_line`, the rows unreadable as records, and those rows'
    delivered values (comma-joined) by line."""
    file = path.name
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            raw = pl.read_parquet(path)
        except Exception as exc:  # corrupt or not Parquet: refuse by name, no values echoed
            raise ExtractRefused(file, f"unreadable Parquet file ({type(exc).__name__})") from None
        first_row, empty = 1, "no rows"
    elif suffix == ".xlsx":
        too_big = workbook_problems(path)  # [limits]: before calamine holds it in memory
        if too_big:
            raise ExtractRefused(
                file, too_big[0].removeprefix(f"{file}: ").replace("; nothing was read", "") + ": deliver it as CSV"
            )
        try:
            raw = pl.read_excel(path, sheet_id=1, engine="calamine", infer_schema_length=0)
        except Exception as exc:  # damaged workbook
            raise ExtractRefused(file, f"unreadable workbook ({type(exc).__name__})") from None
        first_row, empty = 2, "header row only: no records"  # row 1 is the header
    else:
        raise ExtractRefused(file, "unsupported file type")
    positions = header_map([str(c) for c in raw.columns], spec, file, header_out)
    if raw.height == 0:
        raise ExtractRefused(file, empty)
    original = raw.columns
    texts: list[pl.Expr] = []
    faults: list[pl.Expr] = []
    for c in spec.column_names:
        if c not in positions:
            texts.append(pl.lit(None, pl.Utf8).alias(c))
            continue
        series = raw.get_column(original[positions[c]])
        text, fault = _as_text(series, spec.column(c).kind, file, c)
        texts.append(text.alias(c))
        too_long = text.str.len_chars() > limits.max_field_size
        reason = pl.lit(f"value longer than max_field_size ({limits.max_field_size} characters)")
        fault = pl.when(too_long).then(reason).otherwise(fault) if fault is not None else pl.when(too_long).then(reason)
        faults.append(fault.alias(f"{c}{_PROBLEM}"))
    try:
        frame = (
            raw.lazy()
            .select([*texts, *faults])
            .collect()
            .with_row_index(LINE, offset=first_row)
            .with_columns(pl.col(LINE).cast(pl.Int64))
        )
    except Exception as exc:
        raise ExtractRefused(file, f"unreadable values ({type(exc).__name__})") from None
    fault_columns = [f for f in frame.columns if f.endswith(_PROBLEM)]
    flagged = (
        frame.filter(pl.any_horizontal([pl.col(f).is_not_null() for f in fault_columns]))
        if fault_columns
        else frame.clear()
    )
    unreadable = []
    for row in flagged.select(LINE, *fault_columns).iter_rows(named=True):
        for name in fault_columns:
            if row[name] is not None:
                unreadable.append({"line": row[LINE], "column_name": name[: -len(_PROBLEM)], "reason": row[name]})
    faulty = joined_values(flagged.select(LINE, *spec.column_names))
    if faulty:
        frame = frame.filter(~pl.col(LINE).is_in(list(faulty)))
    return frame.select([LINE, *spec.column_names]), unreadable, faulty


def _as_text(series: pl.Series, kind: str, file: str, column: str) -> tuple[pl.Expr, pl.Expr | None]:
    """An expression giving the column as text, and one giving a row-level fault (or None)."""
    col = pl.col(series.name)
    dtype = series.dtype
    if dtype == pl.Utf8 or dtype == pl.Null:
        return col.cast(pl.Utf8), None
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return col.cast(pl.Utf8), None
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return col.dt.strftime("%Y-%m-%d"), None
    if dtype == pl.Boolean:
        return pl.when(col).then(pl.lit("Y")).when(~col).then(pl.lit("N")).otherwise(None), None
    if dtype.is_integer() or isinstance(dtype, pl.Decimal):
        return col.cast(pl.Utf8), None
    if dtype.is_float():
        # Excel and pandas turn identifiers into floats: 12.0 -> "12"; NaN is pandas' blank.
        whole = col.is_finite() & (col == col.floor()) & (col.abs() < 2.0**53)
        text = (
            pl.when(col.is_nan())
            .then(None)
            .when(whole)
            .then(col.cast(pl.Int64, strict=False).cast(pl.Utf8))
            .otherwise(col.cast(pl.Utf8))
        )
        return text, pl.when(col.is_infinite()).then(pl.lit("not a finite number (infinity)")).otherwise(None)
    if isinstance(dtype, pl.List) and kind == "code_list" and (dtype.inner == pl.Utf8 or dtype.inner.is_integer()):
        return col.cast(pl.List(pl.Utf8)).list.eval(pl.format('"{}"', pl.element())).list.join(",").map_elements(
            lambda v: f"[{v}]", return_dtype=pl.Utf8
        ), None
    raise ExtractRefused(file, f"column {column} is stored as {dtype}: no contract column holds that kind of value")


def joined_values(rows: pl.DataFrame) -> dict[int, str]:
    """Parquet / XLSX have no raw line: a row's delivered values, comma-joined, by line."""
    return {
        record[LINE]: ",".join("" if v is None else str(v) for k, v in record.items() if k != LINE)
        for record in rows.iter_rows(named=True)
    }
