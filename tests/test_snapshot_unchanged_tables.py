"""The web snapshot is published by updating the previous one (issue 28): a table whose content
is unchanged since the last publish is not rewritten, a changed one is, and the result holds
exactly the store's rows either way. The nightly's own caches are published empty."""

from __future__ import annotations

import shutil

import duckdb

from caseflags.outputs import snapshot as snapshot_module
from caseflags.outputs.snapshot import publish_snapshot, snapshot_path
from caseflags.outputs.snapshot_reuse import NOT_PUBLISHED
from caseflags.store.database import connect


def contents(path, tables) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f'SELECT count(*), sum(hash(*COLUMNS(*))::HUGEINT) FROM "{t}"').fetchone() for t in tables
        }
    finally:
        con.close()


def test_only_changed_tables_are_rewritten_and_the_snapshot_equals_the_store(sample_run, tmp_path, monkeypatch):
    first_db, _, _ = sample_run
    db = tmp_path / "store.duckdb"
    shutil.copy(first_db, db)
    outcomes = []
    update = snapshot_module.update_changed_tables
    monkeypatch.setattr(
        snapshot_module, "update_changed_tables", lambda *args: outcomes.append(update(*args)) or outcomes[-1]
    )
    con = connect(db)
    try:
        publish_snapshot(con)  # the first: a whole copy (the sample run's snapshot is not here)
        assert outcomes == []
        publish_snapshot(con)  # nothing changed: only the run rows are copied again
        assert outcomes[-1]["rewritten"] == 1 and outcomes[-1]["unchanged"] > 40
        con.execute("DELETE FROM meetings WHERE meeting_id = (SELECT min(meeting_id) FROM meetings)")
        publish_snapshot(con)
        assert outcomes[-1]["rewritten"] == 2
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary"
            ).fetchall()
        ]
    finally:
        con.close()
    published = [t for t in tables if t not in NOT_PUBLISHED and t != "runs"]
    assert contents(snapshot_path(db), published) == contents(db, published)
    assert all(n == 0 for n, _ in contents(snapshot_path(db), NOT_PUBLISHED).values())
