"""Property tests: in any of the five districts, random commands keep the legal invariants.

Each of the five bundled district profiles (Luwu Utara, Kota Batu, Purwakarta,
Tanjungpinang, Kutai Timur) gets its own machine, with as many examples as the
others (drawn at random, Kutai Timur's approvals were rarely reached). An example
reports a case through
the case service (``Cases`` on the in-memory store). It then issues a random
sequence of the service's commands (services/case_commands.py): now the next
step along that district's SOP, now any command at all with a plausible random
body, by a random actor of the district (the coordinators, the case worker,
the intake officer, an agency's officer, an auditor). Each command also runs on a
copy of the live aggregate, as the service would apply it, and now and then
eight commands are tried on copies only, so that every reached state meets many
commands. Many are refused, by the domain's rules, by who may act (another
helper's ``process_not_run`` would be one more), or by the request's
validation: refusals are fine. What a refusal may not do, and what no accepted
command may do, is break an invariant:

- a refused command records nothing, in the store or on the aggregate;
- event versions run 1, 2, 3...; the stored history replays to the live case;
- written informed consent (L1.9-10) comes before any non-emergency service,
  referral or recommendation, and before any agency receives personal data;
  only an emergency referral or shelter stay of an emergency case (routing
  rule e, L1.6) comes before it;
- a closed case (L6.5) accepts nothing, except the answers to a hand-over to an
  agency (L1.5 b-d: acknowledged once, or handed back, which reopens it);
- the district's order: Kota Batu (B2) and Purwakarta (P2) assess before they
  first classify; the others classify and get consent before they assess;
  Kutai Timur refers only on a supervisor's approval (K-C8) by someone other
  than the proposer (K-C7), except in an emergency;
- no mediation (P5 / B5) of a sexual-violence case unless the perpetrator is a
  child (UU 12/2022 on TPKS, Pasal 23);
- every due step the profile evaluates has a limit longer than zero, and falls
  due (``due_from``) no later than that limit; a referral is due exactly the
  profile's L4.1 limit (for its service and the case's risk) after it was made.

Settings: per district 30 examples of up to 30 steps after up to 24 steps along
the SOP (150 in all), derandomized and without the example database, so every run
tries the same sequences; ``--hypothesis-show-statistics`` lists what was accepted and refused.
"""

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import event as note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from pydantic import ValidationError

from domain.actors import Actor, acting_as
from domain.case import Case
from domain.errors import DomainError, ProcessNotRun
from domain.events import recorded_fields
from domain.time_standards import TimeStandardProfile, case_milestones, step_schedule
from domain.vocabulary import (
    AGENCIES_FOR_SERVICE,
    Agency,
    AmpkCategory,
    AssessmentDomain,
    AssessmentKind,
    CaseType,
    ComplaintKind,
    ConsentGiver,
    ContactMode,
    DeliveryOutcome,
    FormOfViolence,
    HandoverTarget,
    Jurisdiction,
    ReintegrationActivity,
    ReunifiedWith,
    ReviewOutcome,
    RiskLevel,
    Role,
    ServiceType,
    Shelter,
    ShelterDestination,
    TerminationKind,
    TerminationReason,
)
from gateways.eventstore.environment import memory_env
from services.access import AccessDenied
from services.case_commands import (
    CASE_STEPS,
    AcceptReferral,
    AcknowledgeHandover,
    AddBeneficiary,
    AdmitToShelter,
    AgreeInterventionPlan,
    ApproveRecommendation,
    AssignCaseWorker,
    CancelReferral,
    CaseCommand,
    Classify,
    CommandContext,
    ConcludeCaseReport,
    CorrectFacts,
    DeclineReferral,
    DischargeFromShelter,
    EvaluateReintegration,
    GivePsychologicalFirstAid,
    HandBack,
    HandOver,
    HoldCaseConference,
    HoldFamilyMeeting,
    HoldMediation,
    NoteReferralProgress,
    RecommendReferral,
    RecordAccompaniment,
    RecordAssessment,
    RecordBeneficiaryConsent,
    RecordComplaintKind,
    RecordConsent,
    RecordContact,
    RecordEmergencyResponse,
    RecordFamilyDecision,
    RecordMonitoringVisit,
    RecordReintegrationStep,
    RecordReintegrationVisit,
    RecordServiceDelivery,
    Refer,
    ReportCase,
    ReturnRecommendation,
    ReunifyChild,
    ReviewAssessment,
    StartReassessment,
    Terminate,
)
from services.cases import CaseNotFound, Cases
from services.profiles import load_profiles
from services.sharing import SharingPolicy, load_matrix
from tests.support.builders import FakeClock, a_report

PROFILES = load_profiles()
DISTRICTS = ("luwu-utara", "kota-batu", "purwakarta", "tanjungpinang", "kutai-timur")
MATRIX = load_matrix()
# Two agencies of the matrix get no inbox here, so referrals to them are refused
# (agency_not_connected) like referrals to an agency a deployment did not connect.
UNCONNECTED = frozenset({Agency.BAZNAS.value, Agency.COURT.value})
INBOXES = frozenset(MATRIX.agencies) - UNCONNECTED

# UU 12/2022 (TPKS) Pasal 4 and 23, stated here from the law rather than read off the
# aggregate, so a wrong mapping in the domain fails the test.
SEXUAL_FORMS = frozenset({"sexual", "sexual_exploitation"})
SEXUAL_CATEGORIES = frozenset({"sexual_crime", "economic_or_sexual_exploitation", "pornography"})

# Events that deliver a service, share the case in a meeting or propose a referral:
# each needs the beneficiary's written informed consent first (L1.9-10).
NEEDS_CONSENT = (
    Case.AssessmentRecorded,
    Case.CaseConferenceHeld,
    Case.FamilyMeetingHeld,
    Case.InterventionPlanAgreed,
    Case.Referred,
    Case.ReferralRecommended,
    Case.RecommendationApproved,
    Case.MediationHeld,
    Case.ShelterAdmitted,
    Case.ReintegrationStepRecorded,
    Case.ChildReunified,
    Case.ReintegrationVisitRecorded,
    Case.ReintegrationEvaluated,
    Case.AccompanimentRecorded,
)
# What a closed case still records: the answers to a hand-over to an agency (L1.5 b-d).
HANDOVER_ANSWERS = (Case.HandoverAcknowledged, Case.HandedBack)
# The message texts an agency receives beside the facts (sharing_matrix.MESSAGE_TEXTS).
MESSAGE_TEXT_FIELDS = frozenset(
    {"notes", "referral_record_ref", "reason", "summary", "receiving_unit", "taken_by"}
)
TEXT_MESSAGE_KINDS = frozenset(
    {"referral.received", "referral.updated", "case.handed_over", "handover.updated"}
)
UNKNOWN_ID = "no-such-id"


# ---- The district's people ---------------------------------------------------------------


@dataclass(frozen=True)
class People:
    """Everyone who may try a command on a case of one district."""

    intake: Actor
    coordinator: Actor
    other_coordinator: Actor
    case_worker: Actor
    other_case_worker: Actor
    auditor: Actor
    officers: dict[str, Actor]

    @classmethod
    def of(cls, profile: TimeStandardProfile) -> "People":
        district, office = profile.district, profile.coordinating_agency

        def staff(user_id: str, role: Role) -> Actor:
            return Actor(user_id=user_id, role=role, agency=office, district=district)

        officers = {
            agency.value: Actor(
                user_id=f"{agency.value}-officer-1",
                role=Role.AGENCY_OFFICER,
                agency=agency,
                district="kepulauan-riau" if agency == Agency.PROVINCE else district,
            )
            for agency in Agency
        }
        return cls(
            intake=staff("intake-officer-1", Role.INTAKE_OFFICER),
            coordinator=staff("coordinator-1", Role.COORDINATOR),
            other_coordinator=staff("coordinator-2", Role.COORDINATOR),
            case_worker=staff("case-worker-1", Role.CASE_WORKER),
            other_case_worker=staff("case-worker-2", Role.CASE_WORKER),
            auditor=staff("auditor-1", Role.AUDITOR),
            officers=officers,
        )

    def anyone(self) -> st.SearchStrategy[Actor]:
        """Mostly the case office, sometimes someone the command is not open to."""
        office = [self.coordinator, self.coordinator, self.other_coordinator, self.case_worker]
        others = [
            self.intake,
            self.other_case_worker,
            self.auditor,
            *(self.officers[agency] for agency in ("police", "health", "social", "patbm")),
        ]
        return st.one_of(st.sampled_from(office), st.sampled_from(others)) | st.sampled_from(office)


# ---- Command bodies: plausible, and now and then invalid -------------------------------------


def values(enum: type[StrEnum]) -> st.SearchStrategy[str]:
    return st.sampled_from([member.value for member in enum])


def some(
    enum: type[StrEnum], *, at_least: int = 0, at_most: int = 3
) -> st.SearchStrategy[list[str]]:
    return st.lists(values(enum), min_size=at_least, max_size=at_most, unique=True)


# Blank text, which the API refuses, one time in six.
TEXT = st.sampled_from(["Catatan pendamping.", "Korban didampingi ibunya."] * 5 + ["   "])
ITEMS = st.lists(st.sampled_from(["Butir pertama.", "Butir kedua."]), min_size=1, max_size=2)
DAY = st.dates(date(2024, 3, 1), date(2024, 6, 30)).map(date.isoformat)
PROVIDED = [
    (service.value, agency.value)
    for service, agencies in AGENCIES_FOR_SERVICE.items()
    for agency in sorted(agencies)
]
# A service with an agency that provides it (L3.2), most often; any pairing otherwise.
SERVICE_AND_AGENCY = st.one_of(
    st.sampled_from(PROVIDED),
    st.sampled_from(PROVIDED),
    st.sampled_from(PROVIDED),
    st.tuples(values(ServiceType), values(Agency)),
)
VALID_PAIR = st.sampled_from(
    [(service, agency) for service, agency in PROVIDED if agency not in UNCONNECTED]
)


def referral_body(pair: tuple[str, str]) -> dict[str, Any]:
    return {"service_type": pair[0], "agency": pair[1], "referral_record_ref": "BA/2024/017"}


def recommendation_body(pair: tuple[str, str]) -> dict[str, Any]:
    return {"service_type": pair[0], "agency": pair[1], "rationale": "Butuh layanan lanjutan."}


# Routing rule a most often, so that cases stay with the district; any classification else.
CLASSIFICATION = st.fixed_dictionaries(
    {
        "case_type": st.sampled_from(["KTA", "KTP", "AMPK"]) | values(CaseType),
        "risk_level": st.sampled_from(["medium", "high"]) | values(RiskLevel),
        "jurisdiction": st.just("district") | values(Jurisdiction),
        "emergency": st.booleans(),
        "forms_of_violence": some(FormOfViolence),
        "ampk_categories": some(AmpkCategory, at_most=2),
        "rationale": st.just("Klasifikasi awal."),
    }
)

# Rule d (province) or c (ABH): a hand-over the receiver may answer or hand back.
ROUTED_AWAY = CLASSIFICATION.flatmap(
    lambda drawn: st.sampled_from([{"jurisdiction": "province"}, {"case_type": "ABH"}]).map(
        lambda routed: {**drawn, **routed}
    )
)


def family_decision() -> st.SearchStrategy[dict[str, Any]]:
    def accepted(offered: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {
                "offered_services": st.just(offered),
                "accepted_services": st.lists(st.sampled_from(offered), unique=True)
                | some(ServiceType, at_most=1),
                "decided_by": values(ConsentGiver),
            }
        )

    return some(ServiceType, at_least=1).flatmap(accepted)


def pair_body(
    service_key: str, agency_key: str, **rest: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(SERVICE_AND_AGENCY, st.fixed_dictionaries(rest)).map(
        lambda drawn: {service_key: drawn[0][0], agency_key: drawn[0][1], **drawn[1]}
    )


# Bodies of the commands that name nothing of the case's own (no referral, no recommendation).
BODIES: dict[type[CaseCommand], st.SearchStrategy[dict[str, Any]]] = {
    GivePsychologicalFirstAid: st.fixed_dictionaries({"notes": TEXT}),
    RecordComplaintKind: st.fixed_dictionaries({"kind": values(ComplaintKind)}),
    # B4 / K-O2: a name drawn twice in a row changes nothing, which is refused too.
    CorrectFacts: st.fixed_dictionaries(
        {
            "victim": st.fixed_dictionaries({"name": st.sampled_from(["Anak B", "Anak C"])}),
            "reason": TEXT,
            "sop_step": st.sampled_from(["B4", "K-O2"]),
        }
    ),
    Classify: CLASSIFICATION,
    HandOver: st.fixed_dictionaries(
        {"target": values(HandoverTarget), "notes": st.just("Surat serah terima.")}
    ),
    AcknowledgeHandover: st.fixed_dictionaries({"taken_by": st.just("Ketua PATBM")}),
    HandBack: st.fixed_dictionaries({"reason": TEXT}),
    RecordEmergencyResponse: st.fixed_dictionaries({"actions": ITEMS}),
    AssignCaseWorker: st.fixed_dictionaries(
        {"case_worker_id": st.sampled_from(["case-worker-1", "case-worker-2"])}
    ),
    RecordContact: st.fixed_dictionaries({"mode": values(ContactMode)}),
    RecordConsent: st.fixed_dictionaries(
        {
            "given": st.sampled_from([True, True, True, False]),
            "given_by": values(ConsentGiver),
            "document_ref": st.sampled_from(["IC/2024/017", "IC/2024/017", ""]),
        }
    ),
    AddBeneficiary: st.fixed_dictionaries(
        {
            "person": st.just({"name": "Sari", "age": 9}),
            "relationship": st.just("sibling"),
            "child": st.booleans(),
        }
    ),
    RecordBeneficiaryConsent: st.fixed_dictionaries(
        {
            "beneficiary_id": st.sampled_from(["1", "2", "3"]),
            "given": st.booleans(),
            "given_by": values(ConsentGiver),
            "document_ref": st.sampled_from(["IC/2024/018", ""]),
        }
    ),
    RecordFamilyDecision: family_decision(),
    RecordAssessment: st.fixed_dictionaries(
        {
            "kind": values(AssessmentKind),
            "domain": values(AssessmentDomain),
            "assessing_agency": st.none() | values(Agency),
            "findings": TEXT,
            "recommended_services": some(ServiceType),
        }
    ),
    ReviewAssessment: st.fixed_dictionaries({"outcome": values(ReviewOutcome)}),
    ConcludeCaseReport: st.fixed_dictionaries({"summary": TEXT, "needs": some(ServiceType)}),
    HoldCaseConference: st.fixed_dictionaries(
        {
            "held_on": DAY,
            "participating_agencies": some(Agency, at_least=1),
            "decisions": ITEMS,
        }
    ),
    HoldFamilyMeeting: st.fixed_dictionaries(
        {"held_on": DAY, "participants": ITEMS, "agreements": ITEMS}
    ),
    AgreeInterventionPlan: st.fixed_dictionaries(
        {
            "goals": ITEMS,
            "services": st.lists(
                SERVICE_AND_AGENCY.map(lambda pair: {"service_type": pair[0], "agency": pair[1]}),
                min_size=1,
                max_size=3,
            ),
            "agreed_with": some(ConsentGiver, at_least=1),
        }
    ),
    Refer: pair_body(
        "service_type",
        "agency",
        emergency=st.booleans(),
        referral_record_ref=st.just("BA-RUJUKAN/2024/017"),
    ),
    RecommendReferral: pair_body("service_type", "agency", rationale=TEXT),
    HoldMediation: st.fixed_dictionaries(
        {
            "held_on": DAY,
            "parties": st.just(["ibu korban", "terlapor"]),
            "perpetrator_is_child": st.booleans(),
            "agreement_reached": st.booleans(),
            "agreements": st.lists(st.just("Terlapor tidak mendekati korban."), max_size=1),
        }
    ),
    DischargeFromShelter: st.fixed_dictionaries(
        {"discharged_on": DAY, "destination": values(ShelterDestination), "reason": TEXT}
    ),
    RecordReintegrationStep: st.fixed_dictionaries(
        {"activity": values(ReintegrationActivity), "done_on": DAY}
    ),
    ReunifyChild: st.fixed_dictionaries(
        {"reunified_on": DAY, "reunified_with": values(ReunifiedWith)}
    ),
    RecordReintegrationVisit: st.fixed_dictionaries(
        {"visited_on": DAY, "mode": values(ContactMode), "findings": TEXT}
    ),
    EvaluateReintegration: st.fixed_dictionaries(
        {"evaluated_on": DAY, "reintegrated": st.booleans(), "findings": TEXT}
    ),
    RecordAccompaniment: st.fixed_dictionaries({"activity": TEXT}),
    RecordMonitoringVisit: st.fixed_dictionaries(
        {
            "mode": values(ContactMode),
            "findings": TEXT,
            "services_on_track": st.booleans(),
            "recovered": st.booleans(),
        }
    ),
    StartReassessment: st.fixed_dictionaries({"reason": TEXT}),
    Terminate: st.fixed_dictionaries(
        {
            "kind": values(TerminationKind),
            "reason": values(TerminationReason),
            "termination_form_ref": st.sampled_from(["TERM/2024/017", ""]),
        }
    ),
}
REFERRAL_COMMANDS: dict[type[CaseCommand], st.SearchStrategy[dict[str, Any]]] = {
    AcceptReferral: st.fixed_dictionaries({}),
    DeclineReferral: st.fixed_dictionaries({"reason": TEXT}),
    RecordServiceDelivery: st.fixed_dictionaries(
        {"outcome": values(DeliveryOutcome), "delivered_on": DAY, "summary": TEXT}
    ),
    CancelReferral: st.fixed_dictionaries({"reason": TEXT}),
    NoteReferralProgress: st.fixed_dictionaries({"noted_on": DAY, "progress": TEXT}),
}
RECOMMENDATION_COMMANDS: dict[type[CaseCommand], st.SearchStrategy[dict[str, Any]]] = {
    ApproveRecommendation: st.fixed_dictionaries(
        {
            "recommendation_letter_ref": st.just("REK/2024/001"),
            "referral_record_ref": st.just("BAR/2024/001"),
        }
    ),
    ReturnRecommendation: st.fixed_dictionaries({"reason": TEXT}),
}
SHELTER_ADMISSION = st.fixed_dictionaries(
    {
        "shelter": values(Shelter),
        "shelter_name": st.sampled_from(["", "Rumah aman desa"]),
        "admitted_on": DAY,
        "emergency": st.booleans(),
    }
)
EIGHT_COMMANDS = st.lists(
    st.sampled_from(sorted(CASE_STEPS, key=lambda command: command.__name__)),
    min_size=8,
    max_size=8,
    unique=True,
)
COVERED = {*BODIES, *REFERRAL_COMMANDS, *RECOMMENDATION_COMMANDS, AdmitToShelter}
assert set(CASE_STEPS) == COVERED, "every command of the step table is tried"


# ---- The machine -------------------------------------------------------------------------------


def state_of(case: Case) -> dict[str, Any]:
    return {name: value for name, value in vars(case).items() if name != "_pending_events"}


def sexual_violence(classification: Case.RiskClassified | None) -> bool:
    if classification is None:
        return False
    return bool(
        SEXUAL_FORMS & set(classification.forms_of_violence)
        or SEXUAL_CATEGORIES & set(classification.ampk_categories)
    )


Attempt = tuple[type[CaseCommand], dict[str, Any], Actor]


@dataclass
class Past:
    """What the checks need to know of a case's earlier events."""

    classified_once: bool = False
    assessed_once: bool = False
    latest_classification: Case.RiskClassified | None = None
    # Who proposed each recommendation (K-C7), by its id.
    proposers: dict[str, str] = field(default_factory=dict)
    # The referral an approval just recorded makes: the next event (K-C8).
    approved_referral: str | None = None


class CasesInAnyDistrict(RuleBasedStateMachine):
    """One case of a drawn district, driven through the case service.

    Ids of referrals and recommendations derive from the case's random id (uuid5), so
    the machine names them in the order the case recorded them, never sorted: sorted,
    the same draws would pick other referrals from one run to the next.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.cases = Cases(
            env=memory_env(), profiles=PROFILES, agencies_with_inbox=INBOXES, clock=self.clock
        )
        self.policy = SharingPolicy(MATRIX)

    district: str = DISTRICTS[0]

    @initialize(data=st.data())
    def a_case_reported_in_the_district(self, data: st.DataObject) -> None:
        """L1.1-L1.2, then up to 24 steps along the district's SOP: random commands then
        meet cases in every stage, not only fresh reports."""
        self.profile = PROFILES.profile(self.district)
        self.people = People.of(self.profile)
        result = self.cases.report_case(self.people.intake, ReportCase(**a_report()))
        self.case_id = result.case_id
        self.live: Case = self.cases.repository.get(self.case_id)
        self.stored: list[Case.Event] = []
        self.replayed: Case | None = None
        self.sharing = self.policy.new_case(str(self.case_id))
        self.past = Past()
        self.agencies_given_personal_data_rights: set[str] = set()
        self.take_in_new_events()
        for _ in range(data.draw(st.integers(0, 24), label="steps along the SOP")):
            self.attempt(*data.draw(self.next_along_the_sop(), label="along the SOP"))

    # ---- Rules: the next SOP step, any command, a command on a referral or recommendation

    @rule(data=st.data())
    def the_next_step_along_the_sop(self, data: st.DataObject) -> None:
        self.attempt(*data.draw(self.next_along_the_sop(), label="along the SOP"))

    @rule(data=st.data())
    def again_the_next_step_along_the_sop(self, data: st.DataObject) -> None:
        self.attempt(*data.draw(self.next_along_the_sop(), label="along the SOP"))

    @rule(data=st.data())
    def any_command_by_anyone(self, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(sorted(BODIES, key=lambda c: c.__name__)))
        body = data.draw(BODIES[command], label=command.__name__)
        self.attempt(command, body, data.draw(self.people.anyone(), label="actor"))

    @rule(data=st.data())
    def a_command_on_a_referral(self, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(sorted(REFERRAL_COMMANDS, key=lambda c: c.__name__)))
        referral_id = data.draw(st.sampled_from([*self.live.referrals, UNKNOWN_ID]))
        body = {"referral_id": referral_id, **data.draw(REFERRAL_COMMANDS[command])}
        agency = self.live.referrals[referral_id].agency if referral_id != UNKNOWN_ID else "police"
        actors = [self.people.officers[agency], self.people.coordinator]
        actor = data.draw(st.sampled_from(actors) | self.people.anyone(), label="actor")
        self.attempt(command, body, actor)

    @rule(data=st.data())
    def a_command_on_a_recommendation(self, data: st.DataObject) -> None:
        command = data.draw(
            st.sampled_from(sorted(RECOMMENDATION_COMMANDS, key=lambda c: c.__name__))
        )
        recommendation_id = data.draw(st.sampled_from([*self.live.recommendations, UNKNOWN_ID]))
        body = {
            "recommendation_id": recommendation_id,
            **data.draw(RECOMMENDATION_COMMANDS[command]),
        }
        self.attempt(command, body, data.draw(self.people.anyone(), label="actor"))

    @rule(data=st.data())
    def a_shelter_stay(self, data: st.DataObject) -> None:
        referral_id = data.draw(st.sampled_from([None, *self.live.referrals, UNKNOWN_ID]))
        body = {"referral_id": referral_id, **data.draw(SHELTER_ADMISSION)}
        self.attempt(AdmitToShelter, body, data.draw(self.people.anyone(), label="actor"))

    @rule(data=st.data(), by=st.sampled_from(["coordinator", "other_coordinator", "case_worker"]))
    def eight_commands_tried_on_copies_of_the_case(self, data: st.DataObject, by: str) -> None:
        """Eight commands of the step table, each on its own copy of the live case, as the
        service would apply them (who may act aside): whatever one records must keep the
        invariants, and a refusal must change nothing. The store is not involved."""
        actor: Actor = getattr(self.people, by)
        for command in data.draw(EIGHT_COMMANDS, label="commands"):
            body = data.draw(self.a_body_for(command), label=command.__name__)
            self.try_on_a_copy(command, body, actor)

    def a_body_for(self, command: type[CaseCommand]) -> st.SearchStrategy[dict[str, Any]]:
        if command in BODIES:
            return BODIES[command]
        if command is AdmitToShelter:
            referral_ids = st.sampled_from([None, *self.live.referrals])
            return st.tuples(referral_ids, SHELTER_ADMISSION).map(
                lambda drawn: {"referral_id": drawn[0], **drawn[1]}
            )
        if command in REFERRAL_COMMANDS:
            key, ids, bodies = "referral_id", list(self.live.referrals), REFERRAL_COMMANDS
        else:
            key, ids, bodies = (
                "recommendation_id",
                list(self.live.recommendations),
                (RECOMMENDATION_COMMANDS),
            )
        return st.tuples(st.sampled_from([*ids, UNKNOWN_ID]), bodies[command]).map(
            lambda drawn: {key: drawn[0], **drawn[1]}
        )

    def try_on_a_copy(self, command: type[CaseCommand], body: dict[str, Any], actor: Actor) -> None:
        try:
            issued = command.model_validate(body)
        except ValidationError:
            return
        case = deepcopy(self.live)
        now = self.clock()
        context = CommandContext(actor, now, self.profile, self.cases.receiving_agencies(case))
        with acting_as(actor, now):
            try:
                issued.apply(case, context)
            except DomainError as refusal:
                assert state_of(case) == state_of(self.live), (
                    f"{command.__name__} was refused ({refusal}) but changed the case"
                )
                assert case.pending_events == [], f"{command.__name__} left events pending"
                return
        if self.live.is_closed:
            assert command in (AcknowledgeHandover, HandBack), (
                f"a closed case ({self.live.closure}) accepted {command.__name__}"
            )
        before, past = deepcopy(self.live), deepcopy(self.past)
        for recorded in case.collect_events():
            assert isinstance(recorded, Case.Event)
            self.check_event_against_the_state_before_it(recorded, before, past)
            recorded.mutate(before)
        assert state_of(before) == state_of(case), "the events replay to another case"

    @rule(classification=CLASSIFICATION | ROUTED_AWAY)
    def the_office_reclassifies(self, classification: dict[str, Any]) -> None:
        """L1.5 again: a new risk or jurisdiction may route the case to a hand-over, and
        the receiver may hand it back (reopened, unclassified, its consent standing)."""
        self.attempt(Classify, classification, self.people.coordinator)

    @rule(days=st.sampled_from([1, 3, 8, 30]))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    # ---- The next step along the district's SOP

    def next_along_the_sop(self) -> st.SearchStrategy[Attempt]:
        case, people, profile = self.live, self.people, self.profile
        office = people.coordinator

        def step(
            command: type[CaseCommand], body: st.SearchStrategy[dict[str, Any]], by: Actor = office
        ) -> st.SearchStrategy[Attempt]:
            return body.map(lambda drawn: (command, drawn, by))

        def fixed(
            command: type[CaseCommand], by: Actor = office, **body: Any
        ) -> st.SearchStrategy[Attempt]:
            return step(command, st.just(body), by)

        if case.is_closed:
            if case.handed_over_to_agency is not None:
                receiver = people.officers[case.handed_over_to_agency]
                return fixed(HandBack, receiver, reason="Bukan kewenangan kami.") | fixed(
                    AcknowledgeHandover, receiver
                )
            return step(Terminate, BODIES[Terminate])  # refused, as anything now
        if not case.classified:
            options = [step(Classify, CLASSIFICATION, people.intake)]
            if profile.assessment_before_classification and not case.assessments_recorded:
                # B2 / P2: the assessment first; a classification now is refused.
                assessment = step(RecordAssessment, BODIES[RecordAssessment], people.case_worker)
                options = [assessment, assessment, *options]
            if case.consent == "given":
                # Handed back (L1.5): its classification no longer stands, its consent does.
                options.append(step(RecordAssessment, BODIES[RecordAssessment]))
                options.append(step(Refer, VALID_PAIR.map(referral_body)))
            if profile.complaint_kinds and case.complaint_kind is None:
                options.append(step(RecordComplaintKind, BODIES[RecordComplaintKind]))
            return st.one_of(options)
        if case.handover_to is not None:
            return fixed(HandOver, target=case.handover_to) | step(Classify, CLASSIFICATION)
        if case.case_worker_id is None:
            return fixed(AssignCaseWorker, case_worker_id="case-worker-1")
        worker = people.case_worker if case.case_worker_id == "case-worker-1" else office
        if case.consent is None:
            options = [step(RecordConsent, BODIES[RecordConsent], worker)]
            if case.emergency:
                emergency_referral = SERVICE_AND_AGENCY.map(
                    lambda pair: {"service_type": pair[0], "agency": pair[1], "emergency": True}
                )
                options.append(step(Refer, emergency_referral, worker))
                options.append(step(RecordEmergencyResponse, BODIES[RecordEmergencyResponse]))
            return st.one_of(options)
        if case.stage == "assessment":
            if case.assessments_in_cycle == 0:
                return step(RecordAssessment, BODIES[RecordAssessment], worker)
            return step(ConcludeCaseReport, BODIES[ConcludeCaseReport], worker) | step(
                ReviewAssessment, BODIES[ReviewAssessment]
            )
        if case.stage == "planning":
            return step(AgreeInterventionPlan, BODIES[AgreeInterventionPlan], worker) | step(
                HoldCaseConference, BODIES[HoldCaseConference], worker
            )
        proposed = [
            recommendation_id
            for recommendation_id, recommendation in case.recommendations.items()
            if recommendation.status == "proposed"
        ]
        if proposed:
            body = {
                "recommendation_id": proposed[0],
                "recommendation_letter_ref": "REK/2024/001",
                "referral_record_ref": "BAR/2024/001",
            }
            approvers = st.sampled_from([people.coordinator, people.other_coordinator])
            return approvers.map(lambda approver: (ApproveRecommendation, body, approver))
        unsettled = [
            referral_id
            for referral_id, referral in case.referrals.items()
            if not referral.is_settled
        ]
        # A service some agency already has a referral for, now and then: refused while open.
        taken = sorted((r.service_type, r.agency) for r in case.referrals.values())
        pairs = st.sampled_from(taken) | VALID_PAIR if taken else VALID_PAIR
        proposers = st.sampled_from([worker, office])
        recommend = st.tuples(pairs.map(recommendation_body), proposers).map(
            lambda drawn: (RecommendReferral, drawn[0], drawn[1])
        )
        refer = (
            recommend
            if profile.referral_approval
            else step(Refer, pairs.map(referral_body), worker)
        )
        options = [
            step(HoldMediation, BODIES[HoldMediation], worker),
            step(RecordAccompaniment, BODIES[RecordAccompaniment], worker),
            self.next_reintegration_step(worker),
        ]
        if case.shelter_admitted_on is not None:
            options.append(step(DischargeFromShelter, BODIES[DischargeFromShelter], worker))
        else:
            options.append(step(AdmitToShelter, SHELTER_ADMISSION, worker))
        if unsettled:
            referral = case.referrals[unsettled[0]]
            officer = people.officers[referral.agency]
            if referral.status == "pending":
                moved = fixed(AcceptReferral, officer, referral_id=unsettled[0])
            else:
                delivered = {
                    "referral_id": unsettled[0],
                    "outcome": "completed",
                    "delivered_on": "2024-03-20",
                    "summary": "Layanan selesai.",
                }
                moved = step(RecordServiceDelivery, st.just(delivered), officer)
            options += [moved, moved, moved]
        options += [refer] if unsettled else [refer, refer]
        if profile.referral_approval:
            # K-C8: a direct referral, which this district refuses outside an emergency.
            options.append(step(Refer, pairs.map(referral_body), worker))
        visit = {"mode": "home_visit", "findings": "Layanan berjalan.", "services_on_track": True}
        recovered = st.sampled_from([True, True, False]).map(
            lambda found: {**visit, "recovered": found}
        )
        options.append(step(RecordMonitoringVisit, recovered, worker))
        if case.last_visit_found_recovery and not unsettled:
            agreed = fixed(
                Terminate, kind="agreed", reason="recovered", termination_form_ref="TERM/1"
            )
            options += [agreed, agreed, agreed]
        return st.one_of(options)

    def next_reintegration_step(self, worker: Actor) -> st.SearchStrategy[Attempt]:
        """K-I1-K-I8 in their order: prepare, counsel, reunify, monitor, evaluate, report."""
        case = self.live
        for activity in ("preparation", "child_counselling", "caregiver_counselling"):
            if activity not in case.reintegration_steps_done:
                body = {"activity": activity, "done_on": "2024-03-21"}
                return st.just((RecordReintegrationStep, body, worker))
        if not case.reunified:
            body = {"reunified_on": "2024-03-22", "reunified_with": "family"}
            return st.just((ReunifyChild, body, worker))
        if not case.reintegration_visits:
            body = {"visited_on": "2024-04-22", "mode": "home_visit", "findings": "Anak betah."}
            return st.just((RecordReintegrationVisit, body, worker))
        if not case.reintegration_evaluated:
            evaluation = {"evaluated_on": "2024-06-22", "reintegrated": True, "findings": "Pulih."}
            return st.just((EvaluateReintegration, evaluation, worker))
        report = {"activity": "report", "done_on": "2024-06-23"}
        return st.just((RecordReintegrationStep, report, worker))

    # ---- One command, through the aggregate and through the service

    def attempt(self, command: type[CaseCommand], body: dict[str, Any], actor: Actor) -> None:
        """Issue the command to the service, and apply it to a copy of the live case as the
        service would: the two must agree, and a refusal must change nothing."""
        self.clock.advance(timedelta(minutes=7))
        try:
            issued = command.model_validate(body)
        except ValidationError:
            note("refused: invalid body")
            return  # refused at the door: nothing reaches the case
        before = deepcopy(self.live)
        stored_before = list(self.cases.history(self.case_id))

        decided = deepcopy(self.live)
        now = self.clock()
        context = CommandContext(actor, now, self.profile, self.cases.receiving_agencies(decided))
        with acting_as(actor, now):
            try:
                issued.apply(decided, context)
                domain_refusal: DomainError | None = None
            except DomainError as refusal:
                domain_refusal = refusal
        if domain_refusal is not None:
            assert state_of(decided) == state_of(before), (
                f"{command.__name__} was refused ({domain_refusal}) but changed the case"
            )
            assert decided.pending_events == [], (
                f"{command.__name__} was refused ({domain_refusal}) but left events pending"
            )

        try:
            result = self.cases.execute(actor, self.case_id, issued)
        except (DomainError, AccessDenied, CaseNotFound) as refusal:
            assert self.cases.history(self.case_id) == stored_before, (
                f"{command.__name__} was refused ({refusal}) but the store changed"
            )
            note(f"refused: {getattr(refusal, 'rule', type(refusal).__name__)} {command.__name__}")
            if domain_refusal is None:
                # Who may act, and which optional processes the district runs, are the
                # service's to decide: the case knows neither.
                assert isinstance(refusal, (AccessDenied, CaseNotFound, ProcessNotRun)), (
                    f"the service refused {command.__name__} ({refusal}) where the case did not"
                )
            if isinstance(refusal, ProcessNotRun):
                assert command.process is not None and not self.profile.runs(command.process)
            return
        assert domain_refusal is None, f"the service accepted what the case refused: {command}"
        if before.is_closed:
            assert command in (AcknowledgeHandover, HandBack), (
                f"a closed case ({before.closure}) accepted {command.__name__}"
            )
        recorded = decided.collect_events()
        new = self.cases.history(self.case_id)[len(stored_before) :]
        assert result.recorded == tuple(type(event).__name__ for event in recorded)
        assert [(type(e), recorded_fields(e)) for e in new] == [
            (type(e), recorded_fields(e)) for e in recorded
        ], "the service stored other events than the case decided"
        note(f"accepted: {command.__name__} in {self.profile.district}")
        self.live = decided
        self.take_in_new_events()

    # ---- Invariants

    def take_in_new_events(self) -> None:
        """Replay the newly stored events onto the replayed case, checking each against the
        state before it, and feed them to the data-sharing policy."""
        stored = self.cases.history(self.case_id)
        assert stored[: len(self.stored)] == self.stored, "stored history was rewritten"
        for event in stored[len(self.stored) :]:
            assert isinstance(event, Case.Event)
            if self.replayed is not None:
                self.check_event_against_the_state_before_it(event, self.replayed, self.past)
            self.replayed = event.mutate(self.replayed)
            self.check_what_agencies_receive(event)
            self.stored.append(event)

    def check_event_against_the_state_before_it(
        self, event: Case.Event, before: Case, past: Past
    ) -> None:
        """The invariants one event must keep, given the case before it; ``past`` then
        takes the event in."""
        name = type(event).__name__
        profile = self.profile
        if before.is_closed:
            # L6.5: a closed case records nothing more; a hand-over to an agency is answered.
            assert isinstance(event, HANDOVER_ANSWERS), f"a closed case recorded {name}"
            assert before.closure is not None and before.closure.startswith("handed_over:")
            assert before.handed_over_to_agency is not None
            if isinstance(event, Case.HandoverAcknowledged):
                assert not before.handover_acknowledged, "a hand-over acknowledged twice"
        if past.approved_referral is not None:
            # K-C8: the approval and the referral it makes are recorded together.
            assert isinstance(event, Case.Referred), f"{name} followed an approval"
            assert event.referral_id == past.approved_referral
            assert not event.emergency
            past.approved_referral = None
        elif isinstance(event, Case.Referred) and not event.emergency:
            assert profile.referral_approval is None, (
                f"{profile.district} referred without a supervisor's approval (K-C8)"
            )
        if isinstance(event, NEEDS_CONSENT):
            emergency = isinstance(event, Case.Referred | Case.ShelterAdmitted) and event.emergency
            assessed_first = (
                isinstance(event, Case.AssessmentRecorded)
                and profile.assessment_before_classification is not None
                and not before.classified
            )
            if emergency:
                # Routing rule e (L1.6): an emergency service needs an emergency case.
                assert before.emergency, f"emergency {name} on a case not classified as one"
            elif not assessed_first:
                assert before.consent == "given", f"{name} without written consent (L1.9-10)"
        assesses_first = profile.assessment_before_classification is not None
        if isinstance(event, Case.AssessmentRecorded) and not assesses_first:
            # L1.5 before L2: classified (and consented, above) before any assessment.
            assert before.classified, f"{profile.district} assessed an unclassified case"
        if isinstance(event, Case.RiskClassified) and not past.classified_once and assesses_first:
            # Kota Batu B2, Purwakarta P2: assess before the first classification.
            assert past.assessed_once, f"{profile.district} classified before assessing"
        if isinstance(event, Case.ReferralRecommended):
            past.proposers[event.recommendation_id] = event.actor["user_id"]
        if isinstance(event, Case.RecommendationApproved):
            proposer = past.proposers[event.recommendation_id]
            assert event.actor["user_id"] != proposer, "K-C8: the proposer approved"
            past.approved_referral = event.referral_id
        if isinstance(event, Case.MediationHeld) and sexual_violence(past.latest_classification):
            assert event.perpetrator_is_child, "mediation of sexual violence (TPKS Pasal 23)"
        if isinstance(event, Case.RiskClassified):
            past.classified_once = True
            past.latest_classification = event
        if isinstance(event, Case.AssessmentRecorded):
            past.assessed_once = True
        if isinstance(event, Case.Referred):
            limit = profile.step("L4.1").limit_for(
                service_type=event.service_type, risk_level=before.risk_level
            )
            assert event.due_at - event.timestamp == limit > timedelta(0)

    def check_what_agencies_receive(self, event: Case.Event) -> None:
        """No agency receives personal data before consent, unless it holds an emergency
        referral (routing rule e); the sharing policy's messages are checked as sent."""
        state = self.sharing
        messages = self.policy.share(state, event)
        for referral in state.referrals.values():
            if referral.emergency:
                self.agencies_given_personal_data_rights.add(referral.agency)
        for message in messages:
            if state.consent_given or message.agency in self.agencies_given_personal_data_rights:
                continue
            for group, facts in message.data.get("facts", {}).items():
                for key in facts:
                    assert not MATRIX.is_gated(group, key), (
                        f"{message.agency} received {group}.{key} before consent ({message.kind})"
                    )
            if message.kind in TEXT_MESSAGE_KINDS:
                for key in MESSAGE_TEXT_FIELDS & set(message.data):
                    assert message.data[key] == "", (
                        f"{message.agency} received the text {key} before consent"
                    )

    @invariant()
    def versions_run_on_and_the_history_replays_to_the_live_case(self) -> None:
        versions = [event.originator_version for event in self.stored]
        assert versions == list(range(1, len(versions) + 1))
        assert self.replayed is not None
        assert self.live.version == len(self.stored)
        assert state_of(self.replayed) == state_of(self.live)
        assert state_of(self.cases.repository.get(self.case_id)) == state_of(self.live)

    @invariant()
    def a_closed_case_is_closed_everywhere(self) -> None:
        assert self.live.is_closed == (self.live.stage == "closed")
        if self.live.is_closed:
            assert self.live.open_referral_agencies() == frozenset()

    @invariant()
    def every_due_step_has_a_positive_limit_within_which_it_falls_due(self) -> None:
        for status in step_schedule(self.profile, case_milestones(self.stored), self.clock()):
            assert status.limit > timedelta(0), f"{status.code} has no time at all"
            assert status.due_at - status.started_at == status.limit
            if status.due_from is not None:
                assert status.started_at < status.due_from <= status.due_at, status.code


def profile_steps_are_sound(profile: TimeStandardProfile) -> Sequence[str]:
    """What is wrong with a profile's own numbers: every limit positive, ranges in order."""
    wrong = []
    for step in profile.steps:
        limits = [step.limit, *step.limit_by_service.values(), *step.limit_by_risk.values()]
        if min(limits) <= timedelta(0):
            wrong.append(f"{step.code}: a limit of zero or less")
        if step.due_from is not None and not timedelta(0) < step.due_from <= min(limits):
            wrong.append(f"{step.code}: due_from outside its limits")
    return wrong


def test_every_district_profile_gives_each_step_time_and_ranges_in_order() -> None:
    for district in DISTRICTS:
        assert profile_steps_are_sound(PROFILES.profile(district)) == [], district


SETTINGS = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def machine_in(district: str) -> type[CasesInAnyDistrict]:
    """The machine for one district: each of the five gets the same number of examples."""
    name = f"CasesIn{district.title().replace('-', '')}"
    machine: type[CasesInAnyDistrict] = type(name, (CasesInAnyDistrict,), {"district": district})
    machine.TestCase.settings = SETTINGS
    return machine


TestCasesInLuwuUtara = machine_in("luwu-utara").TestCase
TestCasesInKotaBatu = machine_in("kota-batu").TestCase
TestCasesInPurwakarta = machine_in("purwakarta").TestCase
TestCasesInTanjungpinang = machine_in("tanjungpinang").TestCase
TestCasesInKutaiTimur = machine_in("kutai-timur").TestCase
