"""The `--source` URL and where it is accepted (run, region manifests): no database needed.

The reading itself is tested against a real PostgreSQL in tests/test_database_source.py.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.ingest.database_source import PASSWORD_REFUSAL, SourceRefused, parse_source_url
from caseflags.region.manifest import ManifestError, load_manifest
from caseflags.sample_data.region import manifest_text

runner = CliRunner()


def test_a_url_names_server_database_schema_and_libpq_settings_but_is_described_without_the_user():
    location = parse_source_url("postgresql://cf_reader@db.example:6543/reporting?schema=ssd&sslmode=verify-full")
    assert (location.host, location.port, location.database, location.schema) == (
        "db.example",
        6543,
        "reporting",
        "ssd",
    )
    assert dict(location.settings) == {"sslmode": "verify-full", "user": "cf_reader"}
    assert location.describe() == "postgresql://db.example:6543/reporting?schema=ssd"
    assert (
        parse_source_url("postgres:///reporting?schema=ssd&service=caseflags").describe()
        == "postgresql://(service caseflags)/reporting?schema=ssd"
    )
    assert (
        parse_source_url("postgresql:///reporting?schema=ssd").describe()
        == "postgresql://(PGHOST or the local socket)/reporting?schema=ssd"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:pw@db/reporting?schema=ssd", PASSWORD_REFUSAL),
        ("postgresql://db/reporting?schema=ssd&password=pw", PASSWORD_REFUSAL),
        ("postgresql://db/reporting", "names no schema"),
        ("postgresql://db/?schema=ssd", "names no database"),
        ("postgresql://db/reporting?schema=ssd&sslmod=require", "unknown setting 'sslmod'"),
        ("mysql://db/reporting?schema=ssd", "unknown database kind 'mysql'"),
        ("mssql://db/HDM?schema=ssd_development", "SQL Server is not built yet"),
    ],
)
def test_an_unusable_url_is_refused_naming_what_is_wrong(url, message):
    with pytest.raises(SourceRefused) as refused:
        parse_source_url(url)
    assert message in str(refused.value)
    assert "pw" not in str(refused.value).replace("password", "")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give --extracts FOLDER, --source URL, or both"),
        (
            ["--source", "postgresql://db/reporting?schema=ssd", "--from", "2026-01-01", "--to", "2026-01-02"],
            "cannot backfill with --from/--to",
        ),
        (["--source", "postgresql://u:topsecret@db/reporting?schema=ssd"], "holds a password"),
    ],
)
def test_run_refuses_in_one_line_before_reading_anything(tmp_path, arguments, message):
    result = runner.invoke(app, ["run", *arguments, "--db", str(tmp_path / "s.duckdb"), "--new-store"])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "topsecret" not in result.output
    assert not (tmp_path / "s.duckdb").exists()


def test_serve_refuses_a_password_in_the_url_before_anything_is_registered(tmp_path):
    result = runner.invoke(
        app,
        [
            "serve",
            "--source",
            "postgresql://u:topsecret@db/reporting?schema=ssd",
            "--db",
            str(tmp_path / "s.duckdb"),
            "--new-store",
        ],
    )
    message = "holds a password"
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "topsecret" not in result.output
    assert not (tmp_path / "s.duckdb").exists()


def _manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "region.toml"
    path.write_text(text)
    return path


def test_an_authority_may_read_its_ssd_from_its_database(tmp_path):
    text = manifest_text((803, 801)).replace(
        'extracts = "803"', 'source = "postgresql://db.example/reporting?schema=ssd"', 1
    )
    manifest = load_manifest(_manifest(tmp_path, text))
    first, second = manifest.authorities
    assert (first.source, first.extracts) == ("postgresql://db.example/reporting?schema=ssd", None)
    assert second.source is None and second.extracts == (tmp_path / "801").resolve()


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        (
            'source = "postgresql://u:pw@db.example/reporting?schema=ssd"',
            "authority 1.source: the --source URL holds a password",
        ),
        ("", "authority 1: missing key extracts (or source)"),
    ],
)
def test_a_manifest_source_is_checked_like_the_command_lines(tmp_path, replacement, message):
    text = manifest_text((803, 801)).replace('extracts = "803"', replacement, 1)
    with pytest.raises(ManifestError) as refused:
        load_manifest(_manifest(tmp_path, text))
    assert message in str(refused.value)
