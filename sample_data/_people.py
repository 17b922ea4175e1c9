"""People in the authority and how each agency's person index records them (with noise)."""

import random
from dataclasses import dataclass, field
from datetime import date

from ._calendar import age_in_years
from ._names import NICKNAMES
from ._world import RECORD_PREFIX, School, World, random_postcode

NHS_HELD_BY = {
    "GP": 0.99,
    "COMMUNITY_HEALTH": 0.95,
    "ACUTE_HEALTH": 0.93,
    "MENTAL_HEALTH": 0.95,
    "EDUCATION": 0.05,
    "POLICE": 0.0,
    "YJS": 0.1,
    "EDT": 0.0,
    "EARLY_HELP": 0.2,
}
UPN_HELD_BY = {"EDUCATION": 0.99, "YJS": 0.4, "EARLY_HELP": 0.3}
LA_ID_HELD_BY = {"EARLY_HELP": 0.7, "YJS": 0.6, "EDT": 0.8}
SIBLING_NHS_SERIAL_BASE = 500_000  # beyond the largest profile's children


@dataclass
class Person:
    """One real child. `person_id` is set only for children in social care's ssd_person."""

    index: int
    dob: date
    sex: str
    forename: str
    surname: str
    postcode: str
    nhs: str
    upn: str | None
    school: School | None
    practice_code: str
    person_id: str | None = None
    # set for LA children only
    kind: str = "other"  # "cin", "closed", "ehcp_only", "other"
    has_ehcp: bool = False
    non_verbal: bool = False
    age_aug31: int = 0
    scenarios: set[str] = field(default_factory=set)
    twin_of: str | None = None  # an LA child's twin who is also an LA child (generator.make_known_twins)


def typo(name: str, rng: random.Random) -> str:
    """Swap two adjacent letters (or drop one): the commonest keying errors."""
    if len(name) < 4:
        return name + name[-1]
    position = rng.randint(1, len(name) - 2)
    if rng.random() < 0.5:
        return name[:position] + name[position + 1] + name[position] + name[position + 2 :]
    return name[:position] + name[position + 1 :]


def swapped_day_month(dob: date) -> date | None:
    if dob.day > 12 or dob.day == dob.month:
        return None
    return date(dob.year, dob.day, dob.month)


def agency_record(rng: random.Random, agency: str, person: Person, *, allow_dob_noise: bool) -> dict:
    """The person as one partner agency holds them: usually right, sometimes not quite."""
    forename, surname = person.forename, person.surname
    roll = rng.random()
    if roll < 0.06 and forename in NICKNAMES:
        forename = NICKNAMES[forename]
    elif roll < 0.10:
        forename = typo(forename, rng)
    if rng.random() < 0.02:
        surname = typo(surname, rng)
    dob = person.dob
    if allow_dob_noise and rng.random() < 0.006:
        dob = swapped_day_month(person.dob) or dob
    postcode = person.postcode if rng.random() >= 0.08 else random_postcode(rng)
    nhs = person.nhs if rng.random() < NHS_HELD_BY.get(agency, 0) else None
    upn = person.upn if person.upn and rng.random() < UPN_HELD_BY.get(agency, 0) else None
    la_id = person.person_id if person.person_id and rng.random() < LA_ID_HELD_BY.get(agency, 0) else None
    return {
        "agency": agency,
        "agency_record_id": record_id(agency, person.index),
        "nhs_number": nhs,
        "upn": upn,
        "la_person_id": la_id,
        "forename": forename,
        "surname": surname,
        "dob": dob,
        "sex": person.sex if rng.random() > 0.01 else None,
        "postcode": postcode,
    }


IDENTITY_FIELDS = ("forename", "surname", "dob", "postcode", "sex")  # the fields a slip can touch


def noisy_fields(record: dict, person: Person) -> list[str]:
    """The identity fields on which the record differs from (or is blank against) the real person."""
    return [name for name in IDENTITY_FIELDS if record[name] != getattr(person, name)]


NAME_SLIPS = ("forename", "surname", "sex")  # slips the model forgives without an identifier, at any size


def limit_identity_noise(rng: random.Random, record: dict, person: Person, keep: str | None = None) -> None:
    """Leave at most one slip on the record: `keep` if given (a planted defect), else one name slip
    drawn at random; every other identity field is restored to the person's own value."""
    noisy = noisy_fields(record, person)
    names = [name for name in noisy if name in NAME_SLIPS]
    kept = keep if keep is not None else rng.choice(names) if len(names) > 1 else names[0] if names else None
    for name in noisy:
        if name != kept:
            record[name] = getattr(person, name)


def give_shared_identifier(record: dict, person: Person, nhs_known: bool, upn_known: bool) -> None:
    """Give a record an identifier social care also holds, of a kind its agency keeps where possible."""
    agency = record["agency"]
    if nhs_known and NHS_HELD_BY.get(agency, 0) > 0.5:
        record["nhs_number"] = person.nhs
    elif upn_known and UPN_HELD_BY.get(agency, 0) > 0.5:
        record["upn"] = person.upn
    else:
        record["la_person_id"] = person.person_id


def record_id(agency: str, person_index: int) -> str:
    # scrambled so ids do not line up across agencies (nothing should join on them)
    return f"{RECORD_PREFIX[agency]}{(person_index * 7919 + len(agency) * 104729) % 100_000_000:08d}"


def age_aug31(world: World, dob: date) -> int:
    return age_in_years(dob, world.aug31)
