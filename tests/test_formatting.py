"""Money in deni and time in minutes, written as people in the programme write them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.formatting import day, hours, money, parse_money, schedule


def test_money_in_macedonian_uses_dot_groups_and_comma_decimals() -> None:
    assert money(16605000, "mk") == "166.050,00 ден."
    assert money(30000, "mk") == "300,00 ден."
    assert money(16605000, "en") == "166,050.00 MKD"


def test_hours_are_hours_and_minutes() -> None:
    assert hours(750, "mk") == "12:30 ч"
    assert hours(5, "en") == "0:05 h"


def test_dates_are_day_month_year() -> None:
    from datetime import date

    assert day(date(2026, 11, 23), "mk") == "23.11.2026"


@pytest.mark.parametrize(
    ("text", "deni"),
    [
        ("15.000,00", 1500000),
        ("15000", 1500000),
        ("15 000", 1500000),
        ("15000.5", 1500050),
        ("15,5", 1550),
        ("1.234.567,89", 123456789),
        ("300,00 ден.", 30000),
        ("1,234", 123400),  # one separator before three digits groups thousands
    ],
)
def test_parse_money_reads_local_and_plain_amounts(text: str, deni: int) -> None:
    assert parse_money(text) == deni


@pytest.mark.parametrize("text", ["", "abc", "10.123,456", "1,5,0.25.3", "NaN", "inf"])
def test_parse_money_refuses_what_is_not_an_amount_with_at_most_two_decimals(text: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_money(text)


@given(st.integers(min_value=0, max_value=10**12))
def test_formatted_money_reads_back_to_the_same_deni(deni: int) -> None:
    assert parse_money(money(deni, "mk")) == deni


@pytest.mark.parametrize("text", ["31.02.1984", "1984-02-31", "29/02/2023", "00.01.2020"])
def test_a_date_written_rightly_that_does_not_exist_is_named_as_such(text: str) -> None:
    from casework.formatting import NoSuchDay, parse_day

    with pytest.raises(NoSuchDay):
        parse_day(text)


@pytest.mark.parametrize("text", ["31-02-1984", "February 3", "1984"])
def test_a_date_in_no_known_form_is_not_taken_for_a_missing_day(text: str) -> None:
    from casework.formatting import NoSuchDay, parse_day

    with pytest.raises(ValueError) as refused:
        parse_day(text)
    assert not isinstance(refused.value, NoSuchDay)


def test_the_refusal_of_a_missing_day_names_the_date(app: object) -> None:
    from casework.formatting import no_such_day

    assert no_such_day(" 31.02.1984 ") == "The date 31.02.1984 does not exist."


def test_hours_group_thousands_as_the_locale_groups_money() -> None:
    assert hours(77730, "mk") == "1.295:30 ч"
    assert hours(600000, "en") == "10,000:00 h"
    assert hours(-77730, "mk") == "−1.295:30 ч"
    assert hours(59, "mk") == "0:59 ч"


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 7 * * mon", "Mondays at 07:00"),
        ("30 18 * * FRI", "Fridays at 18:30"),
        ("0 7 * * mon-fri", "Monday to Friday at 07:00"),
        ("5 6 * * *", "Every day at 06:05"),
        ("0 7 1 * *", "On day 1 of each month at 07:00"),
        # Any other shape is shown as written, never guessed at.
        ("0 7 * * 1", "0 7 * * 1"),  # a numbered day: APScheduler and cron disagree on it
        ("0 7 * 1 mon", "0 7 * 1 mon"),
        ("*/15 7 * * mon", "*/15 7 * * mon"),
        ("0 7 1 * mon", "0 7 1 * mon"),
        ("0 7 * *", "0 7 * *"),
        ("0 25 * * mon", "0 25 * * mon"),
    ],
)
def test_a_check_schedule_reads_in_words_for_the_usual_shapes(cron: str, words: str) -> None:
    assert schedule(cron, "en") == words
