"""ЕМБГ: 13 digits, a real birth date inside, and the check digit of DOMAIN.md."""

from __future__ import annotations

from datetime import date

import pytest

from casework.errors import ValidationError
from casework.households.services import (
    birth_date_from_national_id,
    mask_national_id,
    sex_from_national_id,
    validate_national_id,
)


@pytest.mark.parametrize("number", ["0308964384007", "1503985430018", "0207987435007"])
def test_the_published_examples_are_valid(number: str) -> None:
    assert validate_national_id(number) == number


def test_spaces_are_ignored() -> None:
    assert validate_national_id(" 0308964 384007 ") == "0308964384007"


def test_birth_date_and_sex_come_from_the_number() -> None:
    assert birth_date_from_national_id("0308964384007") == date(1964, 8, 3)
    assert sex_from_national_id("0308964384007") == "M"
    assert sex_from_national_id("0207987435007") == "F"  # serial 500-999: female


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("0308964384008", "check digit"),
        ("3102985430018", "birth date"),  # 31 February
        ("030896438400", "13 digits"),
        ("03089643840071", "13 digits"),
        ("03089643840a7", "13 digits"),
        ("", "13 digits"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as refused:
        validate_national_id(number)
    assert refused.value.field == "national_id"


def test_masking_shows_only_the_last_four_digits() -> None:
    assert mask_national_id("0308964384007") == "•••••••••4007"
    assert mask_national_id(None) == "—"
