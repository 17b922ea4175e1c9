"""NHS number and UPN validation (contract: modulus 11; DfE check letter).

Invalid identifiers are data-quality exceptions, not rejected rows: ingest keeps the row and
lists the identifier in `identifier_issues`, and linkage never uses it.
"""

from __future__ import annotations

import re

import nhs_number

UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(r"^[A-Z][0-9]{11}[0-9A-Z]$")


def normalise_nhs_number(value: str | None) -> str | None:
    """Digits only when the value has an NHS number's shape (spaces or dashes allowed), else as given."""
    if value is None:
        return None
    standard = nhs_number.standardise_format(value.strip())
    return standard or value.strip()


def is_valid_nhs_number(value: str | None) -> bool:
    """10 digits whose last digit is the modulus-11 check digit of the first nine.

    Uses the library's checksum rather than `nhs_number.is_valid`, which also rejects numbers
    in the Scottish CHI range whose first six digits are not a date: the contract asks for
    modulus 11 only.
    """
    if not value:
        return False
    digits = nhs_number.standardise_format(value)
    if not digits:
        return False
    return nhs_number.calculate_checksum(digits[:9]) == int(digits[9])


def upn_check_letter(last_twelve: str) -> str:
    """DfE check letter for characters 2-13 of a UPN (weights 2..13, modulus 23).

    A temporary UPN ends in a letter, which counts as its position in the check-letter alphabet.
    """
    total = 0
    for weight, char in enumerate(last_twelve, start=2):
        value = int(char) if char.isdigit() else UPN_CHECK_LETTERS.index(char)
        total += weight * value
    return UPN_CHECK_LETTERS[total % 23]


def is_valid_upn(value: str | None) -> bool:
    if not value:
        return False
    upn = value.strip().upper()
    if not _UPN_SHAPE.match(upn) or (upn[12].isalpha() and upn[12] not in UPN_CHECK_LETTERS):
        return False
    return upn[0] == upn_check_letter(upn[1:])
