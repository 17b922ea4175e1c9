"""The deliveries the benchmark runs on, made once and cached under bench/data/ (git-ignored).

- `<profile>-seed<N>/`: the generated first night (`caseflags.sample_data.generator`);
- `<profile>-seed<N>-next/`: the night after it (`caseflags.sample_data.churn`: same seed, as-at
  plus one day, ~1 % of rows changed and ~1 % added per table, the next school day, new children);
- `twelve-children/`: a 12-child delivery cut from the committed sample (every row about those
  children, their agency records and their GP registrations; all professionals), for the fixed
  cost of a run.

Each is written aside and renamed into place, so an interrupted build is never taken as done.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from pathlib import Path

import polars as pl

TWELVE = 12


def _build(folder: Path, as_at: date, make) -> Path:
    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("as_at") == as_at.isoformat():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    make(partial)
    partial.rename(folder)
    print(f"built {folder.name} in {time.perf_counter() - started:.0f} s -> {folder}", flush=True)
    return folder


def ensure_data(profile: str, seed: int, as_at: date, data_dir: Path) -> Path:
    """The generated delivery of `profile` as at `as_at`."""
    from caseflags.sample_data.generator import generate

    return _build(data_dir / f"{profile}-seed{seed}", as_at, lambda out: generate(profile, seed, out, as_at=as_at))


def ensure_next_night(first: Path, seed: int, as_at: date) -> Path:
    """The night after `first`, as at `as_at` (its as-at plus one day)."""
    from caseflags.sample_data.churn import next_night

    return _build(first.with_name(first.name + "-next"), as_at, lambda out: next_night(first, out, as_at, seed))


def ensure_twelve_children(source: Path, as_at: date, data_dir: Path) -> Path:
    return _build(data_dir / "twelve-children", as_at, lambda out: cut_children(source, out, as_at, TWELVE))


def cut_children(source: Path, out: Path, as_at: date, n: int) -> dict[str, int]:
    """Every row of `source` about its first `n` children (by person id), their agency records
    (through the generator's truth links), GP registrations (by NHS number) and school sessions
    (by UPN); reference tables (professionals) whole."""
    out.mkdir(parents=True)
    read = lambda name: pl.read_csv(source / name, infer_schema=False)  # noqa: E731
    people = read("ssd_person.csv").head(n)
    ids = set(people.get_column("pers_person_id").to_list())
    upns = set(people.get_column("pers_upn").drop_nulls().to_list())
    links = pl.read_csv(source / "ground_truth" / "truth_links.csv", infer_schema=False).filter(
        pl.col("person_id").is_in(list(ids))
    )
    records = read("agency_records.csv").join(
        links.select("agency", "agency_record_id"), on=["agency", "agency_record_id"]
    )
    upns |= set(records.get_column("upn").drop_nulls().to_list())
    nhs = set(records.get_column("nhs_number").drop_nulls().to_list())
    kept: dict[str, pl.DataFrame] = {"ssd_person.csv": people, "agency_records.csv": records}
    for path in sorted(source.glob("*.csv")):
        if path.name in kept:
            continue
        frame = read(path.name)
        person = next((c for c in frame.columns if c == "person_id" or c.endswith("_person_id")), None)
        if person is not None:
            frame = frame.filter(pl.col(person).is_in(list(ids)))
        elif "upn" in frame.columns:
            frame = frame.filter(pl.col("upn").is_in(list(upns)))
        elif path.name == "agency_flags.csv":
            frame = frame.join(records.select("agency", "agency_record_id"), on=["agency", "agency_record_id"])
        elif path.name == "gp_registrations.csv":
            frame = frame.filter(pl.col("nhs_number").is_in(list(nhs)))
        kept[path.name] = frame
    meetings = set(kept["meetings.csv"].get_column("meeting_id").to_list())
    kept["meeting_invitations.csv"] = kept["meeting_invitations.csv"].filter(pl.col("meeting_id").is_in(list(meetings)))
    assessments = set(kept["ssd_cin_assessments.csv"].get_column("cina_assessment_id").to_list())
    kept["ssd_assessment_factors.csv"] = kept["ssd_assessment_factors.csv"].filter(
        pl.col("cinf_assessment_id").is_in(list(assessments))
    )
    for name, frame in kept.items():
        frame.write_csv(out / name)
    counts = {name: frame.height for name, frame in kept.items()}
    (out / "manifest.json").write_text(
        json.dumps(
            {"as_at": as_at.isoformat(), "children": n, "derived_from": str(source), "row_counts": counts}, indent=2
        )
    )
    return counts


def extract_files(delivery: Path) -> list[Path]:
    return sorted(p for p in delivery.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet"))
