"""Write a CSV delivery "as returns": a CIN census XML and a SEN2 XML plus the other CSV tables.

This is how an authority that has not built local extracts would first run caseflags: the
returns it already sends the DfE, beside whatever case-management tables it has. Used by
`caseflags generate --returns` and by the round-trip test (tests/test_returns_roundtrip.py).

What the returns cannot carry stays in CSV, so nothing is silently lost:
- rows the returns do not cover (people with no CIN episode, agency records of other agencies,
  EHC plans of pupils with no education record) stay in `<table>.csv` beside the XML: a
  delivery then holds a table in both, and ingest combines them;
- NHS numbers of census children move to `ssd_linked_identifiers.csv` (the SSD's own place for
  them) because the census has no NHS number;
- ids the returns derive (episode, plan, assessment, S47, EHCP, education record) replace the
  old ones in the tables that refer to them (`plan_actions.plan_id`, `agency_flags` education
  records, `information_sharing.related_id`); the map is returned as `id_map`.
Columns the returns have no element for (names and SEND flag in `ssd_person`, assessment
"child seen", S47 end date, ICPC meeting id, closure reasons outside the RC code list) are
listed in the result under `not_carried`.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

from caseflags.ingest.returns.reader import (
    ASSESSMENT_FACTORS,
    CLOSURE_REASON,
    DISABILITY,
    PRIMARY_NEED,
    sen2_record_id,
)

CIN_FILE = "cin_census.xml"
SEN2_FILE = "sen2.xml"
CIN_CARRIED = (
    "ssd_disability",
    "ssd_cin_episodes",
    "ssd_cin_assessments",
    "ssd_assessment_factors",
    "ssd_cin_plans",
    "ssd_s47_enquiry",
    "ssd_initial_cp_conference",
)
NOT_CARRIED = {
    "ssd_person": [
        "pers_single_unique_id (moved to ssd_linked_identifiers)",
        "pers_forename",
        "pers_surname",
        "pers_send_flag",
    ],
    "ssd_cin_assessments": ["cina_assessment_child_seen"],
    "ssd_s47_enquiry": ["s47e_s47_end_date"],
    "ssd_initial_cp_conference": ["icpc_icpc_meeting_id"],
    "agency_records": ["nhs_number", "la_person_id (education records)", "a blank sex (SEN2 requires one: written U)"],
    "ehcp_plans": ["last_review_date of a ceased plan (SEN2 reports reviews of active plans only)"],
}
_DEFAULT_FIELDS = {
    "ssd_linked_identifiers": [
        "link_person_id",
        "link_identifier_type",
        "link_identifier_value",
        "link_valid_from_date",
        "link_valid_to_date",
    ]
}


def write_returns(csv_delivery: Path, out_dir: Path, collection_year: int = 2026) -> dict:
    """Convert `csv_delivery` (one `<table>.csv` per contract table) into an as-returns
    delivery in `out_dir`; returns counts, `id_map` (old id -> derived id) and `not_carried`."""
    csv_delivery, out_dir = Path(csv_delivery), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {p.stem: _read_csv(p) for p in sorted(csv_delivery.glob("*.csv"))}
    id_map: dict[str, str] = {}
    remainder: dict[str, list[dict]] = {}

    census = _write_cin(tables, out_dir / CIN_FILE, collection_year, id_map)
    sen2 = _write_sen2(tables, out_dir / SEN2_FILE, collection_year, id_map)

    # People and rows the returns did not carry stay as CSV rows.
    remainder["ssd_person"] = [r for r in tables.get("ssd_person", []) if r["pers_person_id"] not in census["children"]]
    for table in CIN_CARRIED:
        remainder[table] = [r for r in tables.get(table, []) if id(r) not in census["carried_rows"]]
    remainder["agency_records"] = [r for r in tables.get("agency_records", []) if id(r) not in sen2["carried_rows"]]
    remainder["ehcp_plans"] = [r for r in tables.get("ehcp_plans", []) if id(r) not in sen2["carried_rows"]]
    linked = list(tables.get("ssd_linked_identifiers", []))
    for person in tables.get("ssd_person", []):
        nhs = (person.get("pers_single_unique_id") or "").strip()
        if person["pers_person_id"] in census["children"] and nhs:
            linked.append(
                {
                    "link_person_id": person["pers_person_id"],
                    "link_identifier_type": "NHS Number",
                    "link_identifier_value": nhs,
                }
            )
    remainder["ssd_linked_identifiers"] = linked

    written = [CIN_FILE, SEN2_FILE]
    for table, rows in sorted(tables.items()):
        if table in remainder:
            continue
        rewritten = _rekey(table, rows, id_map)
        if rewritten is rows:
            shutil.copyfile(csv_delivery / f"{table}.csv", out_dir / f"{table}.csv")
        else:
            _write_csv(out_dir / f"{table}.csv", _fields(csv_delivery, table), rewritten)
        written.append(f"{table}.csv")
    for table, rows in sorted(remainder.items()):
        if rows:
            fields = _fields(csv_delivery, table)
            _write_csv(out_dir / f"{table}.csv", fields, _rekey(table, rows, id_map))
            written.append(f"{table}.csv")
    for extra in sorted(csv_delivery.iterdir()):  # manifests, truth files travel with the delivery
        if extra.is_file() and extra.suffix.lower() != ".csv":
            shutil.copyfile(extra, out_dir / extra.name)
    return {
        "files": written,
        "cin_children": len(census["children"]),
        "sen2_persons": sen2["persons"],
        "rows_left_in_csv": {t: len(r) for t, r in remainder.items() if r and t != "ssd_linked_identifiers"},
        "id_map": id_map,
        "not_carried": NOT_CARRIED,
    }


# --- CSV helpers ---------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def _fields(csv_delivery: Path, table: str) -> list[str]:
    path = csv_delivery / f"{table}.csv"
    if not path.exists():
        return _DEFAULT_FIELDS[table]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


_REFERENCES = {
    "plan_actions": ("plan_id",),
    "information_sharing": ("related_id",),
    "agency_flags": ("agency_record_id",),
}


def _rekey(table: str, rows: list[dict], id_map: dict[str, str]) -> list[dict]:
    """Rows with references to re-keyed ids replaced; the same list when nothing changes."""
    columns = _REFERENCES.get(table)
    if not columns:
        return rows
    out, changed = [], False
    for row in rows:
        new = dict(row)
        for column in columns:
            key = new.get(column)
            if table == "agency_flags":
                key = f"EDUCATION:{key}" if new.get("agency", "").upper() == "EDUCATION" else None
            if key in id_map:
                new[column] = id_map[key]
                changed = True
        out.append(new)
    return out if changed else rows


# --- XML helpers ---------------------------------------------------------------------------


class _Xml:
    def __init__(self, path: Path):
        self.handle = path.open("w", encoding="utf-8", newline="\n")
        self.handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self.depth = 0

    def open(self, tag: str) -> None:
        self.handle.write(f"{'  ' * self.depth}<{tag}>\n")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.handle.write(f"{'  ' * self.depth}</{tag}>\n")

    def leaf(self, tag: str, value: str | None) -> None:
        if value:
            self.handle.write(f"{'  ' * self.depth}<{tag}>{escape(value)}</{tag}>\n")

    def done(self) -> None:
        self.handle.close()


def _iso(value: str | None) -> str | None:
    """Contract dates may be ISO or UK; returns carry xs:date."""
    if not value:
        return None
    day = value.strip()[:10]
    if len(day) == 10 and day[2] == "/" and day[5] == "/":
        return f"{day[6:]}-{day[3:5]}-{day[:2]}"
    return day


def _header(xml: _Xml, collection: str, year: int, reference: str, sen2: bool) -> None:
    xml.open("Header")
    xml.open("CollectionDetails")
    xml.leaf("Collection", collection)
    xml.leaf("Year", str(year))
    xml.leaf("ReferenceDate", reference)
    xml.close("CollectionDetails")
    xml.open("Source")
    xml.leaf("SourceLevel", "L")
    xml.leaf("LEA", "803")
    xml.leaf("SoftwareCode", "caseflags-generator")
    xml.leaf("Release", "1")
    xml.leaf("SerialNo", "001")
    if sen2:
        xml.leaf("DMO", "N")
        xml.leaf("DCO", "N")
    xml.close("Source")
    xml.close("Header")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"Y", "YES", "1", "TRUE"}


# --- CIN census ----------------------------------------------------------------------------


def _write_cin(tables: dict[str, list[dict]], path: Path, year: int, id_map: dict[str, str]) -> dict:
    people = {r["pers_person_id"]: r for r in tables.get("ssd_person", [])}
    episodes = defaultdict(list)
    for row in tables.get("ssd_cin_episodes", []):
        if row["cine_person_id"] in people and _iso(row["cine_referral_date"]):
            episodes[row["cine_person_id"]].append(row)
    by_person = {
        t: _group(tables.get(t, []), c)
        for t, c in (
            ("ssd_disability", "disa_person_id"),
            ("ssd_cin_assessments", "cina_person_id"),
            ("ssd_cin_plans", "cinp_person_id"),
            ("ssd_s47_enquiry", "s47e_person_id"),
        )
    }
    factors = {r["cinf_assessment_id"]: r for r in tables.get("ssd_assessment_factors", [])}
    icpcs = _group(tables.get("ssd_initial_cp_conference", []), "icpc_s47_enquiry_id")
    carried: set[int] = set()
    children: set[str] = set()

    xml = _Xml(path)
    xml.open("Message")
    _header(xml, "CIN", year, f"{year}-03-31", sen2=False)
    xml.open("Children")
    for person_id in sorted(episodes):
        person = people[person_id]
        if not _iso(person.get("pers_dob")):
            continue  # the census needs a birth date; the person stays in ssd_person.csv
        children.add(person_id)
        xml.open("Child")
        xml.open("ChildIdentifiers")
        xml.leaf("LAchildID", person_id)
        xml.leaf("UPN", person.get("pers_upn"))
        if not person.get("pers_upn"):
            xml.leaf("UPNunknown", person.get("pers_upn_unknown") or "UN1")
        xml.leaf("PersonBirthDate", _iso(person["pers_dob"]))
        sex = (person.get("pers_sex") or "").upper()[:1]
        if year <= 2024:
            xml.leaf("GenderCurrent", {"M": "1", "F": "2", "I": "9"}.get(sex, "0"))
        else:
            xml.leaf("Sex", sex if sex in {"M", "F"} else "U")
        xml.leaf("PersonDeathDate", _iso(person.get("pers_death_date")))
        xml.close("ChildIdentifiers")
        xml.open("ChildCharacteristics")
        xml.leaf("Ethnicity", "NOBT")  # not in the contract: "information not yet obtained"
        disabilities = [
            r for r in by_person["ssd_disability"].get(person_id, []) if r["disa_disability_code"].upper() in DISABILITY
        ]
        if disabilities:
            xml.open("Disabilities")
            for row in disabilities:
                xml.leaf("Disability", row["disa_disability_code"].upper())
                carried.add(id(row))
            xml.close("Disabilities")
        xml.close("ChildCharacteristics")
        ordered = sorted(episodes[person_id], key=lambda r: _iso(r["cine_referral_date"]))
        placed = _place_parts(ordered, by_person, person_id)
        used: dict[str, int] = {}
        for episode in ordered:
            referral_id = _derived(f"{person_id}/{_iso(episode['cine_referral_date'])}", used)
            id_map[episode["cine_referral_id"]] = referral_id
            carried.add(id(episode))
            _write_episode(xml, episode, referral_id, placed[id(episode)], factors, icpcs, id_map, carried)
        xml.close("Child")
    xml.close("Children")
    xml.close("Message")
    xml.done()
    return {"children": children, "carried_rows": carried}


def _group(rows: list[dict], column: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row.get(column, "")].append(row)
    return grouped


def _place_parts(episodes: list[dict], by_person: dict, person_id: str) -> dict[int, dict[str, list[dict]]]:
    """Assessments, plans and S47s under their episode: by referral id, else the latest episode
    referred on or before the part started."""
    placed = {id(e): {"assessments": [], "plans": [], "s47": []} for e in episodes}
    by_referral = {e["cine_referral_id"]: e for e in episodes}
    for kind, table, ref_col, start_col in (
        ("assessments", "ssd_cin_assessments", "cina_referral_id", "cina_assessment_start_date"),
        ("plans", "ssd_cin_plans", "cinp_referral_id", "cinp_cin_plan_start_date"),
        ("s47", "ssd_s47_enquiry", "s47e_referral_id", "s47e_s47_start_date"),
    ):
        for row in by_person[table].get(person_id, []):
            start = _iso(row.get(start_col))
            if not start:
                continue  # stays in its CSV
            episode = by_referral.get(row.get(ref_col, ""))
            if episode is None:
                earlier = [e for e in episodes if _iso(e["cine_referral_date"]) <= start]
                episode = earlier[-1] if earlier else None
            if episode is not None:
                placed[id(episode)][kind].append(row)
    return placed


def _derived(base: str, used: dict[str, int]) -> str:
    used[base] = used.get(base, 0) + 1
    return base if used[base] == 1 else f"{base}#{used[base]}"


def _write_episode(
    xml: _Xml, episode: dict, referral_id: str, parts: dict, factors: dict, icpcs: dict, id_map: dict, carried: set
) -> None:
    xml.open("CINdetails")
    xml.leaf("CINreferralDate", _iso(episode["cine_referral_date"]))
    xml.leaf("ReferralSource", "10")  # not in the contract: "unknown"
    need = episode.get("cine_cin_primary_need_code", "").upper()
    xml.leaf("PrimaryNeedCode", need if need in PRIMARY_NEED else None)
    xml.leaf("CINclosureDate", _iso(episode.get("cine_close_date")))
    reason = episode.get("cine_close_reason", "").upper()
    xml.leaf("ReasonForClosure", reason if reason in CLOSURE_REASON else None)
    used: dict[str, int] = {}
    for row in sorted(parts["assessments"], key=lambda r: _iso(r["cina_assessment_start_date"])):
        start = _iso(row["cina_assessment_start_date"])
        new_id = _derived(f"{referral_id}/A/{start}", used)
        id_map[row["cina_assessment_id"]] = new_id
        carried.add(id(row))
        xml.open("Assessments")
        xml.leaf("AssessmentActualStartDate", start)
        xml.leaf("AssessmentAuthorisationDate", _iso(row.get("cina_assessment_auth_date")))
        codes = _factor_codes(factors.get(row["cina_assessment_id"]))
        if codes:
            xml.open("FactorsIdentifiedAtAssessment")
            for code in codes:
                xml.leaf("AssessmentFactors", code)
            xml.close("FactorsIdentifiedAtAssessment")
            carried.add(id(factors[row["cina_assessment_id"]]))
        xml.close("Assessments")
    for row in sorted(parts["plans"], key=lambda r: _iso(r["cinp_cin_plan_start_date"])):
        start = _iso(row["cinp_cin_plan_start_date"])
        id_map[row["cinp_cin_plan_id"]] = _derived(f"{referral_id}/P/{start}", used)
        carried.add(id(row))
        xml.open("CINPlanDates")
        xml.leaf("CINPlanStartDate", start)
        xml.leaf("CINPlanEndDate", _iso(row.get("cinp_cin_plan_end_date")))
        xml.close("CINPlanDates")
    for row in sorted(parts["s47"], key=lambda r: _iso(r["s47e_s47_start_date"])):
        start = _iso(row["s47e_s47_start_date"])
        enquiry_id = _derived(f"{referral_id}/S47/{start}", used)
        id_map[row["s47e_s47_enquiry_id"]] = enquiry_id
        carried.add(id(row))
        conference = (icpcs.get(row["s47e_s47_enquiry_id"]) or [None])[0]
        xml.open("Section47")
        xml.leaf("S47ActualStartDate", start)
        if conference is not None:
            xml.leaf("InitialCPCtarget", _iso(conference.get("icpc_icpc_target_date")))
            xml.leaf("DateOfInitialCPC", _iso(conference.get("icpc_icpc_date")))
            if _iso(conference.get("icpc_icpc_target_date")) or _iso(conference.get("icpc_icpc_date")):
                id_map[conference["icpc_icpc_id"]] = f"{enquiry_id}/ICPC"
                carried.add(id(conference))
        xml.leaf("ICPCnotRequired", "true" if _truthy(row.get("s47e_s47_nfa")) else "false")
        xml.close("Section47")
    xml.leaf("ReferralNFA", "true" if _truthy(episode.get("cine_referral_nfa")) else "false")
    xml.close("CINdetails")


def _factor_codes(row: dict | None) -> list[str]:
    if row is None:
        return []
    text = row.get("cinf_assessment_factors_json", "").strip().strip("[]")
    codes = [c.strip().strip('"').strip().upper() for c in text.split(",")]
    return [c for c in codes if c in ASSESSMENT_FACTORS]


# --- SEN2 ------------------------------------------------------------------------------------


def _write_sen2(tables: dict[str, list[dict]], path: Path, year: int, id_map: dict[str, str]) -> dict:
    plans = _group(
        [r for r in tables.get("ehcp_plans", []) if r.get("upn") and _iso(r.get("named_plan_start_date"))], "upn"
    )
    education = {}
    for row in tables.get("agency_records", []):
        if row.get("agency", "").upper() == "EDUCATION" and row.get("upn") in plans and row["upn"] not in education:
            education[row["upn"]] = row
    carried: set[int] = set()
    xml = _Xml(path)
    xml.open("Message")
    _header(xml, "SEN2", year, f"{year}-01-15", sen2=True)
    xml.open("Persons")
    persons = 0
    for upn in sorted(education):
        record = education[upn]
        persons += 1
        carried.add(id(record))
        record_id = sen2_record_id(upn, record.get("forename"), record.get("surname"), _iso(record.get("dob")))
        id_map[f"EDUCATION:{record['agency_record_id']}"] = record_id
        xml.open("Person")
        xml.leaf("Surname", record.get("surname"))
        xml.leaf("Forename", record.get("forename"))
        xml.leaf("PersonBirthDate", _iso(record.get("dob")))
        sex = (record.get("sex") or "").upper()[:1]
        xml.leaf("Sex", sex if sex in {"M", "F"} else "U")
        xml.leaf("PostCode", record.get("postcode"))
        xml.leaf("UPN", upn)
        used: dict[str, int] = {}
        for plan in sorted(plans[upn], key=lambda r: _iso(r["named_plan_start_date"])):
            start = _iso(plan["named_plan_start_date"])
            id_map[plan["ehcp_id"]] = _derived(f"{record_id}/{start}", used)
            carried.add(id(plan))
            _write_request(xml, plan, start)
        xml.close("Person")
    xml.close("Persons")
    xml.close("Message")
    xml.done()
    return {"persons": persons, "carried_rows": carried}


def _write_request(xml: _Xml, plan: dict, start: str) -> None:
    urn = plan.get("school_urn") if (plan.get("school_urn") or "").isdigit() and len(plan["school_urn"]) == 6 else None
    xml.open("Requests")
    xml.leaf("RequestOutcome", "H")  # decided before this collection: historical
    xml.open("Assessment")
    xml.leaf("AssessmentOutcome", "H")
    xml.open("NamedPlan")
    xml.leaf("StartDate", start)
    _placement(xml, "PlanDetail", urn, None)
    xml.leaf("CeaseDate", _iso(plan.get("ceased_date")))
    xml.close("NamedPlan")
    xml.close("Assessment")
    if not _iso(plan.get("ceased_date")):
        xml.open("ActivePlans")
        _placement(xml, "PlacementDetail", urn, start)
        xml.open("SENneed")
        xml.leaf("SENtype", "OTH")  # not in the contract
        xml.leaf("SENtypeRank", "1")
        xml.close("SENneed")
        xml.leaf("LastReview", _iso(plan.get("last_review_date")))
        xml.close("ActivePlans")
    xml.close("Requests")


def _placement(xml: _Xml, tag: str, urn: str | None, entry_date: str | None) -> None:
    xml.open(tag)
    xml.leaf("URN", urn)
    if urn is None:
        xml.leaf("SENSetting", "OTH")
    xml.leaf("PlacementRank", "1")
    if entry_date:
        xml.leaf("EntryDate", entry_date)
    xml.leaf("SENunitIndicator", "false")
    xml.leaf("ResourcedProvisionIndicator", "false")
    xml.close(tag)
