"""A synthetic region: N neighbouring authorities with children who cross the border.

    generate_region(3, "small", seed=1, out=Path("D"))
    caseflags generate --region 3 --profile small --out D

Each authority is an ordinary generated delivery (generator.generate) under `D/<LA code>/` with its
own truth, given its own UPN LA number and NHS number range so that neighbours share no
identifier by accident. Then cross-border children are planted, each authority with the next
one round the ring as its neighbour: a child of the home authority is given a record in the
neighbour's EDUCATION index (the school the child attends over the border, sometimes with that
school's attendance sessions and sometimes with a CIN flag). The planted records are like the
generator's partner-only children (no LA child id), so every authority's own truth is unchanged.

The regional truth (`D/ground_truth/truth.csv`) is evaluated here in plain Python from the
planted facts (the rules of docs/CHECKS.md for the two regional checks), one row per authority an
exception is routed to. `D/region.toml` is a ready manifest (docs/SCALE.md, "The manifest").
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ._attendance import AttendancePlan, SessionGrid, pupil_sessions
from ._calendar import academic_year_start
from ._identifiers import is_valid_upn
from ._tables import GROUND_TRUTH_DIR, TABLE_COLUMNS, format_value
from ._world import PROFILES, build_world
from .generator import DEFAULT_AS_AT, generate

# Neighbouring authorities round South Gloucestershire (UPN LA numbers): the region's members.
REGION_LA_CODES = (803, 801, 802, 800, 865, 916)
REGION_NAMES = {
    803: "South Gloucestershire",
    801: "Bristol",
    802: "North Somerset",
    800: "Bath and North East Somerset",
    865: "Wiltshire",
    916: "Gloucestershire",
}
# Synthetic NHS number serials available below the generator's sibling range.
NHS_SERIALS_FOR_PEOPLE = 500_000
REGION_TRUTH_COLUMNS = ["check_id", "la_code", "person_id", "agency", "entity_id", "scenario"]
CROSS_BORDER_CHECKS = ("CROSS_BORDER_NOT_SHARED", "CROSS_BORDER_SCHOOL_ATTENDANCE")
# Catalogue defaults the truth is evaluated with (checks/CROSS_BORDER_*.toml).
MIN_DAYS_OPEN = 5
PERSISTENT_ABSENCE_PCT = 10
# Planted scenarios per neighbouring pair: (name, kind, B's record carries the UPN, CIN flag, absence rate).
SCENARIOS = (
    ("not_shared_upn", "cin", True, False, None),
    ("not_shared_names_only", "cin", False, False, None),
    ("shared_cin_flag", "cin", True, True, None),  # near miss: the neighbour holds a CIN flag
    ("attendance_only_at_school", "pupil", True, False, 0.30),
    ("attendance_fine_at_school", "pupil", True, False, 0.03),  # near miss: no concern anywhere
)


@dataclass(frozen=True)
class Planted:
    scenario: str
    home: int
    person_id: str
    neighbour: int
    record_id: str
    cin_open: bool
    cin_flag: bool
    home_concern: bool
    school_possible: int
    school_missed: int


def generate_region(count: int, profile: str, seed: int, out, as_at: date = DEFAULT_AS_AT) -> dict:
    """Write `count` authorities, the planted cross-border children, regional truth and manifest."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if not 2 <= count <= len(REGION_LA_CODES):
        raise ValueError(f"a region has 2 to {len(REGION_LA_CODES)} authorities, not {count}")
    people_per_authority = PROFILES[profile].index_children + PROFILES[profile].cin_children
    if people_per_authority * count > NHS_SERIALS_FOR_PEOPLE:
        raise ValueError(f"{count} {profile} authorities need more synthetic NHS numbers than exist")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    codes = REGION_LA_CODES[:count]
    for position, code in enumerate(codes):
        # Moved-in pupils carry LA numbers of their own (9xx), never a region member's.
        outside = tuple(900 + position * 3 + k for k in range(3))
        generate(
            profile,
            seed * 100 + position,
            out / str(code),
            as_at=as_at,
            la_code=code,
            neighbour_la_codes=outside,
            nhs_offset=position * people_per_authority,
        )
    per_pair = max(1, PROFILES[profile].cin_children // 300)
    planted: list[Planted] = []
    for position, home in enumerate(codes):
        neighbour = codes[(position + 1) % count]
        planted += plant_pair(out, home, neighbour, profile, seed, as_at, per_pair)
    truth = region_truth(planted, as_at)
    truth_dir = out / GROUND_TRUTH_DIR
    truth_dir.mkdir(exist_ok=True)
    _write_csv(truth_dir / "truth.csv", REGION_TRUTH_COLUMNS, truth)
    _write_csv(
        truth_dir / "planted.csv",
        list(Planted.__dataclass_fields__),
        [[getattr(p, f) for f in Planted.__dataclass_fields__] for p in planted],
    )
    (out / "region.toml").write_text(manifest_text(codes), encoding="utf-8")
    summary = {
        "profile": profile,
        "seed": seed,
        "as_at": as_at.isoformat(),
        "authorities": list(codes),
        "planted": len(planted),
        "truth_by_check": {check: sum(1 for row in truth if row[0] == check) for check in CROSS_BORDER_CHECKS},
    }
    (out / "region.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def manifest_text(codes) -> str:
    lines = [
        "# caseflags region manifest (docs/SCALE.md). Paths are relative to this file.",
        "[region]",
        'name = "Synthetic region"',
        'store = "stores/region.duckdb"',
        'out = "region-out"',
        '# scheduler = "tcp://scheduler:8786"   # a running Dask cluster; default: a local cluster',
        "workers = 2",
        "",
    ]
    for position, code in enumerate(codes):
        # The last authority shares identifiers and matches only; the others their exceptions too.
        sharing = "ids" if position == len(codes) - 1 else "exceptions"
        lines += [
            "[[authority]]",
            f'la_code = "{code}"',
            f'name = "{REGION_NAMES[code]}"',
            f'extracts = "{code}"',
            f'store = "stores/{code}.duckdb"',
            f'out = "reports/{code}"',
            f'sharing = "{sharing}"',
            "",
        ]
    return "\n".join(lines)


# -- planting -----------------------------------------------------------------------------------


def _read(folder: Path, table: str) -> pl.DataFrame:
    return pl.read_csv(folder / f"{table}.csv", infer_schema=False)


def _home_candidates(folder: Path, as_at: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(open CiN children, children not CiN and with no attendance at home), with identity fields."""
    person = _read(folder, "ssd_person").unique("pers_person_id", keep="first", maintain_order=True)
    address = (
        _read(folder, "ssd_address")
        .filter(pl.col("addr_address_end_date").is_null())
        .unique("addr_person_id", keep="first", maintain_order=True)
        .select(pl.col("addr_person_id").alias("pers_person_id"), pl.col("addr_address_postcode").alias("postcode"))
    )
    plans = _read(folder, "ssd_cin_plans").with_columns(
        pl.col("cinp_cin_plan_start_date").str.to_date(), pl.col("cinp_cin_plan_end_date").str.to_date()
    )
    open_plans = plans.filter(
        (pl.col("cinp_cin_plan_start_date") <= as_at)
        & (pl.col("cinp_cin_plan_end_date").is_null() | (pl.col("cinp_cin_plan_end_date") > as_at))
    )
    settled = open_plans.group_by("cinp_person_id").agg(pl.col("cinp_cin_plan_start_date").min().alias("since"))
    long_open = settled.filter(pl.col("since") <= as_at - timedelta(days=MIN_DAYS_OPEN + 30))
    any_plan = set(open_plans.get_column("cinp_person_id").to_list())
    upns_with_attendance = set(_read(folder, "attendance_sessions").get_column("upn").unique().to_list())
    upns_with_attendance |= set(_read(folder, "attendance_summaries").get_column("upn").unique().to_list())
    usable = (
        person.join(address, on="pers_person_id", how="inner")
        .filter(
            pl.col("pers_upn").is_not_null()
            & pl.col("pers_forename").is_not_null()
            & pl.col("pers_surname").is_not_null()
            & pl.col("pers_sex").is_not_null()
            & pl.col("postcode").is_not_null()
        )
        .filter(pl.col("pers_upn").map_elements(is_valid_upn, return_dtype=pl.Boolean))
    )
    # One person row per id and one UPN per child, so the planted link is the only one.
    usable = usable.filter(pl.col("pers_upn").is_unique())
    cin = usable.filter(pl.col("pers_person_id").is_in(long_open.get_column("cinp_person_id").to_list()))
    pupils = usable.filter(
        ~pl.col("pers_person_id").is_in(list(any_plan)) & ~pl.col("pers_upn").is_in(list(upns_with_attendance))
    )
    return cin.sort("pers_person_id"), pupils.sort("pers_person_id")


def plant_pair(
    out: Path, home: int, neighbour: int, profile: str, seed: int, as_at: date, per_pair: int
) -> list[Planted]:
    rng = random.Random(f"{seed}/region/{home}/{neighbour}")
    home_dir, school_dir = out / str(home), out / str(neighbour)
    cin, pupils = _home_candidates(home_dir, as_at)
    school_urns = sorted(set(_read(school_dir, "attendance_sessions").get_column("school_urn").drop_nulls().to_list()))
    world = build_world(PROFILES[profile], seed, as_at)
    grid = SessionGrid(as_at, world.working_days)
    wanted = {"cin": [s for s in SCENARIOS if s[1] == "cin"], "pupil": [s for s in SCENARIOS if s[1] == "pupil"]}
    chosen = {
        kind: (cin if kind == "cin" else pupils).sample(
            n=min(per_pair * len(wanted[kind]), (cin if kind == "cin" else pupils).height),
            seed=rng.randint(0, 2**31),
            shuffle=True,
        )
        for kind in wanted
    }
    records, flags, sessions, planted = [], [], [], []
    serial = 0
    for kind, scenarios in wanted.items():
        rows = chosen[kind].to_dicts()
        for number, row in enumerate(rows):
            name, _, carries_upn, cin_flag, absence = scenarios[number % len(scenarios)]
            serial += 1
            record_id = f"XB{home}-{serial:05d}"
            records.append(
                {
                    "agency": "EDUCATION",
                    "agency_record_id": record_id,
                    "nhs_number": None,
                    "upn": row["pers_upn"] if carries_upn else None,
                    "la_person_id": None,
                    "forename": row["pers_forename"],
                    "surname": row["pers_surname"],
                    "dob": row["pers_dob"],
                    "sex": row["pers_sex"],
                    "postcode": row["postcode"],
                }
            )
            if cin_flag:
                start = as_at - timedelta(days=rng.randint(40, 200))
                flags.append(
                    {
                        "agency": "EDUCATION",
                        "agency_record_id": record_id,
                        "flag_type": "CIN",
                        "start_date": start,
                        "recorded_date": start,
                    }
                )
            possible = missed = 0
            if absence is not None:
                lines, counts = pupil_sessions(
                    grid,
                    row["pers_upn"],
                    rng.choice(school_urns),
                    AttendancePlan(absence),
                    np.random.default_rng([seed, home, neighbour, serial]),
                )
                sessions += lines
                _, possible, missed = counts["current"]
            planted.append(
                Planted(
                    name,
                    home,
                    row["pers_person_id"],
                    neighbour,
                    record_id,
                    kind == "cin",
                    cin_flag,
                    False,
                    possible,
                    missed,
                )
            )
    _append(school_dir, "agency_records", records)
    _append(school_dir, "agency_flags", flags)
    with open(school_dir / "attendance_sessions.csv", "a", encoding="utf-8", newline="") as handle:
        handle.writelines(sessions)
    with open(school_dir / GROUND_TRUTH_DIR / "truth_links.csv", "a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([["EDUCATION", r["agency_record_id"], ""] for r in records])
    _update_row_counts(
        school_dir,
        {"agency_records.csv": len(records), "agency_flags.csv": len(flags), "attendance_sessions.csv": len(sessions)},
    )
    return planted


def _append(folder: Path, table: str, rows: list[dict]) -> None:
    columns = TABLE_COLUMNS[table]
    with open(folder / f"{table}.csv", "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows([[format_value(row.get(column)) for column in columns] for row in rows])


def _update_row_counts(folder: Path, added: dict[str, int]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for name, count in added.items():
        manifest["row_counts"][name] = manifest["row_counts"].get(name, 0) + count
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


# -- the regional truth ---------------------------------------------------------------------------


def region_truth(planted: list[Planted], as_at: date) -> list[list]:
    """Both regional rules over the planted facts; one row per authority the exception goes to."""
    del as_at  # the planted facts are already as at the date (plans open well before it)
    rows = []
    for p in planted:
        fired = []
        if p.cin_open and not p.cin_flag:
            fired.append("CROSS_BORDER_NOT_SHARED")
        school_concern = p.school_possible > 0 and p.school_missed * 100 >= PERSISTENT_ABSENCE_PCT * p.school_possible
        if p.school_possible > 0 and school_concern != p.home_concern:
            fired.append("CROSS_BORDER_SCHOOL_ATTENDANCE")
        for check in fired:
            rows.append([check, p.home, p.person_id, "SOCIAL_CARE", f"{p.home}/{p.person_id}", p.scenario])
            rows.append([check, p.neighbour, "", "EDUCATION", f"{p.neighbour}/EDUCATION:{p.record_id}", p.scenario])
    return sorted(rows, key=lambda r: [str(v) for v in r])


def _write_csv(path: Path, columns: list[str], rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


__all__ = ["generate_region", "REGION_LA_CODES", "REGION_TRUTH_COLUMNS", "academic_year_start"]
