"""Kutai Timur's outreach (SOP Penjangkauan): the aggregate's order, and the service's
atomic becoming a case. Each test names the step (K-O1 ... K-O5, K-R1) it holds to."""

from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.errors import InvalidValue, ProcessNotRun, RuleViolated
from domain.outreach import OUTREACH_EVENT_TYPES, Outreach
from domain.vocabulary import Agency, Role
from gateways.eventstore.environment import memory_env
from gateways.kafka.publication import Publication
from projections.open_cases import CASE_TOPICS
from projections.outreach_record import outreach_record
from services.access import AccessDenied
from services.access_log import CaseRead
from services.case_commands import Person
from services.cases import Cases
from services.outreach import (
    OUTREACH_TOPICS,
    BecomeCase,
    GradeRisk,
    MapVulnerability,
    ObserveHomeVisit,
    OutreachNotFound,
    OutreachRecords,
    VerifyInitialData,
    case_id_for,
)
from services.sharing import SharingPolicy, load_matrix
from tests.support.builders import FIXED_TIME, FakeClock

DISTRICT = "kutai-timur"
PEKSOS = Actor("peksos.kutim", Role.CASE_WORKER, Agency.SOCIAL, DISTRICT)
INTAKE = Actor("intake.kutim", Role.INTAKE_OFFICER, Agency.SOCIAL, DISTRICT)
AUDITOR = Actor("auditor.1", Role.AUDITOR, Agency.UPTD_PPA, DISTRICT)
POLICE = Actor("police.kutim", Role.AGENCY_OFFICER, Agency.POLICE, DISTRICT)
LUWU_OFFICE = Actor("intake.luwu", Role.INTAKE_OFFICER, Agency.UPTD_PPA, "luwu-utara")


@pytest.fixture
def acting() -> Iterator[None]:
    with acting_as(PEKSOS, FIXED_TIME):
        yield


def mapped(district: str = DISTRICT) -> Outreach:
    return Outreach.map_vulnerability(
        outreach_id=uuid4(),
        district=district,
        kelurahan="Sangatta Utara",
        data_source="dtks",
        data_as_of="2024-01-31",
        poor_families=120,
        vulnerable_children=37,
    )


def visited() -> Outreach:
    outreach = mapped()
    outreach.verify_initial_data(finding="vulnerability_confirmed")
    outreach.observe_home_visit(
        visited_at=FIXED_TIME - timedelta(hours=2),
        visitors=["peksos.kutim"],
        observation="the child was alone at home during school hours",
    )
    return outreach


def refused(outreach: Outreach, rule: str, step: str, act: object) -> None:
    before = len(outreach.pending_events)
    with pytest.raises(RuleViolated) as refusal:
        assert callable(act)
        act()
    assert (refusal.value.rule, refusal.value.step) == (rule, step)
    assert len(outreach.pending_events) == before


# ---- The aggregate ------------------------------------------------------------------------


@pytest.mark.usefixtures("acting")
def test_k_o1_maps_a_kelurahan_by_counts_and_data_source() -> None:
    outreach = mapped()

    (created,) = outreach.pending_events
    assert isinstance(created, Outreach.VulnerabilityMapped)
    assert (created.kelurahan, created.poor_families, created.vulnerable_children) == (
        "Sangatta Utara",
        120,
        37,
    )
    assert created.actor["user_id"] == "peksos.kutim"


@pytest.mark.usefixtures("acting")
def test_k_o1_refuses_negative_counts_and_unknown_sources_naming_the_field() -> None:
    with pytest.raises(InvalidValue) as negative:
        Outreach.map_vulnerability(
            outreach_id=uuid4(),
            district=DISTRICT,
            kelurahan="Teluk Lingga",
            data_source="dtks",
            data_as_of="2024-01-31",
            poor_families=-1,
            vulnerable_children=0,
        )
    assert negative.value.field == "poor_families"
    with pytest.raises(InvalidValue) as source:
        Outreach.map_vulnerability(
            outreach_id=uuid4(),
            district=DISTRICT,
            kelurahan="Teluk Lingga",
            data_source="gossip",
            data_as_of="2024-01-31",
            poor_families=1,
            vulnerable_children=0,
        )
    assert source.value.field == "data_source"


@pytest.mark.usefixtures("acting")
def test_k_o4_no_home_visit_before_the_initial_data_is_verified_k_o2() -> None:
    outreach = mapped()
    refused(
        outreach,
        "verification_required",
        "K-O2",
        lambda: outreach.observe_home_visit(
            visited_at=FIXED_TIME, visitors=["peksos.kutim"], observation="seen"
        ),
    )


@pytest.mark.usefixtures("acting")
def test_k_o2_is_recorded_once() -> None:
    outreach = mapped()
    outreach.verify_initial_data(finding="case_found")
    refused(
        outreach,
        "already_verified",
        "K-O2",
        lambda: outreach.verify_initial_data(finding="vulnerability_confirmed"),
    )


@pytest.mark.usefixtures("acting")
def test_k_o4_no_home_visit_when_k_o2_did_not_confirm_the_vulnerability() -> None:
    outreach = mapped()
    outreach.verify_initial_data(finding="not_confirmed")
    refused(
        outreach,
        "vulnerability_not_confirmed",
        "K-O2",
        lambda: outreach.observe_home_visit(
            visited_at=FIXED_TIME, visitors=["peksos.kutim"], observation="seen"
        ),
    )


@pytest.mark.usefixtures("acting")
def test_k_o5_no_risk_grade_before_a_home_visit_observation_k_o4() -> None:
    outreach = mapped()
    outreach.verify_initial_data(finding="vulnerability_confirmed")
    refused(
        outreach, "observation_visit_required", "K-O4", lambda: outreach.grade_risk(risk="high")
    )


@pytest.mark.usefixtures("acting")
def test_k_o5_grades_from_the_closed_vocabulary_only() -> None:
    outreach = visited()
    with pytest.raises(InvalidValue) as refusal:
        outreach.grade_risk(risk="severe")
    assert refusal.value.field == "risk"
    outreach.grade_risk(risk="medium")
    assert outreach.risk == "medium"


@pytest.mark.usefixtures("acting")
def test_k_r1_an_outreach_becomes_a_case_only_once_graded_k_o5() -> None:
    outreach = visited()
    refused(
        outreach,
        "risk_grade_required",
        "K-O5",
        lambda: outreach.become_case(case_id=uuid4(), register_number="KUTIM/2024/00001"),
    )


@pytest.mark.usefixtures("acting")
def test_nothing_is_recorded_after_the_outreach_became_a_case_k_r1() -> None:
    outreach = visited()
    outreach.grade_risk(risk="high")
    outreach.become_case(case_id=uuid4(), register_number="KUTIM/2024/00001")

    refused(outreach, "outreach_became_case", "K-R1", lambda: outreach.grade_risk(risk="low"))
    refused(
        outreach,
        "outreach_became_case",
        "K-R1",
        lambda: outreach.close_without_case(reason="no_risk_found"),
    )


@pytest.mark.usefixtures("acting")
def test_nothing_is_recorded_after_closing_without_a_case() -> None:
    outreach = mapped()
    outreach.verify_initial_data(finding="not_confirmed")
    outreach.close_without_case(reason="not_confirmed_at_verification")

    refused(
        outreach,
        "outreach_closed",
        "K-O5",
        lambda: outreach.receive_information(source="media", summary="a news item"),
    )


@pytest.mark.usefixtures("acting")
def test_closing_for_no_risk_needs_the_k_o5_grade() -> None:
    outreach = visited()
    refused(
        outreach,
        "risk_grade_required",
        "K-O5",
        lambda: outreach.close_without_case(reason="no_risk_found"),
    )


@pytest.mark.usefixtures("acting")
def test_the_record_folds_k_o1_to_k_o5_with_the_observation() -> None:
    outreach = visited()
    outreach.receive_information(source="institution", summary="school reports absences")
    outreach.grade_risk(risk="high", reason="left alone repeatedly")

    record = outreach_record(list(outreach.pending_events))  # type: ignore[arg-type]
    assert (record.status, record.risk, record.visits, record.last_step) == (
        "graded",
        "high",
        1,
        "K-O5",
    )
    assert record.home_visits[0].observation.startswith("the child was alone")
    assert record.information[0].source == "institution"


# ---- Publication: outreach never leaves the office -----------------------------------------


def test_outreach_events_are_neither_case_topics_nor_published() -> None:
    assert not set(OUTREACH_TOPICS) & set(CASE_TOPICS)
    cases = Cases(env=memory_env())
    publication = Publication(cases, SharingPolicy(load_matrix()), "simpul")
    with acting_as(PEKSOS, FIXED_TIME):
        outreach = visited()
    for position, recorded in enumerate(outreach.pending_events, start=1):
        assert publication.messages(position, recorded) == []
    assert len(OUTREACH_EVENT_TYPES) == len(OUTREACH_TOPICS)


# ---- The service ----------------------------------------------------------------------------


@pytest.fixture
def records() -> Iterator[OutreachRecords]:
    cases = Cases(env=memory_env(), clock=FakeClock())
    yield OutreachRecords(cases)
    cases.close()


def graded(records: OutreachRecords) -> object:
    started = records.map_vulnerability(
        PEKSOS,
        MapVulnerability(
            kelurahan="Sangatta Selatan",
            data_source="pkh",
            data_as_of="2024-02-01",
            poor_families=80,
            vulnerable_children=12,
        ),
    )
    outreach_id = started.outreach_id
    records.execute(PEKSOS, outreach_id, VerifyInitialData(finding="case_found"))
    records.execute(
        PEKSOS,
        outreach_id,
        ObserveHomeVisit(
            visited_at=FIXED_TIME - timedelta(hours=1),
            visitors=["peksos.kutim"],
            observation="bruises on the arms",
        ),
    )
    records.execute(PEKSOS, outreach_id, GradeRisk(risk="high"))
    return outreach_id


def test_k_o1_only_a_district_whose_profile_runs_outreach_may_map(
    records: OutreachRecords,
) -> None:
    luwu_peksos = Actor("peksos.lutra", Role.CASE_WORKER, Agency.UPTD_PPA, "luwu-utara")
    mapping = MapVulnerability(
        kelurahan="Baebunta",
        data_source="dtks",
        data_as_of="2024-02-01",
        poor_families=80,
        vulnerable_children=12,
    )

    with pytest.raises(ProcessNotRun) as refusal:
        records.map_vulnerability(luwu_peksos, mapping)

    assert (refusal.value.rule, refusal.value.step) == ("process_not_run", "K-O1")
    assert refusal.value.process == "outreach"
    assert list(records.cases.recorder.select_notifications(start=1, limit=10)) == []


BECOME = BecomeCase(chronology="found at the K-O4 home visit", victim=Person(sex="female"))


def test_k_r1_opens_the_case_and_marks_the_outreach_in_one_save(
    records: OutreachRecords,
) -> None:
    outreach_id = graded(records)
    assert isinstance(outreach_id, type(uuid4()))

    result = records.become_case(INTAKE, outreach_id, BECOME)

    assert result.case_id == case_id_for(outreach_id)
    case = records.cases.visible_case(INTAKE, result.case_id)
    assert isinstance(case, Case)
    assert result.register_number == case.register_number
    report, origin = records.cases.history(result.case_id)
    assert isinstance(report, Case.ReportReceived) and report.channel == "outreach"
    assert isinstance(origin, Case.OpenedFromOutreach) and origin.outreach_id == outreach_id
    outreach = records._load(outreach_id)
    assert outreach.case_id == result.case_id


def test_k_r1_a_retry_answers_the_same_case_and_opens_no_second(
    records: OutreachRecords,
) -> None:
    outreach_id = graded(records)
    first = records.become_case(INTAKE, outreach_id, BECOME)

    again = records.become_case(INTAKE, outreach_id, BECOME)

    assert (again.case_id, again.register_number, again.replayed) == (
        first.case_id,
        first.register_number,
        True,
    )
    assert records._load(outreach_id).version == first.version


def test_k_r1_refused_leaves_neither_a_case_nor_a_register_number(
    records: OutreachRecords,
) -> None:
    started = records.map_vulnerability(
        PEKSOS,
        MapVulnerability(
            kelurahan="Sangatta Selatan",
            data_source="pkh",
            data_as_of="2024-02-01",
            poor_families=80,
            vulnerable_children=12,
        ),
    )
    with pytest.raises(RuleViolated) as refusal:
        records.become_case(INTAKE, started.outreach_id, BECOME)
    assert refusal.value.step == "K-O5"
    assert records.cases.head_position() == 1  # only K-O1's event


def test_a_case_names_its_outreach_only_when_it_is_opened_k_r1() -> None:
    with acting_as(INTAKE, FIXED_TIME):
        case = Case.receive_report(
            case_id=uuid4(),
            district=DISTRICT,
            register_number="KUTIM/2024/00009",
            channel="outreach",
            arrived_at=FIXED_TIME,
            chronology="found at a home visit",
            victim={},
        )
        case.record_outreach_origin(outreach_id=uuid4())
        with pytest.raises(RuleViolated) as refusal:
            case.record_outreach_origin(outreach_id=uuid4())
    assert (refusal.value.rule, refusal.value.step) == ("outreach_origin_at_opening", "K-R1")


def test_k_r1_is_for_office_leads_not_case_workers(records: OutreachRecords) -> None:
    outreach_id = graded(records)
    with pytest.raises(AccessDenied):
        records.become_case(PEKSOS, outreach_id, BECOME)


def test_agencies_and_other_districts_do_not_see_outreach(records: OutreachRecords) -> None:
    outreach_id = graded(records)
    read = CaseRead(view="read_outreach")
    with pytest.raises(AccessDenied) as agency:
        records.read_events(POLICE, outreach_id, read)
    assert agency.value.rule == "outreach_office_only"
    with pytest.raises(OutreachNotFound):
        records.read_events(LUWU_OFFICE, outreach_id, read)
    with pytest.raises(AccessDenied):
        records.map_vulnerability(
            POLICE,
            MapVulnerability(
                kelurahan="x",
                data_source="dtks",
                data_as_of="2024-02-01",
                poor_families=1,
                vulnerable_children=1,
            ),
        )


def test_auditors_read_and_their_reads_are_logged_but_they_cannot_act(
    records: OutreachRecords,
) -> None:
    outreach_id = graded(records)
    events = records.read_events(AUDITOR, outreach_id, CaseRead(view="read_outreach"))
    assert len(events) == 4
    listed = records.district_events(AUDITOR, DISTRICT, CaseRead(view="list_outreach"))
    assert [len(history) for history in listed] == [4]
    with pytest.raises(AccessDenied) as refusal:
        records.execute(AUDITOR, outreach_id, GradeRisk(risk="low"))
    assert refusal.value.rule == "auditors_read_only"


def test_the_relay_publishes_no_outreach_event_and_the_case_origin_only_internally(
    records: OutreachRecords,
) -> None:
    outreach_id = graded(records)
    records.become_case(INTAKE, outreach_id, BECOME)
    publication = Publication(records.cases, SharingPolicy(load_matrix()), "simpul")

    published: dict[str, set[str]] = {}
    for notification in records.cases.recorder.select_notifications(start=None, limit=100):
        recorded = records.cases.mapper.to_domain_event(notification)
        for message in publication.messages(notification.id, recorded):
            published.setdefault(type(recorded).__name__, set()).add(message.topic)

    assert not set(published) & {cls.__name__ for cls in OUTREACH_EVENT_TYPES}
    assert published["OpenedFromOutreach"] == {"simpul.cases.v1"}
