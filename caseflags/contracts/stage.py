"""The data-contract stage: Great Expectations suites over each freshly staged table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from caseflags.contracts import suites


@dataclass
class ContractVerdict:
    summary: dict = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # table -> why its contract failed


def check_contracts(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    loaded_tables: list[str],
    min_row_fraction: float,
    table_prefix: str,
) -> ContractVerdict:
    """Run the suites on the staged copies of `loaded_tables`; a blocking failure fails the table."""
    if not loaded_tables:
        return ContractVerdict()  # nothing new to guard (unchanged extracts passed when loaded)
    results = suites.run_contract_suites(
        con,
        loaded_tables,
        as_at,
        previous_row_counts=previous_row_counts(con, loaded_tables),
        min_row_fraction=min_row_fraction,
        table_prefix=table_prefix,
    )
    suites.store_contract_results(con, run_id, results)
    verdict = ContractVerdict(summary=suites.summarise(results))
    for result in results:
        if result.blocking and not result.success:
            detail = f"{result.expectation} on {result.column_name}" if result.column_name else result.expectation
            earlier = verdict.failed.get(result.table_name)
            verdict.failed[result.table_name] = f"{earlier}; {detail}" if earlier else detail
    return verdict


def previous_row_counts(con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, int]:
    """Row counts of the data currently live, i.e. the previous good delivery."""
    counts = {}
    for table in tables:
        count = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if count:
            counts[table] = count
    return counts
