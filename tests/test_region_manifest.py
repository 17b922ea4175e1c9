"""The region manifest: paths relative to it, every key known, refusals name the key."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseflags.cli import app
from caseflags.region.manifest import ManifestError, load_manifest, max_workers
from caseflags.sample_data.region import manifest_text

runner = CliRunner()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "region.toml"
    path.write_text(text)
    return path


def test_generated_manifest_loads_with_paths_beside_it(tmp_path):
    manifest = load_manifest(_write(tmp_path, manifest_text((803, 801, 802))))
    assert [a.la_code for a in manifest.authorities] == ["803", "801", "802"]
    first = manifest.authorities[0]
    assert first.extracts == (tmp_path / "803").resolve() and first.store == (tmp_path / "stores/803.duckdb").resolve()
    assert [a.sharing for a in manifest.authorities] == ["exceptions", "exceptions", "ids"]
    assert manifest.store == (tmp_path / "stores/region.duckdb").resolve()
    assert manifest.out == (tmp_path / "region-out").resolve()
    assert manifest.scheduler is None and manifest.workers == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('sharing = "ids"', 'sharing = "everything"'), "sharing must be one of ids, exceptions"),
        (lambda t: t.replace('la_code = "801"', 'la_code = "803"'), "two authorities share the la_code 803"),
        (lambda t: t.replace('la_code = "801"', 'la_code = "Bristol"'), "la_code must be a three-digit LA number"),
        (lambda t: t.replace('out = "region-out"', 'out = "region-out"\ncolour = "red"'), "region: unknown key colour"),
        (lambda t: t.replace('store = "stores/801.duckdb"\n', ""), "authority 2: missing key store"),
        (
            lambda t: t.replace('store = "stores/801.duckdb"', 'store = "stores/803.duckdb"'),
            "two authorities share the store",
        ),
        (lambda t: t.replace("workers = 2", "workers = 0"), "workers must be between 1 and"),
        (lambda t: t.replace("workers = 2", 'workers = "two"'), "workers must be int"),
        (lambda t: t.split("[[authority]]")[0], "no [[authority]] listed"),
        (lambda t: t + "\n[extra]\n", "unknown section [extra]"),
    ],
)
def test_bad_manifest_is_refused_naming_the_key(tmp_path, change, message):
    path = _write(tmp_path, change(manifest_text((803, 801, 802))))
    with pytest.raises(ManifestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_manifest(path)


def test_cli_refuses_a_bad_manifest_in_one_line_with_exit_2(tmp_path):
    path = _write(tmp_path, manifest_text((803, 801)).replace('sharing = "ids"', 'sharing = "all"'))
    result = runner.invoke(app, ["region", "run", "--manifest", str(path), "--as-at", "2026-11-24"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "sharing must be one of" in result.output
    missing = runner.invoke(app, ["region", "run", "--manifest", str(tmp_path / "none.toml")])
    assert missing.exit_code == 2 and "manifest not found" in missing.output


def test_generate_region_refuses_impossible_sizes(tmp_path):
    result = runner.invoke(app, ["generate", "--region", "1", "--profile", "small", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "2 to 6 authorities" in result.output
    result = runner.invoke(app, ["generate", "--region", "3", "--profile", "large", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "synthetic NHS numbers" in result.output


def _refusal(tmp_path, change) -> str:
    path = _write(tmp_path, change(manifest_text((803, 801, 802))))
    with pytest.raises(ManifestError) as refused:
        load_manifest(path)
    return str(refused.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # the regional out is an authority's own out: the regional files would overwrite its report
        (
            lambda t: t.replace('out = "region-out"', 'out = "reports/803"'),
            "region out .* is the same path as authority 803 out",
        ),
        (lambda t: t.replace('out = "region-out"', 'out = "reports"'), "region out .* contains authority 803 out"),
        # an authority's out equal to another's extracts
        (
            lambda t: t.replace('out = "reports/801"', 'out = "803"'),
            "authority 803 extracts .* is the same path as authority 801 out",
        ),
        (
            lambda t: t.replace('out = "reports/801"', 'out = "803/reports"'),
            "authority 803 extracts .* contains authority 801 out",
        ),
        # an authority's out equal to its own extracts
        (
            lambda t: t.replace('out = "reports/801"', 'out = "801"'),
            "authority 801 extracts .* is the same path as authority 801 out",
        ),
        # a store equal to another's web snapshot (or workspace, or linkage model)
        (
            lambda t: t.replace('store = "stores/801.duckdb"', 'store = "stores/803.snapshot.duckdb"'),
            "authority 803 web snapshot .* is the same path as authority 801 store",
        ),
        (
            lambda t: t.replace('store = "stores/801.duckdb"', 'store = "stores/803.web.sqlite"'),
            "authority 803 web workspace .* is the same path as authority 801 store",
        ),
        # two store names whose companions coincide (`803.duckdb` and `803.db` share `803.snapshot.duckdb`)
        (
            lambda t: t.replace('store = "stores/801.duckdb"', 'store = "stores/803.db"'),
            "authority 803 web snapshot .* is the same path as authority 801 web snapshot",
        ),
        (
            lambda t: t.replace('store = "stores/region.duckdb"', 'store = "stores/802.snapshot.duckdb"'),
            "region store .* is the same path as authority 802 web snapshot",
        ),
        # a store inside outputs or extracts
        (
            lambda t: t.replace('store = "stores/801.duckdb"', 'store = "reports/801/store.duckdb"'),
            "authority 801 store .* is inside authority 801 out",
        ),
        (
            lambda t: t.replace('store = "stores/801.duckdb"', 'store = "region-out/801.duckdb"'),
            "region out .* contains authority 801 store",
        ),
    ],
)
def test_overlapping_places_are_refused_naming_both(tmp_path, change, expected):
    assert re.search(expected, _refusal(tmp_path, change)), _refusal(tmp_path, change)


def test_every_overlap_is_reported_one_line_each_with_exit_2(tmp_path):
    text = (
        manifest_text((803, 801, 802))
        .replace('out = "region-out"', 'out = "reports/803"')
        .replace('out = "reports/801"', 'out = "802"')
    )
    path = _write(tmp_path, text)
    result = runner.invoke(app, ["region", "run", "--manifest", str(path), "--as-at", "2026-11-24"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and "region out" in lines[0] and "authority 802 extracts" in lines[1], lines
    assert "Traceback" not in result.output


@pytest.mark.parametrize("workers", [0, -1, max_workers() + 1, 100000, 2**63 - 1])
def test_worker_counts_out_of_range_are_refused(tmp_path, workers):
    message = _refusal(tmp_path, lambda t: t.replace("workers = 2", f"workers = {workers}"))
    assert f"region.workers must be between 1 and {max_workers()}" in message and str(workers) in message


def test_worker_counts_at_the_bounds_are_accepted(tmp_path):
    for workers in (1, max_workers()):
        manifest = load_manifest(
            _write(tmp_path, manifest_text((803, 801)).replace("workers = 2", f"workers = {workers}"))
        )
        assert manifest.workers == workers
