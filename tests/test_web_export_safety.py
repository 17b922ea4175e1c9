"""The web's CSV and XLSX exports go through the one writer (caseflags/outputs/files.py): a detail
with a formula behind leading whitespace (` =HYPERLINK(...)`) is inert in both."""

from __future__ import annotations

import duckdb
import pytest
from starlette.testclient import TestClient
from test_output_safety import PAYLOADS, assert_csv_neutralised, assert_xlsx_neutralised
from web_helpers import OFFICER, add_users, copy_store, login, practices

from caseflags.web.app import Settings, create_app


@pytest.fixture(scope="module")
def payload_store(sample_run, tmp_path_factory):
    """The sample store, its web snapshot's details and locators replaced by formula payloads."""
    db = copy_store(sample_run, tmp_path_factory.mktemp("web-export"))
    add_users(db, practices(db)[0][0])
    con = duckdb.connect(str(db.with_suffix(".snapshot.duckdb")))
    try:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT exception_id FROM web_exceptions ORDER BY exception_id LIMIT ?", [len(PAYLOADS)]
            ).fetchall()
        ]
        for exception_id, payload in zip(ids, PAYLOADS):
            con.execute(
                "UPDATE web_exceptions SET detail = ?, locator = ? WHERE exception_id = ?",
                [payload, payload, exception_id],
            )
    finally:
        con.close()
    return db


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_web_exports_neutralise_every_payload(payload_store, tmp_path, kind):
    with TestClient(create_app(Settings(db_path=payload_store))) as client:
        assert login(client, *OFFICER).status_code == 303
        response = client.get(f"/exceptions/export.{kind}")
    assert response.status_code == 200
    path = tmp_path / f"exceptions.{kind}"
    path.write_bytes(response.content)
    if kind == "csv":
        assert_csv_neutralised(path)
    else:
        assert_xlsx_neutralised(path)
