"""The linkage model's splink settings are valid for the columns we give splink.

Every Linker the night builds skips splink's own settings validation (`validate_settings=False`:
it re-parses every SQL fragment, about 0.7 s a night). The settings are fixed in code, so they
are validated here once instead, against the model's input columns."""

from __future__ import annotations

import logging

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker

from caseflags.linkage.model import MODEL_COLUMNS, settings_dict


def _inputs(columns) -> pa.Table:
    return pa.table({"unique_id": ["a", "b"], **{c: ["x", "y"] for c in columns}})


def _validation_warnings(columns, caplog) -> list[str]:
    caplog.clear()
    with duckdb.connect() as work, caplog.at_level(logging.WARNING, logger="splink"):
        db_api = DuckDBAPI(work)
        Linker(
            [
                db_api.register(_inputs(columns), table_name="left"),
                db_api.register(_inputs(columns), table_name="right"),
            ],
            settings_dict(0.001),
            validate_settings=True,
        )
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_splink_finds_nothing_wrong_with_the_model_settings(caplog):
    assert _validation_warnings(MODEL_COLUMNS, caplog) == []


def test_the_validation_would_name_a_missing_input_column(caplog):
    warnings = _validation_warnings([c for c in MODEL_COLUMNS if c != "postcode_sector"], caplog)
    assert any("postcode_sector" in w for w in warnings)
