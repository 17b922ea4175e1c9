"""NHS numbers and UPNs for synthetic children: valid by construction, corruptible on purpose.

Kept independent of `checks/identifiers.py` so the generator's truth never depends on the code
it is meant to test.
"""

UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # DfE: 23 letters, no I, O, S
SYNTHETIC_NHS_PREFIX = "999"  # NHS England's range for test data: never issued to a patient


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11 check digit, or None when the body can never be valid (remainder gives 10)."""
    total = sum(int(digit) * (10 - position) for position, digit in enumerate(first_nine))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(value: str) -> bool:
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


_valid_synthetic_numbers = None


def _synthetic_numbers():
    """Every valid number of the 999 test range, in a fixed scrambled order (prime stride)."""
    global _valid_synthetic_numbers
    if _valid_synthetic_numbers is None:
        import numpy as np

        bodies = (np.arange(1_000_000, dtype=np.int64) * 104729) % 1_000_000  # a permutation
        digits = [np.full_like(bodies, 9)] * 3 + [(bodies // 10**power) % 10 for power in range(5, -1, -1)]
        total = sum(digit * (10 - position) for position, digit in enumerate(digits))
        check = 11 - total % 11
        check[check == 11] = 0
        usable = check != 10  # these bodies can never carry a valid number
        _valid_synthetic_numbers = (9_990_000_000 + bodies[usable] * 10 + check[usable]).tolist()
    return _valid_synthetic_numbers


def synthetic_nhs_number(serial: int) -> str:
    """The serial-th valid number of the 999 test range (one-to-one; about 909,000 exist)."""
    return str(_synthetic_numbers()[serial])


def corrupt_nhs_number(value: str) -> str:
    """Same shape, wrong check digit."""
    body, check = value[:9], int(value[9])
    for delta in range(1, 10):
        candidate = body + str((check + delta) % 10)
        if not is_valid_nhs_number(candidate):
            return candidate
    raise AssertionError("unreachable: only one digit can be valid")


def upn_check_letter(last_twelve: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(last_twelve, range(2, 14)))
    return UPN_CHECK_LETTERS[total % 23]


def make_upn(la_code: int, establishment: int, year_allocated: int, serial: int) -> str:
    """Check letter + LA code (3) + establishment (4) + year allocated (2) + serial (3)."""
    body = f"{la_code:03d}{establishment:04d}{year_allocated % 100:02d}{serial:03d}"
    return upn_check_letter(body) + body


def is_valid_upn(value: str) -> bool:
    if len(value) != 13 or not value[1:].isdigit():
        return False
    return value[0] == upn_check_letter(value[1:])


def corrupt_upn(value: str) -> str:
    """Same shape, wrong check letter."""
    right = value[0]
    wrong = UPN_CHECK_LETTERS[(UPN_CHECK_LETTERS.index(right) + 7) % 23]
    return wrong + value[1:]
