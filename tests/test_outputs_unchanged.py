"""Outputs are rewritten only where their content changed (issue 28): writing a run's files again
leaves every agency file with the same content untouched (same mtime), and a change to one
child's exception rewrites only the files of the agency (and organisation) that lists it."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

from conftest import SAMPLE_AS_AT

from caseflags.outputs.stage import write_outputs
from caseflags.store.database import connect

OLD = 1_000_000_000  # an mtime long past: a file rewritten now cannot keep it


def agency_files(run_dir: Path) -> dict[Path, int]:
    return {
        p.relative_to(run_dir): p.stat().st_mtime_ns for p in sorted((run_dir / "agencies").rglob("*")) if p.is_file()
    }


def age(run_dir: Path) -> None:
    for path in (run_dir / "agencies").rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, OLD))


def test_agency_files_are_rewritten_only_where_their_content_changed(sample_run, tmp_path):
    first_db, _, _ = sample_run
    db = tmp_path / "store.duckdb"
    shutil.copy(first_db, db)
    as_at = date.fromisoformat(SAMPLE_AS_AT)
    con = connect(db)
    try:
        run_dir = write_outputs(con, SAMPLE_AS_AT, as_at, tmp_path / "reports")
        before = agency_files(run_dir)
        assert len({path.parts[1] for path in before}) >= 3  # several agencies' folders
        age(run_dir)

        write_outputs(con, SAMPLE_AS_AT, as_at, tmp_path / "reports")  # same content
        assert agency_files(run_dir) == {path: OLD * 10**9 for path in before}

        # One child's exception changes: only the files of the agency listing it are rewritten.
        agency, exception_id = con.execute(
            "SELECT agency, exception_id FROM exceptions WHERE run_id = ? AND agency = 'POLICE' "
            "ORDER BY exception_id LIMIT 1",
            [SAMPLE_AS_AT],
        ).fetchone()
        con.execute(
            "UPDATE exceptions SET detail = detail || ' Seen again.' WHERE run_id = ? AND exception_id = ?",
            [SAMPLE_AS_AT, exception_id],
        )
        write_outputs(con, SAMPLE_AS_AT, as_at, tmp_path / "reports")
    finally:
        con.close()
    after = agency_files(run_dir)
    assert set(after) == set(before)
    rewritten = {path for path, mtime in after.items() if mtime != OLD * 10**9}
    assert {Path("agencies", agency, "exceptions.csv"), Path("agencies", agency, "exceptions.xlsx")} <= rewritten
    assert all(path.parts[1] == agency for path in rewritten), sorted(rewritten)


def test_an_agency_with_nothing_listed_any_more_keeps_no_folder(sample_run, tmp_path):
    first_db, _, _ = sample_run
    db = tmp_path / "store.duckdb"
    shutil.copy(first_db, db)
    as_at = date.fromisoformat(SAMPLE_AS_AT)
    con = connect(db)
    try:
        run_dir = write_outputs(con, SAMPLE_AS_AT, as_at, tmp_path / "reports")
        assert (run_dir / "agencies" / "POLICE").is_dir()
        con.execute("DELETE FROM exceptions WHERE run_id = ? AND agency = 'POLICE'", [SAMPLE_AS_AT])
        write_outputs(con, SAMPLE_AS_AT, as_at, tmp_path / "reports")
    finally:
        con.close()
    assert not (run_dir / "agencies" / "POLICE").exists()
    assert (run_dir / "agencies" / "SOCIAL_CARE" / "exceptions.csv").is_file()
