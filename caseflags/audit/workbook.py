"""The files of an audit sample: `audit_sample.xlsx` (the list with reasons, an Outcomes sheet for
auditors, the About sheet) and one HTML pack per child, under `<out>/samples/<sample_id>/`.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from caseflags.audit.chronology import build_chronology, child_context, main_relations
from caseflags.audit.model import (
    EXTRA_ROWS_PER_CHILD,
    OUTCOME_COLUMNS,
    OUTCOME_SHEET,
    OUTCOMES,
    SAMPLE_FILE,
    SAMPLE_SHEET,
    SampleResult,
    check_catalogue,
    child_concerns,
    children_text,
    need_label,
    record_sample,
)
from caseflags.audit.pack import render_pack
from caseflags.outputs.files import SafeWorkbook, safe_file_stem, write_text
from caseflags.outputs.files import workbook as safe_workbook
from caseflags.private_files import owner_only, private_dir


def write_sample(con: duckdb.DuckDBPyConnection, result: SampleResult, out_dir: str | os.PathLike) -> Path:
    """Record the sample in the store and write `<out_dir>/samples/<sample_id>/audit_sample.xlsx`
    with one HTML pack per child in `packs/`. Returns the workbook's path."""
    record_sample(con, result)
    with owner_only():
        sample_dir = private_dir(Path(out_dir) / "samples" / result.sample_id)
        packs_dir = private_dir(sample_dir / "packs")
        tables = main_relations(con)
        for child in result.children:
            events = build_chronology(con, child.person_id, result.as_at)
            context = child_context(con, child.person_id, result.as_at, tables)
            write_text(packs_dir / pack_file_name(child.person_id), render_pack(result, child, events, context))
        workbook_path = sample_dir / SAMPLE_FILE
        with safe_workbook(workbook_path) as workbook:
            _fill_workbook(workbook, result)
    return workbook_path


def pack_file_name(person_id: str) -> str:
    """The child's pack file: safe characters of the id and a hash of the exact id, so two
    children never share (and overwrite) a pack."""
    return f"{safe_file_stem(person_id)}.html"


def _fill_workbook(workbook: SafeWorkbook, result: SampleResult) -> None:
    catalogue = check_catalogue()
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    top = workbook.add_format({"valign": "top"})
    to_fill = workbook.add_format({"bg_color": "#FFF2CC", "border": 1, "valign": "top"})

    sheet = workbook.add_worksheet(SAMPLE_SHEET)
    columns = [
        "position",
        "person_id",
        "role",
        "age_band",
        "need_type",
        "disabilities",
        "open_exceptions",
        "distinct_concerns",
        "weight",
        "chance_at_draw",
        "reasons",
        "pack",
    ]
    widths = [9, 16, 11, 9, 30, 16, 10, 10, 8, 10, 90, 22]
    for col, (name, width) in enumerate(zip(columns, widths)):
        sheet.write(0, col, name, header)
        sheet.set_column(col, col, width)
    for row, child in enumerate(result.children, start=1):
        values = [
            child.position,
            child.person_id,
            child.role,
            child.age_band,
            need_label(child.need_type),
            child.disabilities,
            child.open_exception_count,
            child.distinct_concerns,
            child.weight,
            f"{child.probability:.0%}",
            "\n".join(child.reasons),
        ]
        for col, value in enumerate(values):
            sheet.write(row, col, value, wrap if col == 10 else top)
        pack = f"packs/{pack_file_name(child.person_id)}"
        sheet.write_url(row, 11, f"external:{pack}", string=pack)
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, max(len(result.children), 1), len(columns) - 1)

    outcomes = workbook.add_worksheet(OUTCOME_SHEET)
    widths = [22, 16, 11, 34, 50, 8, 9, 10, 22, 40, 16, 50]
    for col, (name, width) in enumerate(zip(OUTCOME_COLUMNS, widths)):
        outcomes.write(0, col, name, header)
        outcomes.set_column(col, col, width)
    row = 1
    for child in result.children:
        concerns = child_concerns(child)
        for concern in concerns:
            values = [
                result.sample_id,
                child.person_id,
                child.role,
                concern["check_id"],
                concern["concern"] or catalogue.get(concern["check_id"], ""),
                "Y",
                concern["severity"],
                concern["count"],
                concern["agencies"],
                concern["ids"],
            ]
            for col, value in enumerate(values):
                outcomes.write(row, col, value, top)
            outcomes.write_blank(row, 10, None, to_fill)
            outcomes.write_blank(row, 11, None, to_fill)
            row += 1
        for _ in range(EXTRA_ROWS_PER_CHILD):  # for a concern the auditors find that no check raised
            for col, value in enumerate([result.sample_id, child.person_id, child.role]):
                outcomes.write(row, col, value, top)
            outcomes.write_blank(row, 3, None, to_fill)
            outcomes.write(row, 5, "N", top)
            outcomes.write_blank(row, 10, None, to_fill)
            outcomes.write_blank(row, 11, None, to_fill)
            row += 1
    last_row = max(row - 1, 1)
    outcomes.data_validation(
        1,
        10,
        last_row,
        10,
        {
            "validate": "list",
            "source": list(OUTCOMES),
            "error_title": "Outcome",
            "error_message": "Choose CONFIRMED or NOT_A_CONCERN",
        },
    )
    check_ids = sorted(catalogue) or sorted({c.check_id for child in result.children for c in child.exceptions})
    lists = workbook.add_worksheet("Lists")
    lists.write(0, 0, "check_id", header)
    for index, check_id in enumerate(check_ids, start=1):
        lists.write(index, 0, check_id)
    lists.hide()
    if check_ids:
        outcomes.data_validation(
            1,
            3,
            last_row,
            3,
            {
                "validate": "list",
                "source": f"=Lists!$A$2:$A${len(check_ids) + 1}",
                "error_title": "Check",
                "error_message": "Choose a check id from the list",
            },
        )
    outcomes.freeze_panes(1, 4)
    outcomes.autofilter(0, 0, last_row, len(OUTCOME_COLUMNS) - 1)

    about = workbook.add_worksheet("About")
    about.set_column(0, 0, 32)
    about.set_column(1, 1, 100)
    facts = [
        ("sample_id", result.sample_id),
        ("as_at", result.as_at.isoformat()),
        ("seed", str(result.seed)),
        ("cohort", result.cohort),
        ("size", str(result.size)),
        ("controls (quota / chosen)", f"{result.controls} / {result.controls_chosen}"),
        ("children in cohort", str(result.cohort_count)),
        (
            "excluded: audited within",
            f"{result.exclude_audited_within_days} days ({children_text(result.excluded_recently_audited)})",
        ),
        ("open exceptions from", f"{result.exceptions_source.label} (run as at {result.exceptions_source.as_at})"),
        ("strata in the cohort", "; ".join(result.strata_required)),
        ("strata not in the sample", "; ".join(result.strata_uncovered) or "none"),
        ("warnings", "\n".join(result.warnings) or "none"),
        (
            "how to record the audit",
            "In the Outcomes sheet set outcome to CONFIRMED or NOT_A_CONCERN for each concern raised "
            "(flagged = Y). For a concern you found that no check raised, pick its check_id on a blank row of "
            "the child and set CONFIRMED. Then import the file with `caseflags sample import-outcomes FILE` "
            f"and record the audit date with `caseflags sample mark-audited {result.sample_id}`.",
        ),
    ]
    for index, (name, value) in enumerate(facts):
        about.write(index, 0, name, header)
        about.write(index, 1, value, wrap)
