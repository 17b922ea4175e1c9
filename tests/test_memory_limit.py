"""DuckDB's memory for a night is capped by `[limits] memory_limit_mib` (issue 28: the peak must
not grow with the largest file): the store's connection, and linkage's private splink database,
which spills (if ever) into a private folder beside the store, removed afterwards."""

from __future__ import annotations

import stat

from caseflags.linkage.private_db import private_database
from caseflags.settings import load_config
from caseflags.store.database import apply_memory_limit, connect


def limit_of(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_the_configured_limit_is_the_stores_and_linkages(tmp_path):
    con = connect(tmp_path / "stores" / "store.duckdb")
    apply_memory_limit(con, 300)
    assert limit_of(con) == "300.0 MiB"
    with private_database(con) as work:
        assert limit_of(work) == "300.0 MiB"
        spill = work.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        folder = tmp_path / "stores" / spill.rsplit("/", 1)[-1]
        assert folder.is_dir() and folder.parent == tmp_path / "stores"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not folder.exists()


def test_zero_leaves_duckdbs_own_default(tmp_path):
    con = connect(tmp_path / "store.duckdb")
    before = limit_of(con)
    apply_memory_limit(con, 0)
    assert limit_of(con) == before != "0 bytes"


def test_the_default_configuration_caps_duckdb_and_the_run_records_it(sample_run):
    _, _, record = sample_run
    assert load_config().limits["memory_limit_mib"] == 1024
    assert record["duckdb_memory_limit"] == "1.0 GiB"  # 1024 MiB, as DuckDB states it
