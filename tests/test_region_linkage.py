"""Cross-border linkage through link_people: identifiers link, and a model match contradicted by a
differing identifier is not a link but a pair for officers."""

from datetime import date

from region_fixtures import new_region_store

from caseflags.region.linkage import link_region
from caseflags.sample_data._identifiers import make_upn, synthetic_nhs_number

UPN_1, UPN_2, UPN_3 = (make_upn(803, 2010, 18, 1), make_upn(801, 2010, 18, 2), make_upn(803, 2013, 18, 3))


def _person(con, la_code, local_id, source, forename, surname, dob, *, upn=None, nhs=None, postcode="BS16 1AB"):
    con.execute(
        """INSERT INTO region_people (la_code, local_id, source, person_id, nhs_number, upn, forename, surname, dob,
                                      sex, postcode, cin_open, cin_known)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'F', ?, false, false)""",
        [
            la_code,
            local_id,
            source,
            local_id if source == "SOCIAL_CARE" else None,
            nhs,
            upn,
            forename,
            surname,
            dob,
            postcode,
        ],
    )


def test_identifier_links_and_contradicted_model_matches():
    con = new_region_store()
    _person(
        con, "803", "C1", "SOCIAL_CARE", "Amelia", "Hughes", date(2014, 3, 2), upn=UPN_1, nhs=synthetic_nhs_number(1)
    )
    _person(con, "803", "C2", "SOCIAL_CARE", "Grace", "Turner", date(2012, 7, 9), upn=UPN_3)
    _person(con, "801", "EDUCATION:E1", "EDUCATION", "Amelia", "Hughes", date(2014, 3, 2), upn=UPN_1)
    # Same name, birthday and postcode as C2, but another pupil's UPN: not C2.
    _person(con, "801", "EDUCATION:E2", "EDUCATION", "Grace", "Turner", date(2012, 7, 9), upn=UPN_2)
    for number in range(40):  # enough unrelated people for the model's random pairs
        _person(
            con,
            "801",
            f"C{number + 10}",
            "SOCIAL_CARE",
            f"Name{number}",
            f"Family{number}",
            date(2008 + number % 10, 1 + number % 12, 1 + number % 28),
            postcode=f"BS3{number % 10} 2XY",
        )
    summary = link_region(con, match_threshold=0.99, review_threshold=0.8)
    links = con.execute(
        "SELECT home_la, home_person_id, other_la, other_local_id, method FROM region_links "
        "WHERE home_la = '803' ORDER BY ALL"
    ).fetchall()
    assert ("803", "C1", "801", "EDUCATION:E1", "UPN") in links
    assert not any(link[1] == "C2" for link in links)
    assert summary.links_by_method.get("UPN", 0) >= 1
    # The model matches C2 and E2 (same name, birthday, sex, postcode); the differing UPN stops the
    # link (in link_people's resolution, and again in sql/region/contradicted.sql): officers decide.
    held = con.execute(
        "SELECT DISTINCT home_person_id, other_local_id FROM region_possible_matches WHERE home_person_id = 'C2'"
    ).fetchall()
    assert held == [("C2", "EDUCATION:E2")]
