"""NHS number and UPN validation (contract: modulus 11; DfE check letter).

Invalid identifiers are data-quality exceptions, not rejected rows: ingest keeps the row and
lists the identifier in `identifier_issues`, and linkage never uses it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import nhs_number

if TYPE_CHECKING:  # annotations only
    import polars as pl

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


# --- the same rules as column expressions, for whole extracts at once ----------------------------


def nhs_number_valid_expr(value: pl.Expr) -> pl.Expr:
    """Polars form of `is_valid_nhs_number` for values already normalised to digits."""
    import polars as pl

    digits = [value.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    weighted = pl.sum_horizontal([digit * (10 - i) for i, digit in enumerate(digits[:9])])
    check = (11 - weighted % 11) % 11  # 11 -> 0; 10 stays 10, which no check digit equals
    return (value.str.contains(r"^\d{10}$") & (check == digits[9])).fill_null(False)


def upn_valid_expr(value: pl.Expr) -> pl.Expr:
    """Polars form of `is_valid_upn` (DfE check letter; a temporary UPN may end in a letter)."""
    import polars as pl

    upn = value.str.to_uppercase()
    letter_values = {letter: str(i) for i, letter in enumerate(UPN_CHECK_LETTERS)}

    def char_value(position: int) -> pl.Expr:
        char = upn.str.slice(position, 1)
        return (
            pl.when(char.str.contains(r"^\d$"))
            .then(char)
            .otherwise(char.replace_strict(letter_values, default=None))
            .cast(pl.Int32, strict=False)
        )

    total = pl.sum_horizontal([char_value(position) * (position + 1) for position in range(1, 13)])
    expected = pl.lit(list(UPN_CHECK_LETTERS)).list.get(total % 23, null_on_oob=True)
    shaped = upn.str.contains(r"^[A-Z][0-9]{11}[0-9A-Z]$") & char_value(12).is_not_null()
    return (shaped & (upn.str.slice(0, 1) == expected)).fill_null(False)


def upn_problem_expr(value: pl.Expr) -> pl.Expr:
    """Why a UPN is invalid, most basic first: its length, its shape, then the check letter."""
    import polars as pl

    upn = value.str.to_uppercase()
    length = upn.str.len_chars()
    return (
        pl.when(length != 13)
        .then(pl.format("UPN has {} characters, not 13", length))
        .when(~upn.str.contains(r"^[A-Z][0-9]{11}[0-9A-Z]$"))
        .then(pl.lit("UPN is not a letter, 11 digits and a digit or letter"))
        .otherwise(pl.lit("UPN fails its DfE check letter"))
    )


def nhs_number_problem_expr(value: pl.Expr) -> pl.Expr:
    """Why an NHS number is invalid: its length, non-digits, then the modulus-11 check."""
    import polars as pl

    length = value.str.len_chars()
    return (
        pl.when(length != 10)
        .then(pl.format("NHS number has {} characters, not 10", length))
        .when(~value.str.contains(r"^[0-9]{10}$"))
        .then(pl.lit("NHS number is not 10 digits"))
        .otherwise(pl.lit("NHS number fails its modulus-11 check digit"))
    )
