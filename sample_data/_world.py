"""The synthetic authority's fixed cast: schools, GP practices and professionals."""

import random
from dataclasses import dataclass, field
from datetime import date

from ._calendar import WorkingDays, academic_year_start, add_months, age_in_years, last_31_august_before
from ._names import BOY_NAMES, GIRL_NAMES, POSTCODE_DISTRICTS, POSTCODE_UNIT_LETTERS, SURNAMES

LA_CODE = 803  # the UPN's LA number for this authority (pupils who moved in carry another)
NEIGHBOUR_LA_CODES = [801, 802, 935]
PARTNER_AGENCIES = [
    "EDUCATION",
    "GP",
    "COMMUNITY_HEALTH",
    "ACUTE_HEALTH",
    "MENTAL_HEALTH",
    "POLICE",
    "YJS",
    "EDT",
    "EARLY_HELP",
]
RECORD_PREFIX = {
    "EDUCATION": "ED",
    "GP": "GP",
    "COMMUNITY_HEALTH": "SIR",
    "ACUTE_HEALTH": "NBT",
    "MENTAL_HEALTH": "AWP",
    "POLICE": "ASP",
    "YJS": "YJ",
    "EDT": "EDT",
    "EARLY_HELP": "EH",
}
# Invitee role each partner agency sends to meetings (the contract's invitee_role list).
INVITEE_ROLE = {
    "SOCIAL_CARE": "SOCIAL_WORKER",
    "EDUCATION": "SCHOOL",
    "GP": "GP",
    "COMMUNITY_HEALTH": "SCHOOL_NURSE",
    "ACUTE_HEALTH": "PAEDIATRICIAN",
    "MENTAL_HEALTH": "CAMHS",
    "POLICE": "POLICE",
    "YJS": "YJS",
    "EDT": "OTHER",
    "EARLY_HELP": "EARLY_HELP",
}
JOB_TITLES = {
    "SOCIAL_CARE": "Social Worker",
    "EDUCATION": "Designated Safeguarding Lead",
    "GP": "General Practitioner",
    "COMMUNITY_HEALTH": "School Nurse",
    "ACUTE_HEALTH": "Consultant Paediatrician",
    "MENTAL_HEALTH": "CAMHS Practitioner",
    "POLICE": "Police Safeguarding Officer",
    "YJS": "YJS Case Manager",
    "EDT": "EDT Social Worker",
    "EARLY_HELP": "Family Support Worker",
}


@dataclass(frozen=True)
class Profile:
    name: str
    cin_children: int
    closed_children: int  # in ssd_person, CiN plan ended (not in the cohort)
    ehcp_only_children: int  # in ssd_person, never CiN now, active EHCP
    index_children: int  # distinct children across all agency person indexes
    extra_attendance_pupils: int  # non-CiN pupils with attendance sessions
    summary_pupils: int  # non-CiN pupils whose school sends attendance_summaries
    schools: int
    practices: int


PROFILES = {
    "tiny": Profile("tiny", 60, 10, 12, 400, 10, 3, 6, 5),
    "small": Profile("small", 300, 45, 40, 3000, 60, 10, 20, 12),
    "la": Profile("la", 2000, 300, 250, 60000, 4000, 150, 80, 30),
    "large": Profile("large", 10000, 1500, 1200, 300000, 15000, 600, 250, 80),
}


@dataclass
class School:
    urn: str
    establishment: int
    phase: str  # "primary" | "secondary"
    dsl_id: str


@dataclass
class Practice:
    code: str
    gp_id: str


@dataclass
class World:
    """Everything fixed for a run: as-at date, calendars, pools of schools and professionals."""

    profile: Profile
    seed: int
    as_at: date
    working_days: WorkingDays
    schools: list[School] = field(default_factory=list)
    practices: list[Practice] = field(default_factory=list)
    social_workers: list[str] = field(default_factory=list)
    partner_staff: dict[str, list[str]] = field(default_factory=dict)
    professionals: list[dict] = field(default_factory=list)
    upn_serials: dict[tuple[int, int, int], int] = field(default_factory=dict)
    # The authority's UPN LA number, the LA numbers its moved-in pupils carry, and the first
    # synthetic NHS number serial it uses (neighbours in a generated region never share one).
    la_code: int = LA_CODE
    neighbour_la_codes: tuple[int, ...] = tuple(NEIGHBOUR_LA_CODES)
    nhs_offset: int = 0

    @property
    def aug31(self) -> date:
        return last_31_august_before(self.as_at)

    @property
    def academic_start(self) -> date:
        return academic_year_start(self.as_at)

    def allocate_upn(self, la_code: int, establishment: int, year_allocated: int) -> str:
        from ._identifiers import make_upn

        key = (la_code, establishment, year_allocated % 100)
        serial = self.upn_serials.get(key, 0) + 1
        while serial > 999:  # a full allocation year: spill into the next establishment number
            key = (la_code, key[1] + 1, key[2])
            serial = self.upn_serials.get(key, 0) + 1
        self.upn_serials[key] = serial
        return make_upn(*key, serial)

    def school_for_age(self, rng: random.Random, age_aug31: int) -> School:
        phase = "primary" if age_aug31 <= 10 else "secondary"
        return rng.choice([s for s in self.schools if s.phase == phase])


def random_person_name(rng: random.Random, sex: str) -> tuple[str, str]:
    return rng.choice(GIRL_NAMES if sex == "F" else BOY_NAMES), rng.choice(SURNAMES)


def random_postcode(rng: random.Random) -> str:
    return f"{rng.choice(POSTCODE_DISTRICTS)} {rng.randint(1, 9)}{rng.choice(POSTCODE_UNIT_LETTERS)}{rng.choice(POSTCODE_UNIT_LETTERS)}"


def build_world(
    profile: Profile,
    seed: int,
    as_at: date,
    *,
    la_code: int = LA_CODE,
    neighbour_la_codes: tuple[int, ...] = tuple(NEIGHBOUR_LA_CODES),
    nhs_offset: int = 0,
) -> World:
    rng = random.Random(f"{seed}/world")
    world = World(
        profile,
        seed,
        as_at,
        WorkingDays(as_at.year - 25, as_at.year + 2),
        la_code=la_code,
        neighbour_la_codes=tuple(neighbour_la_codes),
        nhs_offset=nhs_offset,
    )
    serial = 0

    def professional(agency: str, practice_code: str | None = None, title: str | None = None) -> str:
        nonlocal serial
        serial += 1
        prof_id = f"PRF{serial:05d}"
        forename, surname = random_person_name(rng, rng.choice("MF"))
        world.professionals.append(
            {
                "prof_professional_id": prof_id,
                "prof_professional_name": f"{forename} {surname}",
                "prof_professional_job_title": title or JOB_TITLES[agency],
                "prof_agency": agency,
                "prof_practice_code": practice_code,
            }
        )
        return prof_id

    for number in range(profile.schools):
        phase = "primary" if number % 4 else "secondary"
        establishment = (2000 if phase == "primary" else 4000) + 10 + number * 3
        urn = f"{109000 + number * 37 + rng.randint(0, 30)}"
        world.schools.append(School(urn, establishment, phase, professional("EDUCATION")))
    for number in range(profile.practices):
        code = f"L81{number * 7 + 3:03d}"
        world.practices.append(Practice(code, professional("GP", practice_code=code)))
    world.social_workers = [professional("SOCIAL_CARE") for _ in range(max(12, profile.cin_children // 14))]
    for agency in PARTNER_AGENCIES:
        if agency not in ("EDUCATION", "GP"):
            world.partner_staff[agency] = [professional(agency) for _ in range(max(4, profile.cin_children // 60))]
    for _ in range(max(2, profile.cin_children // 100)):
        professional("SOCIAL_CARE", title="Team Manager")
    return world


def age_on_aug31(world: World, dob: date) -> int:
    return age_in_years(dob, world.aug31)


def dob_for_age(rng: random.Random, world: World, age_aug31: int) -> date:
    """A date of birth giving this age on the last 31 August before the as-at date."""
    latest = date(world.aug31.year - age_aug31, 8, 31)
    return date.fromordinal(latest.toordinal() - rng.randint(0, 364))


__all__ = [
    "PROFILES",
    "Profile",
    "World",
    "build_world",
    "random_person_name",
    "random_postcode",
    "dob_for_age",
    "age_on_aug31",
    "add_months",
    "academic_year_start",
]
