"""Synthetic authority generator: every extract of the contract, plus the ground truth.

    generate("small", seed=1, out=Path("sample_data/small"))
    python -m caseflags.sample_data.generator --profile small --seed 1 --out DIR [--bad] [--as-at D]

Children are built compliant by default and then given planted deviations (exceptions) and
planted near-misses (just inside each threshold). The truth is an independent, plain-Python
evaluation of the catalogue over the generator's own facts, child by child, using the TRUE
record linkage. Rows are streamed to disk child by child, so memory stays bounded whatever
the profile; every random choice comes from seeded generators, so a seed gives the same bytes.
See docs/GENERATOR.md.
"""

import argparse
import csv
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from caseflags.checking.registry import load_registry

from . import truth as planted_truth
from ._attendance import AttendancePlan, SessionGrid, draw_absence_rate, pupil_sessions, summary_row
from ._child import ChildBuilder
from ._identifiers import corrupt_nhs_number, corrupt_upn, synthetic_nhs_number
from ._people import Person, agency_record
from ._tables import GROUND_TRUTH_DIR, TABLE_COLUMNS, TRUTH_COLUMNS, TableWriter, ground_truth
from ._truth import CatalogueEvaluator
from ._world import (
    LA_CODE,
    NEIGHBOUR_LA_CODES,
    PROFILES,
    World,
    age_on_aug31,
    build_world,
    dob_for_age,
    random_person_name,
    random_postcode,
)
from .truth import INCOMPATIBLE, PLANTED, SCENARIOS, SCENARIOS_BY_NAME

DEFAULT_AS_AT = date(2026, 11, 24)
# The authority's checks (the regional ones are planted by sample_data/region.py), in planting order.
CHECK_IDS = [
    check_id
    for check_id in PLANTED
    if check_id in {check.id for check in load_registry().values() if check.scope == "authority"}
]
# Per-row truth that only the writer can key (file lines): INVALID_IDENTIFIER.
ROW_TRUTH = [module.row_truth for module in PLANTED.values() if hasattr(module, "row_truth")]
ATTENDANCE_TRUTH = [module.attendance_truth for module in PLANTED.values() if hasattr(module, "attendance_truth")]
CIN_AGE_WEIGHTS = [6, 5, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 6, 5, 3]  # ages 0-17 on 31 August


class Delivery:
    """All open files of one generated delivery, plus the truth gathered while writing."""

    def __init__(self, out: Path):
        self.out = out
        ground_truth(out).mkdir(parents=True, exist_ok=True)
        self.tables = {table: TableWriter(out / f"{table}.csv", columns) for table, columns in TABLE_COLUMNS.items()}
        self.links = TableWriter(ground_truth(out) / "truth_links.csv", TRUTH_COLUMNS["truth_links"])
        self.relatives = TableWriter(ground_truth(out) / "truth_relatives.csv", TRUTH_COLUMNS["truth_relatives"])
        self.truth: list[tuple[str, str, str, str]] = []

    def write(self, table: str, row: dict, person_id: str | None = None, twin_of: str | None = None):
        line = self.tables[table].write(row)
        if table == "agency_records":
            self.links.write(
                {"agency": row["agency"], "agency_record_id": row["agency_record_id"], "person_id": person_id}
            )
            if twin_of:  # truth: this record is also a twin's look-alike, and social care knows that twin
                self.relatives.write(
                    {
                        "agency": row["agency"],
                        "agency_record_id": row["agency_record_id"],
                        "person_id": twin_of,
                        "relationship": "TWIN",
                        "known_to_social_care": True,
                    }
                )
        for row_truth in ROW_TRUTH:
            self.truth.extend(row_truth(table, row, line))

    def write_attendance(self, lines: list[str]):
        if not lines:
            return
        first_line = self.tables["attendance_sessions"].write_raw_lines(lines)
        upn = lines[0].split(",", 1)[0]
        for attendance_truth in ATTENDANCE_TRUTH:
            self.truth.extend(attendance_truth(upn, first_line))

    def close(self):
        for writer in self.tables.values():
            writer.close()
        self.links.close()
        self.relatives.close()


# -- the cast of LA children ---------------------------------------------------------------------


def make_person(world: World, rng: random.Random, index: int, age: int, kind: str) -> Person:
    sex = "M" if rng.random() < 0.52 else "F"
    forename, surname = random_person_name(rng, sex)
    person = Person(
        index,
        dob_for_age(rng, world, age),
        sex,
        forename,
        surname,
        random_postcode(rng),
        synthetic_nhs_number(world.nhs_offset + index),
        None,
        None,
        rng.choice(world.practices).code,
        kind=kind,
    )
    refresh_school(world, rng, person)
    return person


def refresh_school(world: World, rng: random.Random, person: Person):
    """Age-dependent facts: age on 31 August, school and UPN (children of 3 and over have one)."""
    person.age_aug31 = age_on_aug31(world, person.dob)
    if person.age_aug31 >= 3 and person.upn is None:
        person.school = world.school_for_age(rng, min(person.age_aug31, 17))
        la_code = world.la_code if rng.random() < 0.93 else rng.choice(world.neighbour_la_codes)
        person.upn = world.allocate_upn(la_code, person.school.establishment, world.aug31.year - person.age_aug31 + 4)
    elif person.upn is not None:
        person.school = world.school_for_age(rng, min(max(person.age_aug31, 3), 17))


def la_children(world: World) -> list[Person]:
    profile = world.profile
    rng = random.Random(f"{world.seed}/la-children")
    people = []
    for index in range(profile.cin_children):
        person = make_person(world, rng, index, rng.choices(range(18), CIN_AGE_WEIGHTS)[0], "cin")
        person.has_ehcp = person.age_aug31 >= 3 and rng.random() < 0.25
        person.non_verbal = rng.random() < (0.15 if person.has_ehcp else 0.03)
        people.append(person)
    offset = profile.cin_children
    for number in range(profile.closed_children):
        people.append(make_person(world, rng, offset + number, rng.randint(1, 17), "closed"))
    offset += profile.closed_children
    for number in range(profile.ehcp_only_children):
        person = make_person(world, rng, offset + number, rng.randint(4, 17), "ehcp_only")
        person.has_ehcp = True
        people.append(person)
    for person in people:
        person.person_id = f"{100000 + person.index:08d}"
    make_known_twins(world, people)
    return people


KNOWN_TWIN_SHARE = 0.004  # of LA children, made the twin of another LA child (both known to social care)


def make_known_twins(world: World, people: list[Person]) -> None:
    """Twins social care knows both of: a few pairs of LA children of the same age and sex group
    are given one birthday, surname and home (forenames stay different). Their own rng, so the
    rest of the authority is drawn as before; linkage must keep each twin's records apart."""
    rng = random.Random(f"{world.seed}/known-twins")
    by_age: dict[int, list[Person]] = {}
    for person in people:
        by_age.setdefault(person.age_aug31, []).append(person)
    wanted = max(1, round(len(people) * KNOWN_TWIN_SHARE)) if len(people) >= 20 else 0
    ages = sorted(age for age, group in by_age.items() if len(group) >= 2)
    for _ in range(wanted):
        if not ages:
            break
        group = by_age[rng.choice(ages)]
        first, second = rng.sample(group, 2)
        if first.twin_of or second.twin_of or first.forename == second.forename:
            continue
        second.dob, second.surname, second.postcode = first.dob, first.surname, first.postcode
        first.twin_of, second.twin_of = second.person_id, first.person_id


def assign_scenarios(world: World, people: list[Person]) -> list[tuple]:
    """Give each scenario to its share of eligible children: (check, person, name, near miss?, description)."""
    rng = random.Random(f"{world.seed}/scenarios")
    by_kind = {kind: [p for p in people if p.kind == kind] for kind in ("cin", "closed", "ehcp_only")}
    taken_groups: dict[int, set[str]] = {p.index: set() for p in people}
    ordered = [s for s in SCENARIOS if s.sets_dob] + [s for s in SCENARIOS if not s.sets_dob]
    near_misses = []
    for scenario in ordered:
        cohort = by_kind[scenario.cohort]
        wanted = (
            max(1, round(scenario.rate * len(by_kind["cin"])))
            if scenario.cohort == "cin"
            else max(1, round(scenario.rate * len(cohort)))
        )
        pool = [
            p
            for p in cohort
            if scenario.group not in taken_groups[p.index]
            and len(p.scenarios) < 3
            and (scenario.eligible is None or scenario.eligible(p))
            and not any(frozenset((scenario.name, other)) in INCOMPATIBLE for other in p.scenarios)
            and not any(
                SCENARIOS_BY_NAME[other].check_id == scenario.check_id
                and SCENARIOS_BY_NAME[other].near_miss != scenario.near_miss
                for other in p.scenarios
            )
        ]
        for person in rng.sample(pool, min(wanted, len(pool))):
            person.scenarios.add(scenario.name)
            taken_groups[person.index].add(scenario.group)
            apply_forced_facts(world, rng, person, scenario)
            near_misses.append(
                (scenario.check_id, person.person_id, scenario.name, scenario.near_miss, scenario.description)
            )
    return near_misses


def apply_forced_facts(world: World, rng: random.Random, person: Person, scenario):
    """A check's `before_build` hook (sample_data/truth/): facts fixed before the child is built."""
    before_build = getattr(PLANTED[scenario.check_id], "before_build", None)
    if before_build is not None:
        before_build(world, person, scenario.name)
    if scenario.sets_dob:
        refresh_school(world, rng, person)


# -- children known only to partner agencies ----------------------------------------------------------

OTHER_AGENCY_CHANCES = [
    ("COMMUNITY_HEALTH", 0.5, 0),
    ("ACUTE_HEALTH", 0.2, 0),
    ("MENTAL_HEALTH", 0.08, 8),
    ("POLICE", 0.05, 10),
    ("EARLY_HELP", 0.05, 0),
    ("YJS", 0.01, 10),
    ("EDT", 0.01, 0),
]


def write_other_children(world: World, grid: SessionGrid, delivery: Delivery, first_index: int, count: int):
    """Children in partner indexes who are not known to social care: no LA id, no truth link."""
    rng = random.Random(f"{world.seed}/others")
    profile = world.profile
    attendance_pupils = summary_pupils = ehcp_rows = 0
    for number in range(count):
        person = make_person(world, rng, first_index + number, rng.randint(0, 17), "other")
        age = person.age_aug31
        agencies = ["GP"] if rng.random() < 0.95 else []
        if person.upn and 4 <= age <= 17 and rng.random() < 0.92:
            agencies.append("EDUCATION")
        agencies += [a for a, chance, min_age in OTHER_AGENCY_CHANCES if age >= min_age and rng.random() < chance]
        for agency in agencies:
            record = agency_record(rng, agency, person, allow_dob_noise=True)
            if agency == "EDUCATION":
                record["upn"] = person.upn
                if number % 400 == 207:
                    record["upn"] = corrupt_upn(person.upn)
            if number % 400 == 7 and record["nhs_number"]:
                record["nhs_number"] = corrupt_nhs_number(person.nhs)
            delivery.write("agency_records", record)
            if agency == "MENTAL_HEALTH" and rng.random() < 0.1:
                start = world.as_at - timedelta(days=rng.randint(10, 600))
                delivery.write(
                    "agency_flags",
                    {
                        "agency": agency,
                        "agency_record_id": record["agency_record_id"],
                        "flag_type": "SELF_HARM",
                        "start_date": start,
                        "recorded_date": start,
                    },
                )
        if "GP" in agencies:
            nhs = corrupt_nhs_number(person.nhs) if number % 900 == 11 else person.nhs
            delivery.write(
                "gp_registrations",
                {
                    "nhs_number": nhs,
                    "practice_code": person.practice_code,
                    "registered_from": person.dob + timedelta(days=rng.randint(7, 60)),
                },
            )
        if person.upn and 4 <= age <= 17 and rng.random() < 0.03:
            ehcp_rows += 1
            upn = corrupt_upn(person.upn) if ehcp_rows % 40 == 2 else person.upn
            start = max(person.dob + timedelta(days=3 * 365 + 30), world.as_at - timedelta(days=rng.randint(100, 2500)))
            delivery.write(
                "ehcp_plans",
                {
                    "ehcp_id": f"EHCP{person.index:07d}",
                    "upn": upn,
                    "named_plan_start_date": start,
                    "last_review_date": max(start, world.as_at - timedelta(days=rng.randint(10, 360))),
                    "school_urn": person.school.urn,
                },
            )
        if person.upn and 5 <= age <= 15 and "EDUCATION" in agencies:
            if attendance_pupils < profile.extra_attendance_pupils:
                upn = corrupt_upn(person.upn) if attendance_pupils % 500 == 3 else person.upn
                plan = AttendancePlan(draw_absence_rate(rng, child_in_need=False))
                lines, _ = pupil_sessions(
                    grid, upn, person.school.urn, plan, np.random.default_rng([world.seed, 2, person.index])
                )
                delivery.write_attendance(lines)
                attendance_pupils += 1
            elif summary_pupils < profile.summary_pupils:
                row, _ = summary_row(
                    grid, person.upn, person.school.urn, draw_absence_rate(rng, child_in_need=False), rng
                )
                delivery.write("attendance_summaries", row)
                summary_pupils += 1


# -- the run ----------------------------------------------------------------------------------------------


def write_la_child(world: World, grid: SessionGrid, delivery: Delivery, evaluator: CatalogueEvaluator, person: Person):
    builder = ChildBuilder(world, grid, person)
    facts = builder.build_child_in_need() if person.kind == "cin" else builder.build_known_not_in_need()
    for table in TABLE_COLUMNS:
        for row in facts.rows.get(table, []):
            delivery.write(table, row, person.person_id, person.twin_of)
        for row in builder.extra.get(table, []):
            delivery.write(table, row)
    for relative in getattr(builder, "relatives_truth", []):
        delivery.relatives.write(relative)
    delivery.write_attendance(builder.attendance_lines)
    delivery.truth.extend(planted_truth.evaluate(evaluator, facts))


def write_csv(path: Path, columns: list[str], rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def generate(
    profile: str,
    seed: int,
    out,
    variant: str = "clean",
    as_at: date = DEFAULT_AS_AT,
    *,
    la_code: int = LA_CODE,
    neighbour_la_codes: tuple[int, ...] = tuple(NEIGHBOUR_LA_CODES),
    nhs_offset: int = 0,
) -> dict:
    """Write one delivery (every contract table) and its truth files into `out`; returns the manifest.

    `la_code`, `neighbour_la_codes` and `nhs_offset` place the authority in a generated region
    (sample_data/region.py): its own UPN LA number and NHS number range, so neighbours share
    no identifier by accident."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if variant not in ("clean", "bad"):
        raise ValueError("variant must be 'clean' or 'bad'")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(
        PROFILES[profile], seed, as_at, la_code=la_code, neighbour_la_codes=neighbour_la_codes, nhs_offset=nhs_offset
    )
    grid = SessionGrid(as_at, world.working_days)
    evaluator = CatalogueEvaluator(as_at, world.working_days)
    people = la_children(world)
    assignments = assign_scenarios(world, people)

    delivery = Delivery(out)
    for professional in world.professionals:
        delivery.write("ssd_professionals", professional)
    for person in people:
        write_la_child(world, grid, delivery, evaluator, person)
    others = max(0, world.profile.index_children - len(people))
    write_other_children(world, grid, delivery, len(people), others)
    delivery.close()

    truth = sorted(set(delivery.truth))
    write_csv(ground_truth(out) / "truth.csv", TRUTH_COLUMNS["truth"], truth)
    near_misses = sorted((check, person, f"{name}: {text}") for check, person, name, near, text in assignments if near)
    planted = sorted((check, person, name) for check, person, name, near, _ in assignments if not near)
    write_csv(ground_truth(out) / "near_misses.csv", TRUTH_COLUMNS["near_misses"], near_misses)
    write_csv(ground_truth(out) / "planted.csv", TRUTH_COLUMNS["planted"], planted)
    counts = {f"{table}.csv": writer.row_count for table, writer in delivery.tables.items()}
    beside = f"{GROUND_TRUTH_DIR}/"
    counts[beside + "truth.csv"], counts[beside + "truth_links.csv"] = len(truth), delivery.links.row_count
    counts[beside + "near_misses.csv"], counts[beside + "planted.csv"] = len(near_misses), len(planted)
    if variant == "bad":
        from ._bad import make_bad_delivery

        counts.update(make_bad_delivery(out, seed))
    manifest = {
        "profile": profile,
        "seed": seed,
        "as_at": as_at.isoformat(),
        "variant": variant,
        "row_counts": dict(sorted(counts.items())),
        "truth_by_check": {check: sum(1 for row in truth if row[0] == check) for check in CHECK_IDS},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m caseflags.sample_data.generator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--profile", default="small", choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument(
        "--bad", action="store_true", help="add malformed rows, a Windows-1252 file and a UK-dates file"
    )
    parser.add_argument("--as-at", type=date.fromisoformat, default=DEFAULT_AS_AT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    manifest = generate(args.profile, args.seed, args.out, "bad" if args.bad else "clean", args.as_at)
    print(
        f"generated profile {args.profile} seed {args.seed} as at {manifest['as_at']} "
        f"({manifest['variant']}) in {time.perf_counter() - started:.1f}s -> {args.out}"
    )
    print("truth rows per check:")
    for check, count in manifest["truth_by_check"].items():
        print(f"  {check:<38} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
