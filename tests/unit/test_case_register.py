"""The case register: one gapless running number per district and year (L1.2)."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidValue
from domain.register import CaseRegister
from gateways.eventstore.environment import memory_env
from services.cases import Cases
from tests.support.builders import (
    DISTRICT,
    FIXED_TIME,
    OTHER_DISTRICT,
    OTHER_DISTRICT_COORDINATOR,
    FakeClock,
    report_a_case,
    two_district_profiles,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cases(clock: FakeClock) -> Cases:
    return Cases(env=memory_env(), clock=clock)


def test_the_first_case_of_a_year_is_number_one_formatted_code_year_number(cases):
    result = report_a_case(cases)

    assert result.register_number == "LUTRA/2024/00001"


def test_register_numbers_follow_each_other_without_gaps(cases, clock):
    numbers = []
    for _ in range(3):
        numbers.append(report_a_case(cases).register_number)
        clock.advance()

    assert numbers == ["LUTRA/2024/00001", "LUTRA/2024/00002", "LUTRA/2024/00003"]


def test_a_refused_report_takes_no_number(cases):
    # Given one recorded report
    report_a_case(cases)
    # And a report refused because it says it arrived tomorrow
    with pytest.raises(InvalidValue):
        report_a_case(cases, arrived_at=FIXED_TIME + timedelta(days=1))

    # When the next report is recorded
    result = report_a_case(cases)

    # Then it takes the number after the first
    assert result.register_number == "LUTRA/2024/00002"


def test_a_retried_report_keeps_its_number_and_takes_no_new_one(cases):
    first = report_a_case(cases, idempotency_key="report-7f3a")
    retried = report_a_case(cases, idempotency_key="report-7f3a")

    following = report_a_case(cases)

    assert retried.register_number == first.register_number == "LUTRA/2024/00001"
    assert following.register_number == "LUTRA/2024/00002"


def test_each_district_numbers_its_own_cases(clock):
    cases = Cases(env=memory_env(), clock=clock, profiles=two_district_profiles())

    luwu_utara_first = report_a_case(cases)
    kota_batu_first = report_a_case(cases, actor=OTHER_DISTRICT_COORDINATOR)
    luwu_utara_second = report_a_case(cases)

    assert luwu_utara_first.register_number == "LUTRA/2024/00001"
    assert kota_batu_first.register_number == "BATU/2024/00001"
    assert luwu_utara_second.register_number == "LUTRA/2024/00002"


def test_a_new_year_starts_again_at_number_one(cases, clock):
    # Given two cases in 2024
    report_a_case(cases)
    report_a_case(cases)
    # When the first case of 2025 is reported
    clock.now = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
    result = report_a_case(cases)

    # Then it is number one of 2025
    assert result.register_number == "LUTRA/2025/00001"


def test_the_year_is_the_districts_local_year(cases, clock):
    """Luwu Utara keeps WITA (UTC+8): 16:30 UTC on 31 December is already 1 January."""
    clock.now = datetime(2024, 12, 31, 15, 59, tzinfo=UTC)
    last_of_2024 = report_a_case(cases)
    clock.now = datetime(2024, 12, 31, 16, 30, tzinfo=UTC)

    first_of_2025 = report_a_case(cases)

    assert last_of_2024.register_number == "LUTRA/2024/00001"
    assert first_of_2025.register_number == "LUTRA/2025/00001"


def test_the_register_records_which_case_took_each_number(cases):
    first = report_a_case(cases)
    second = report_a_case(cases)

    register_id = CaseRegister.register_id(DISTRICT, 2024)
    issued = [
        (event.number, event.case_id)
        for event in cases.events.get(register_id)
        if type(event).__name__ == "NumberIssued"
    ]

    assert issued == [(1, first.case_id), (2, second.case_id)]


def test_the_case_belongs_to_the_reporting_officers_district_and_carries_its_number(clock):
    cases = Cases(env=memory_env(), clock=clock, profiles=two_district_profiles())

    result = report_a_case(cases, actor=OTHER_DISTRICT_COORDINATOR)

    case = cases.visible_case(OTHER_DISTRICT_COORDINATOR, result.case_id)

    assert case.register_number == result.register_number
    assert case.district == OTHER_DISTRICT
