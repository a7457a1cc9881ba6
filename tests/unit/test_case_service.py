"""The Cases service on the in-memory event store: the SOP end to end, who may read
and act, stale writes, idempotent retries and the time standard of referrals."""

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from domain.errors import AgencyNotConnected, ProcessNotRun, RuleViolated
from domain.vocabulary import Agency, Process, ReferralStatus, Role, Stage
from gateways.eventstore.environment import memory_env
from services.access import AccessDenied
from services.access_log import CaseRead
from services.case_commands import (
    AcceptReferral,
    AgreeInterventionPlan,
    AssignCaseWorker,
    Classify,
    ConcludeCaseReport,
    GivePsychologicalFirstAid,
    HoldCaseConference,
    NamedReferral,
    RecordAccompaniment,
    RecordAssessment,
    RecordConsent,
    RecordContact,
    RecordMonitoringVisit,
    RecordServiceDelivery,
    Refer,
    Terminate,
)
from services.cases import CaseNotFound, Cases, IdempotencyKeyReused, VersionConflict
from services.sharing import load_matrix
from tests.support.builders import (
    AUDITOR,
    CASE_WORKER,
    COMMAND_ARGUMENTS,
    COORDINATOR,
    DISTRICT,
    EDUCATION_OFFICER,
    FIXED_TIME,
    HEALTH_OFFICER,
    INTAKE_OFFICER,
    OTHER_DISTRICT_COORDINATOR,
    POLICE_OFFICER,
    REFERRAL_ID,
    SERVICE_COMMANDS,
    FakeClock,
    a_case_conference,
    a_case_report,
    a_case_worker_assignment,
    a_classification,
    a_consent,
    a_contact,
    a_document_attachment,
    a_fact_correction_request,
    a_handover,
    a_monitoring_visit,
    a_psychological_first_aid,
    a_recommendation_request,
    a_referral,
    a_service_delivery,
    advance_reported_case,
    an_accompaniment,
    an_actor,
    an_agreed_termination,
    an_approval_request,
    an_assessment,
    an_intervention_plan,
    referral_history,
    report_a_case,
    take_service_steps,
)

POLICE_REFERRAL_ID = "referral-police-1"

TEST_READ = CaseRead(view="service_test")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cases(clock: FakeClock) -> Cases:
    return Cases(env=memory_env(), clock=clock)


@pytest.fixture
def case_in_intervention(cases: Cases) -> UUID:
    """A reported case walked to intervention, referred to health (REFERRAL_ID) and police."""
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)
    cases.execute(CASE_WORKER, case_id, NamedReferral(**a_referral(referral_id=REFERRAL_ID)))
    cases.execute(
        CASE_WORKER,
        case_id,
        NamedReferral(
            **a_referral(
                referral_id=POLICE_REFERRAL_ID, service_type="legal_process", agency="police"
            )
        ),
    )
    return case_id


def recorded_event_names(cases: Cases, case_id: UUID) -> list[str]:
    return [
        type(event).__name__ for event in cases.read_case_events(COORDINATOR, case_id, TEST_READ)
    ]


# ---- The SOP end to end ---------------------------------------------------------


def test_a_case_runs_from_report_to_agreed_termination(cases, clock):
    # L1.1-L1.2: the intake officer records a hotline report
    reported = report_a_case(cases, idempotency_key="hotline-call-0417")
    case_id = reported.case_id
    clock.advance(timedelta(minutes=30))
    cases.execute(CASE_WORKER, case_id, GivePsychologicalFirstAid(**a_psychological_first_aid()))
    # L1.5, L1.7: classified by rule a, a case worker assigned by letter
    cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()))
    cases.execute(COORDINATOR, case_id, AssignCaseWorker(**a_case_worker_assignment()))
    clock.advance(timedelta(hours=3))
    # L1.8-L1.10: first visit and written consent
    cases.execute(CASE_WORKER, case_id, RecordContact(**a_contact()))
    cases.execute(CASE_WORKER, case_id, RecordConsent(**a_consent()))
    clock.advance(timedelta(hours=2))
    # L2.1-L2.7: home visit, a further assessment by the health office, case report
    cases.execute(CASE_WORKER, case_id, RecordAssessment(**an_assessment()))
    cases.execute(CASE_WORKER, case_id, ConcludeCaseReport(**a_case_report()))
    clock.advance(timedelta(days=1))
    # L3.3-L3.5: case conference, plan agreed with victim and parent
    cases.execute(COORDINATOR, case_id, HoldCaseConference(**a_case_conference()))
    cases.execute(CASE_WORKER, case_id, AgreeInterventionPlan(**an_intervention_plan()))
    # L4.1: referrals to the health office and the police
    cases.execute(CASE_WORKER, case_id, NamedReferral(**a_referral(referral_id="referral-health")))
    cases.execute(
        CASE_WORKER,
        case_id,
        NamedReferral(
            **a_referral(
                referral_id="referral-police", service_type="legal_process", agency="police"
            )
        ),
    )
    clock.advance(timedelta(hours=4))
    # L4.2-L4.3: each agency accepts and reports what it delivered
    cases.execute(HEALTH_OFFICER, case_id, AcceptReferral(referral_id="referral-health"))
    cases.execute(
        HEALTH_OFFICER,
        case_id,
        RecordAssessment(
            **an_assessment(kind="further", domain="physical", assessing_agency="health")
        ),
    )
    cases.execute(
        HEALTH_OFFICER,
        case_id,
        RecordServiceDelivery(**a_service_delivery(referral_id="referral-health")),
    )
    cases.execute(POLICE_OFFICER, case_id, AcceptReferral(referral_id="referral-police"))
    cases.execute(
        POLICE_OFFICER,
        case_id,
        RecordServiceDelivery(
            **a_service_delivery(referral_id="referral-police", outcome="partially_delivered")
        ),
    )
    clock.advance(timedelta(days=20))
    cases.execute(
        POLICE_OFFICER,
        case_id,
        RecordServiceDelivery(**a_service_delivery(referral_id="referral-police")),
    )
    # L4.4, L5.2: accompaniment and a monitoring visit that finds recovery
    cases.execute(CASE_WORKER, case_id, RecordAccompaniment(**an_accompaniment()))
    clock.advance(timedelta(days=30))
    cases.execute(CASE_WORKER, case_id, RecordMonitoringVisit(**a_monitoring_visit()))

    # L6.1-L6.5: agreed termination by the assigned case worker
    result = cases.execute(CASE_WORKER, case_id, Terminate(**an_agreed_termination()))

    case = cases.visible_case(COORDINATOR, case_id)
    assert case.stage == Stage.CLOSED
    assert case.closure == "terminated:recovered"
    assert result.recorded == ("Terminated",)
    assert result.register_number == reported.register_number == "LUTRA/2024/00001"
    assert recorded_event_names(cases, case_id) == [
        "ReportReceived",
        "PsychologicalFirstAidGiven",
        "RiskClassified",
        "CaseWorkerAssigned",
        "BeneficiaryContacted",
        "ConsentRecorded",
        "AssessmentRecorded",
        "CaseReportConcluded",
        "CaseConferenceHeld",
        "InterventionPlanAgreed",
        "Referred",
        "Referred",
        "ReferralAccepted",
        "AssessmentRecorded",
        "ServiceDelivered",
        "ReferralAccepted",
        "ServiceDelivered",
        "ServiceDelivered",
        "AccompanimentRecorded",
        "MonitoringVisitRecorded",
        "Terminated",
    ]
    assert result.version == 21
    last = cases.read_case_events(AUDITOR, case_id, TEST_READ)[-1]
    assert last.actor == CASE_WORKER.as_record()
    assert last.timestamp == clock()


def test_agreed_termination_is_refused_while_an_agency_has_not_settled_its_referral(
    cases, case_in_intervention
):
    """L5.5: terminate only when every referred service is delivered or otherwise settled."""
    # Given the health office delivered, but the police have not answered
    take_service_steps(cases, case_in_intervention, referral_history(ReferralStatus.COMPLETED))
    cases.execute(CASE_WORKER, case_in_intervention, RecordMonitoringVisit(**a_monitoring_visit()))

    # When the case worker terminates by agreement
    with pytest.raises(RuleViolated) as caught:
        cases.execute(CASE_WORKER, case_in_intervention, Terminate(**an_agreed_termination()))

    # Then the case stays open
    assert caught.value.rule == "referrals_unsettled"
    assert not cases.visible_case(COORDINATOR, case_in_intervention).is_closed


def test_agreed_termination_closes_the_case_once_every_agency_has_settled_its_referral(
    cases, case_in_intervention
):
    # Given the health office delivered and the police declined
    take_service_steps(cases, case_in_intervention, referral_history(ReferralStatus.COMPLETED))
    police_declines = referral_history(
        ReferralStatus.DECLINED, referral_id=POLICE_REFERRAL_ID, receiving_officer=POLICE_OFFICER
    )
    take_service_steps(cases, case_in_intervention, police_declines)
    cases.execute(CASE_WORKER, case_in_intervention, RecordMonitoringVisit(**a_monitoring_visit()))

    # When the case worker terminates by agreement
    cases.execute(CASE_WORKER, case_in_intervention, Terminate(**an_agreed_termination()))

    # Then the case is closed
    assert cases.visible_case(COORDINATOR, case_in_intervention).stage == Stage.CLOSED


def test_a_refused_command_records_nothing(cases):
    case_id = report_a_case(cases).case_id

    with pytest.raises(RuleViolated) as caught:
        cases.execute(CASE_WORKER, case_id, RecordContact(**a_contact()))

    assert caught.value.rule == "case_worker_required"
    assert recorded_event_names(cases, case_id) == ["ReportReceived"]


def test_an_unknown_case_is_not_found(cases):
    with pytest.raises(CaseNotFound):
        cases.execute(COORDINATOR, uuid4(), Classify(**a_classification()))


# ---- Who may read and act ---------------------------------------------------------


def test_the_coordinating_office_reads_and_acts_on_its_districts_case(cases):
    case_id = report_a_case(cases).case_id

    result = cases.execute(COORDINATOR, case_id, Classify(**a_classification()))

    assert result.version == 2
    assert cases.visible_case(INTAKE_OFFICER, case_id).classified


def test_an_agency_the_case_was_not_referred_to_is_told_it_does_not_exist(
    cases, case_in_intervention
):
    """Confidentiality (L Pasal 4): each agency sees only what was referred to it."""
    with pytest.raises(CaseNotFound):
        cases.visible_case(EDUCATION_OFFICER, case_in_intervention)
    with pytest.raises(CaseNotFound):
        cases.read_case_events(EDUCATION_OFFICER, case_in_intervention, TEST_READ)
    with pytest.raises(CaseNotFound):
        cases.execute(
            EDUCATION_OFFICER, case_in_intervention, AcceptReferral(referral_id=REFERRAL_ID)
        )


def test_the_service_refuses_a_referral_to_an_agency_without_an_inbox(clock):
    """L4.1: a deployment whose matrix has no Baznas row cannot refer repatriation there."""
    cases = Cases(
        env=memory_env(),
        clock=clock,
        agencies_with_inbox=set(load_matrix().agencies) - {"baznas"},
    )
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)
    version = cases.visible_case(CASE_WORKER, case_id).version

    with pytest.raises(AgencyNotConnected) as caught:
        cases.execute(
            CASE_WORKER, case_id, Refer(service_type="repatriation", agency=Agency.BAZNAS)
        )

    assert caught.value.rule == "agency_not_connected"
    assert cases.visible_case(CASE_WORKER, case_id).version == version


def test_the_service_refers_to_the_agencies_of_the_bundled_matrix(cases):
    """Tanjungpinang T4e: Baznas funds the repatriation, and the bundled matrix gives it a row."""
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)

    result = cases.execute(
        CASE_WORKER, case_id, Refer(service_type="repatriation", agency=Agency.BAZNAS)
    )

    assert result.recorded == ("Referred",)


def test_the_coordinating_office_may_refer_to_its_own_service(cases):
    """L3.2: counselling by the UPTD PPA's psychologist; the office's views show the referral."""
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)

    result = cases.execute(
        CASE_WORKER,
        case_id,
        Refer(service_type="psychological_counselling", agency=Agency.UPTD_PPA),
    )

    assert result.recorded == ("Referred",)


def test_the_office_a_districts_profile_names_coordinates_its_cases(cases):
    """Tanjungpinang's profile names Dinas Sosial; the UPTD PPA there is not the case office."""
    social = an_actor(Role.COORDINATOR, agency=Agency.SOCIAL, district="tanjungpinang")
    uptd_ppa = an_actor(Role.COORDINATOR, agency=Agency.UPTD_PPA, district="tanjungpinang")
    case_id = report_a_case(cases, actor=social).case_id

    cases.execute(social, case_id, Classify(**a_classification()))

    assert cases.visible_case(social, case_id).classified
    with pytest.raises(CaseNotFound):
        cases.visible_case(uptd_ppa, case_id)
    assert cases.access.may_read_coordinator_views(social)
    assert not cases.access.may_read_coordinator_views(uptd_ppa)


def test_an_agency_is_told_the_case_does_not_exist_until_it_is_referred(cases):
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)
    with pytest.raises(CaseNotFound):
        cases.visible_case(HEALTH_OFFICER, case_id)

    cases.execute(CASE_WORKER, case_id, Refer(**a_referral()))

    assert cases.visible_case(HEALTH_OFFICER, case_id).id == case_id


def test_a_referred_agency_reads_the_case(cases, case_in_intervention):
    case = cases.visible_case(POLICE_OFFICER, case_in_intervention)

    assert case.referral(POLICE_REFERRAL_ID).agency == Agency.POLICE


def test_a_referred_agency_acts_on_its_own_referral(cases, case_in_intervention):
    cases.execute(
        POLICE_OFFICER, case_in_intervention, AcceptReferral(referral_id=POLICE_REFERRAL_ID)
    )

    case = cases.visible_case(POLICE_OFFICER, case_in_intervention)
    assert case.referral(POLICE_REFERRAL_ID).status == ReferralStatus.ACCEPTED


def test_a_referred_agency_cannot_act_on_another_agencys_referral(cases, case_in_intervention):
    with pytest.raises(AccessDenied) as caught:
        cases.execute(POLICE_OFFICER, case_in_intervention, AcceptReferral(referral_id=REFERRAL_ID))

    assert caught.value.rule == "not_permitted"
    case = cases.visible_case(COORDINATOR, case_in_intervention)
    assert case.referral(REFERRAL_ID).status == ReferralStatus.PENDING


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("classify", a_classification()),
        ("record_accompaniment", an_accompaniment()),
        ("cancel_referral", {"referral_id": POLICE_REFERRAL_ID, "reason": "Tidak perlu."}),
        ("terminate", an_agreed_termination()),
    ],
)
def test_a_referred_agency_cannot_issue_the_case_teams_commands(
    cases, case_in_intervention, command, arguments
):
    with pytest.raises(AccessDenied) as caught:
        cases.execute(POLICE_OFFICER, case_in_intervention, SERVICE_COMMANDS[command](**arguments))

    assert caught.value.rule == "not_permitted"


def test_a_referred_agency_records_its_assessment_while_its_referral_is_open(
    cases, case_in_intervention
):
    """L2.2: further assessment with the police (legal status)."""
    result = cases.execute(
        POLICE_OFFICER,
        case_in_intervention,
        RecordAssessment(
            **an_assessment(kind="further", domain="legal", assessing_agency="police")
        ),
    )

    assert result.recorded == ("AssessmentRecorded",)


def test_the_provincial_unit_reads_a_case_referred_to_it_from_any_district(
    cases, case_in_intervention
):
    provincial_officer = an_actor(
        Role.AGENCY_OFFICER, agency=Agency.PROVINCE, district="sulawesi-selatan"
    )
    cases.execute(
        CASE_WORKER,
        case_in_intervention,
        NamedReferral(
            **a_referral(
                referral_id="referral-province",
                service_type="psychological_counselling",
                agency="province",
            )
        ),
    )

    cases.execute(
        provincial_officer, case_in_intervention, AcceptReferral(referral_id="referral-province")
    )

    assert cases.visible_case(provincial_officer, case_in_intervention).id == case_in_intervention


def test_an_auditor_reads_the_case_and_its_history(cases, case_in_intervention):
    case = cases.visible_case(AUDITOR, case_in_intervention)
    events = cases.read_case_events(AUDITOR, case_in_intervention, TEST_READ)

    assert case.stage == Stage.INTERVENTION
    assert len(events) == case.version


# Service-level arguments: the service chooses a referral's due time itself. A case's
# outreach origin (K-R1) is recorded only with the report that opens it, never on its own;
# a letter is issued by the letter service (services/letters.py), never as a step command,
# and a signed copy is attached by AttachDocument with its letter_id.
SERVICE_COMMAND_ARGUMENTS = {
    **{
        name: args
        for name, args in COMMAND_ARGUMENTS.items()
        if name not in {"record_outreach_origin", "issue_letter", "attach_signed_copy"}
    },
    "refer": a_referral,
    "hand_over": a_handover,
    "recommend_referral": a_recommendation_request,
    "approve_recommendation": an_approval_request,
    "record_complaint_kind": lambda: {"kind": "violence"},
    "correct_facts": a_fact_correction_request,
    "attach_document": lambda: {
        key: value
        for key, value in a_document_attachment(at_step="").items()
        if key not in ("step", "district_kinds", "step_codes")
    },
}


OPTIONAL_PROCESS_COMMANDS = sorted(
    name for name, command in SERVICE_COMMANDS.items() if command.process is not None
)


def test_the_commands_of_the_optional_processes_declare_them():
    processes = {name: SERVICE_COMMANDS[name].process for name in OPTIONAL_PROCESS_COMMANDS}

    assert processes == {
        "admit_to_shelter": Process.SHELTER,
        "approve_recommendation": Process.SUPERVISOR_APPROVAL,
        "discharge_from_shelter": Process.SHELTER,
        "evaluate_reintegration": Process.REINTEGRATION,
        "hold_mediation": Process.MEDIATION,
        "record_reintegration_step": Process.REINTEGRATION,
        "record_reintegration_visit": Process.REINTEGRATION,
        "recommend_referral": Process.SUPERVISOR_APPROVAL,
        "return_recommendation": Process.SUPERVISOR_APPROVAL,
        "reunify_child": Process.REINTEGRATION,
    }


@pytest.mark.parametrize("command", OPTIONAL_PROCESS_COMMANDS)
def test_a_district_that_runs_no_optional_process_refuses_each_and_records_nothing(
    cases, case_in_intervention, command
):
    """Luwu Utara's Lampiran II mediates, shelters, reintegrates and approves nothing."""
    issued = SERVICE_COMMANDS[command](**SERVICE_COMMAND_ARGUMENTS[command]())
    version = cases.visible_case(COORDINATOR, case_in_intervention).version

    with pytest.raises(ProcessNotRun) as caught:
        cases.execute(COORDINATOR, case_in_intervention, issued)

    assert (caught.value.rule, caught.value.step) == ("process_not_run", issued.step.sop_step)
    assert caught.value.district == "Kabupaten Luwu Utara (luwu-utara)"
    assert cases.visible_case(COORDINATOR, case_in_intervention).version == version


@pytest.mark.parametrize("command", sorted(SERVICE_COMMAND_ARGUMENTS))
def test_an_auditor_cannot_issue_any_case_command(cases, case_in_intervention, command):
    """Accountability: auditors trace the timeline, they never change it."""
    version = cases.visible_case(AUDITOR, case_in_intervention).version

    with pytest.raises(AccessDenied) as caught:
        cases.execute(
            AUDITOR,
            case_in_intervention,
            SERVICE_COMMANDS[command](**SERVICE_COMMAND_ARGUMENTS[command]()),
        )

    assert caught.value.rule == "auditors_read_only"
    assert cases.visible_case(AUDITOR, case_in_intervention).version == version


def test_an_auditor_cannot_record_a_report(cases):
    with pytest.raises(AccessDenied) as caught:
        report_a_case(cases, actor=AUDITOR)

    assert caught.value.rule == "auditors_read_only"


def test_a_data_officer_cannot_record_a_report(cases):
    data_officer = an_actor(Role.DATA_OFFICER)

    with pytest.raises(AccessDenied) as caught:
        report_a_case(cases, actor=data_officer)

    assert caught.value.rule == "not_permitted"


def test_a_uptd_ppa_officer_of_another_district_is_told_the_case_does_not_exist(cases):
    case_id = report_a_case(cases).case_id

    with pytest.raises(CaseNotFound):
        cases.visible_case(OTHER_DISTRICT_COORDINATOR, case_id)
    with pytest.raises(CaseNotFound):
        cases.execute(OTHER_DISTRICT_COORDINATOR, case_id, Classify(**a_classification()))


def test_an_agency_officer_of_another_district_is_told_the_case_does_not_exist(
    cases, case_in_intervention
):
    police_elsewhere = an_actor(Role.AGENCY_OFFICER, agency=Agency.POLICE, district="kota-batu")

    with pytest.raises(CaseNotFound):
        cases.visible_case(police_elsewhere, case_in_intervention)


# Each differs from the assigned case worker in one part of the identity but the user id.
IMPERSONATIONS_OF_THE_CASE_WORKER = {
    "another role": an_actor(Role.DATA_OFFICER, user_id=CASE_WORKER.user_id),
    "another agency": an_actor(Role.CASE_WORKER, agency=Agency.POLICE, user_id=CASE_WORKER.user_id),
    "another district": an_actor(
        Role.CASE_WORKER, district="kota-batu", user_id=CASE_WORKER.user_id
    ),
    "all three": an_actor(
        Role.DATA_OFFICER, agency=Agency.POLICE, district="kota-batu", user_id=CASE_WORKER.user_id
    ),
}


@pytest.mark.parametrize(
    "impostor", IMPERSONATIONS_OF_THE_CASE_WORKER.values(), ids=IMPERSONATIONS_OF_THE_CASE_WORKER
)
def test_only_the_whole_identity_of_the_assigned_case_worker_reads_and_acts_as_them(
    cases, impostor
):
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.MONITORING)
    assert cases.visible_case(COORDINATOR, case_id).case_worker_id == CASE_WORKER.user_id

    with pytest.raises(CaseNotFound):
        cases.read_case_events(impostor, case_id, TEST_READ)
    with pytest.raises(CaseNotFound):
        cases.execute(impostor, case_id, Terminate(**an_agreed_termination()))
    assert cases.visible_case(COORDINATOR, case_id).stage == Stage.MONITORING.value


def test_an_office_colleague_with_the_case_workers_user_id_is_not_the_case_worker(cases):
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.MONITORING)
    intake_as_case_worker = an_actor(Role.INTAKE_OFFICER, user_id=CASE_WORKER.user_id)

    with pytest.raises(AccessDenied) as caught:
        cases.execute(intake_as_case_worker, case_id, Terminate(**an_agreed_termination()))

    assert caught.value.rule == "not_permitted"


def test_only_the_assigned_case_worker_or_a_coordinator_terminates(cases):
    """L6: the case worker plans termination with the family; the coordinator may close."""
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.MONITORING)

    with pytest.raises(AccessDenied) as caught:
        cases.execute(INTAKE_OFFICER, case_id, Terminate(**an_agreed_termination()))

    assert caught.value.rule == "not_permitted"


# ---- Stale writes ------------------------------------------------------------------


def test_a_command_based_on_a_stale_version_is_refused(cases):
    # Given a case a colleague classified after we read it at version 1
    case_id = report_a_case(cases).case_id
    cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()))

    # When we assign a case worker based on version 1
    with pytest.raises(VersionConflict) as caught:
        cases.execute(
            COORDINATOR, case_id, AssignCaseWorker(**a_case_worker_assignment()), expected_version=1
        )

    # Then the write is refused and nothing is recorded
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert recorded_event_names(cases, case_id) == ["ReportReceived", "RiskClassified"]


def test_a_command_based_on_the_current_version_is_recorded(cases):
    case_id = report_a_case(cases).case_id

    result = cases.execute(
        INTAKE_OFFICER, case_id, Classify(**a_classification()), expected_version=1
    )

    assert result.version == 2


# ---- Idempotent retries ------------------------------------------------------------


def test_a_retried_command_returns_the_first_result_and_records_nothing(cases, clock):
    case_id = report_a_case(cases).case_id
    first = cases.execute(
        INTAKE_OFFICER, case_id, Classify(**a_classification()), idempotency_key="k-1"
    )
    clock.advance()

    retried = cases.execute(
        INTAKE_OFFICER, case_id, Classify(**a_classification()), idempotency_key="k-1"
    )

    assert retried.replayed is True
    assert first.replayed is False
    assert (retried.case_id, retried.version, retried.recorded) == (
        first.case_id,
        first.version,
        first.recorded,
    )
    assert recorded_event_names(cases, case_id) == ["ReportReceived", "RiskClassified"]


def test_a_retried_referral_without_a_referral_id_returns_the_first_result(cases):
    """The service names a new referral itself; a retry must not count as a new request."""
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)
    first = cases.execute(CASE_WORKER, case_id, Refer(**a_referral()), idempotency_key="refer-1")

    retried = cases.execute(CASE_WORKER, case_id, Refer(**a_referral()), idempotency_key="refer-1")

    assert retried.replayed is True
    assert retried.version == first.version
    assert len(cases.visible_case(COORDINATOR, case_id).referrals) == 1


def test_a_retried_report_returns_the_first_case(cases):
    first = report_a_case(cases, idempotency_key="walk-in-0912")

    retried = report_a_case(cases, idempotency_key="walk-in-0912")

    assert retried.replayed is True
    assert retried.case_id == first.case_id
    assert cases.visible_case(COORDINATOR, first.case_id).version == 1


def test_the_same_key_for_a_different_request_is_refused(cases):
    case_id = report_a_case(cases).case_id
    cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()), idempotency_key="k-1")

    with pytest.raises(IdempotencyKeyReused):
        cases.execute(
            INTAKE_OFFICER,
            case_id,
            Classify(**a_classification(risk_level="medium")),
            idempotency_key="k-1",
        )

    assert recorded_event_names(cases, case_id) == ["ReportReceived", "RiskClassified"]


def test_the_same_key_for_a_different_report_is_refused(cases):
    report_a_case(cases, idempotency_key="walk-in-0912")

    with pytest.raises(IdempotencyKeyReused):
        report_a_case(cases, idempotency_key="walk-in-0912", channel="phone")


def test_the_same_key_for_a_command_on_another_case_is_refused(cases):
    first_case = report_a_case(cases).case_id
    second_case = report_a_case(cases).case_id
    cases.execute(INTAKE_OFFICER, first_case, Classify(**a_classification()), idempotency_key="k-1")

    with pytest.raises(IdempotencyKeyReused):
        cases.execute(
            INTAKE_OFFICER, second_case, Classify(**a_classification()), idempotency_key="k-1"
        )


def test_idempotency_keys_belong_to_the_user_who_chose_them(cases):
    case_id = report_a_case(cases).case_id
    cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()), idempotency_key="k-1")

    result = cases.execute(
        COORDINATOR, case_id, AssignCaseWorker(**a_case_worker_assignment()), idempotency_key="k-1"
    )

    assert result.replayed is False
    assert result.recorded == ("CaseWorkerAssigned",)


def test_a_retry_under_another_identity_with_the_same_user_id_is_not_a_replay(cases):
    """A replay answers before any access check, so it must be the same caller, all of them."""
    case_id = report_a_case(cases).case_id
    classify = Classify(**a_classification())
    cases.execute(INTAKE_OFFICER, case_id, classify, idempotency_key="k-1")
    elsewhere = an_actor(
        Role.DATA_OFFICER,
        agency=Agency.POLICE,
        district="kota-batu",
        user_id=INTAKE_OFFICER.user_id,
    )

    with pytest.raises(CaseNotFound):
        cases.execute(elsewhere, case_id, classify, idempotency_key="k-1")


def test_a_refused_command_does_not_use_up_its_key(cases):
    case_id = report_a_case(cases).case_id
    with pytest.raises(RuleViolated):
        cases.execute(
            COORDINATOR,
            case_id,
            AssignCaseWorker(**a_case_worker_assignment()),
            idempotency_key="k-1",
        )
    cases.execute(INTAKE_OFFICER, case_id, Classify(**a_classification()))

    result = cases.execute(
        COORDINATOR, case_id, AssignCaseWorker(**a_case_worker_assignment()), idempotency_key="k-1"
    )

    assert result.replayed is False
    assert result.recorded == ("CaseWorkerAssigned",)


# ---- Time standard of referrals (L4.1) ----------------------------------------------


def test_a_referral_is_due_after_the_districts_l4_1_time_standard(cases, clock):
    case_id = report_a_case(cases).case_id
    advance_reported_case(cases, case_id, Stage.INTERVENTION)
    referred_at = clock.advance(timedelta(hours=5))

    cases.execute(CASE_WORKER, case_id, Refer(**a_referral()))

    referred = cases.read_case_events(COORDINATOR, case_id, TEST_READ)[-1]
    limit = cases.profiles.profile(DISTRICT).step("L4.1").limit
    assert limit == timedelta(days=7)  # Luwu Utara's "Mutu Baku - Waktu"
    assert referred.due_at == referred_at + limit
    assert referred.timestamp == referred_at
    assert referred_at == FIXED_TIME + timedelta(hours=5)
