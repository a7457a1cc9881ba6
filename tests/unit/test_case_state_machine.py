"""Random command sequences against one Case: whatever is tried, in whatever order,
the SOP's invariants hold, refused commands change nothing, and the recorded
history replays to the same case.

The machine starts from a case somewhere along the standard journey and
drives the aggregate directly, inside ``acting_as`` with a fake clock that
moves seven minutes per command. A command's arguments are all valid three
times in four; otherwise exactly one of them is invalid: unknown vocabulary,
blank text, empty or repeated lists, a service its agency does not provide,
a naive due time. The case may start with referrals in any status; referral
commands name referrals of the case, and one rule names a referral that does
not exist. Once the case is closed, only valid commands are tried, each of
which it must refuse.

Who acts is not the aggregate's concern (the service layer checks it), so the
coordinator issues every command here.
"""

from copy import deepcopy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.actors import acting_as
from domain.case import Case
from domain.errors import DomainError
from domain.vocabulary import (
    AGENCIES_FOR_SERVICE,
    Agency,
    AmpkCategory,
    AssessmentDomain,
    AssessmentKind,
    CaseType,
    ConsentGiver,
    ContactMode,
    DeliveryOutcome,
    FormOfViolence,
    HandoverTarget,
    Jurisdiction,
    ReferralStatus,
    RiskLevel,
    ServiceType,
    Stage,
    TerminationReason,
)
from gateways.eventstore.environment import memory_env
from tests.support.builders import (
    CASE_WORKER,
    COMMAND_ARGUMENTS,
    COORDINATOR,
    RECEIVING_AGENCIES,
    FakeClock,
    a_case_at,
    a_direct_referral,
    move_referral_to,
)

STEP = timedelta(minutes=7)
NOT_IN_THE_SOP = "not-in-the-sop"
UNKNOWN_REFERRAL_ID = "no-such-referral"
# A hand-over's answers reopen or follow a closed case by design (L1.5 b-d): the rules
# tests cover them; here a closed case stays closed, as L6.5 says of every other command.
HANDOVER_ANSWERS = frozenset({"acknowledge_handover", "hand_back"})
REFERRAL_COMMANDS = (
    "accept_referral",
    "decline_referral",
    "record_service_delivery",
    "cancel_referral",
)

# Lampiran II's order of stages; a stage may also stay as it is.
STAGE_CHANGES = frozenset(
    {
        (Stage.IDENTIFICATION, Stage.ASSESSMENT),  # consent given (L1.10)
        (Stage.ASSESSMENT, Stage.PLANNING),  # case report (L2.7)
        (Stage.PLANNING, Stage.INTERVENTION),  # plan agreed (L3.5)
        (Stage.INTERVENTION, Stage.MONITORING),  # monitoring visit (L5.2)
        (Stage.INTERVENTION, Stage.ASSESSMENT),  # re-assessment (L5.5)
        (Stage.MONITORING, Stage.ASSESSMENT),  # re-assessment (L5.5)
    }
    | {(stage, Stage.CLOSED) for stage in Stage if stage != Stage.CLOSED}  # L6.5, handover
    | {(stage, stage) for stage in Stage}
)

# The in-memory store's mapper: events are replayed the way they come back from storage.
MAPPER = Application[UUID](env=memory_env()).mapper


# ---- Arguments: all valid, or exactly one invalid -----------------------------------


@dataclass(frozen=True)
class Field:
    valid: st.SearchStrategy[Any]
    invalid: st.SearchStrategy[Any] | None = None


def arguments(**fields: Field) -> st.SearchStrategy[dict[str, Any]]:
    """All fields valid three times in four; otherwise exactly one field invalid."""
    all_valid = st.fixed_dictionaries({name: field.valid for name, field in fields.items()})
    corruptible = [name for name, field in fields.items() if field.invalid is not None]
    if not corruptible:
        return all_valid

    def with_invalid(bad: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {name: field.invalid if name == bad else field.valid for name, field in fields.items()}
        )

    one_invalid = st.sampled_from(corruptible).flatmap(with_invalid)
    return st.integers(0, 3).flatmap(lambda n: one_invalid if n == 0 else all_valid)


def values_of(enum: type) -> st.SearchStrategy[str]:
    return st.sampled_from([member.value for member in enum])


def word(enum: type) -> Field:
    return Field(values_of(enum), st.just(NOT_IN_THE_SOP))


def words(enum: type, *, at_least: int = 0) -> Field:
    repeated = values_of(enum).map(lambda value: [value, value])
    invalid = [repeated, st.just([NOT_IN_THE_SOP])] + ([st.just([])] if at_least else [])
    return Field(
        st.lists(values_of(enum), min_size=at_least, max_size=3, unique=True),
        st.one_of(invalid),
    )


def note() -> Field:
    return Field(st.just("Catatan pendamping."), st.sampled_from(["", "   "]))


def notes() -> Field:
    return Field(st.just(["Butir pertama."]), st.sampled_from([[], [""]]))


def reference(valid: str) -> Field:
    return Field(st.just(valid), st.just(""))


def flag() -> Field:
    return Field(st.booleans())


PROVIDED_SERVICES = [
    {"service_type": service.value, "agency": agency.value}
    for service, agencies in AGENCIES_FOR_SERVICE.items()
    for agency in sorted(agencies)
]

ANY_PAIRING = st.fixed_dictionaries(
    {"service_type": values_of(ServiceType), "agency": values_of(Agency)}
)

# A service with an agency that provides it (L3.2), or any pairing at all.
SERVICE_AND_AGENCY = Field(st.sampled_from(PROVIDED_SERVICES), ANY_PAIRING)

PLANNED_SERVICES = Field(
    st.lists(st.sampled_from(PROVIDED_SERVICES), min_size=1, max_size=3),
    st.one_of(
        st.just([]),
        st.lists(ANY_PAIRING, min_size=1, max_size=2),
        st.just([{"service_type": "medical_care"}]),
        st.just(["medical_care"]),
    ),
)

# Services with their agencies for the referrals a machine starts with, one each.
SEEDED_SERVICES = (
    {"service_type": "medical_examination", "agency": "health"},
    {"service_type": "psychological_counselling", "agency": "health"},
    {"service_type": "medical_care", "agency": "health"},
)


# ---- The machine ------------------------------------------------------------------


def state_of(case: Case) -> dict[str, Any]:
    return {name: value for name, value in vars(case).items() if name != "_pending_events"}


def is_open(machine: "CaseUnderRandomCommands") -> bool:
    return not machine.case.is_closed


def is_open_with_referrals(machine: "CaseUnderRandomCommands") -> bool:
    return is_open(machine) and bool(machine.case.referrals)


def is_closed(machine: "CaseUnderRandomCommands") -> bool:
    return machine.case.is_closed


class CaseUnderRandomCommands(RuleBasedStateMachine):
    case: Case

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.closed_at_version: int | None = None
        self.replayed: Case | None = None
        self.replayed_events = 0

    @initialize(
        stage=st.sampled_from([stage for stage in Stage if stage != Stage.CLOSED]),
        emergency=st.booleans(),
        referral_statuses=st.lists(values_of(ReferralStatus), max_size=len(SEEDED_SERVICES)),
    )
    def a_case_somewhere_along_the_standard_journey(
        self, stage: Stage, emergency: bool, referral_statuses: list[str]
    ) -> None:
        """Start anywhere from a fresh report to monitoring, with referrals in any status
        once consent allows them, so random commands reach every stage and transition."""
        self.case = a_case_at(
            stage, at=self.clock(), overrides={"classify": {"emergency": emergency}}
        )
        if self.case.consent != "given":
            return
        for index, status in enumerate(referral_statuses):
            referral_id = f"referral-{index + 1}"
            service = SEEDED_SERVICES[index]
            with acting_as(CASE_WORKER, self.clock()):
                self.case.refer(**a_direct_referral(referral_id=referral_id, **service))
            move_referral_to(self.case, status, referral_id=referral_id, at=self.clock())

    def attempt(self, command: str, **command_arguments: Any) -> bool:
        """Run one command and say whether the case accepted it. If the case refuses
        it, the case must be exactly as before."""
        state = deepcopy(state_of(self.case))
        pending = list(self.case.pending_events)
        with acting_as(COORDINATOR, self.clock.advance(STEP)):
            try:
                if command in ("refer", "hand_over"):
                    command_arguments.setdefault("receiving_agencies", RECEIVING_AGENCIES)
                getattr(self.case, command)(**command_arguments)
            except DomainError:
                assert state_of(self.case) == state
                assert self.case.pending_events == pending
                return False
        if self.case.is_closed and self.closed_at_version is None:
            self.closed_at_version = self.case.version
        return True

    # ---- A closed case (L6.5)

    @precondition(is_closed)
    @rule(command=st.sampled_from(sorted(set(COMMAND_ARGUMENTS) - HANDOVER_ANSWERS)))
    def a_closed_case_refuses_any_command(self, command: str) -> None:
        assert not self.attempt(command, **COMMAND_ARGUMENTS[command]())

    # ---- 1. Identification

    @precondition(is_open)
    @rule(drawn=arguments(notes=note()))
    def give_psychological_first_aid(self, drawn: dict[str, Any]) -> None:
        self.attempt("give_psychological_first_aid", **drawn)

    @precondition(is_open)
    @rule(
        drawn=arguments(
            case_type=word(CaseType),
            risk_level=word(RiskLevel),
            jurisdiction=word(Jurisdiction),
            emergency=flag(),
            forms_of_violence=words(FormOfViolence),
            ampk_categories=words(AmpkCategory),
        )
    )
    def classify(self, drawn: dict[str, Any]) -> None:
        self.attempt("classify", **drawn)

    @precondition(is_open)
    @rule(drawn=arguments(target=word(HandoverTarget)))
    def hand_over(self, drawn: dict[str, Any]) -> None:
        self.attempt("hand_over", **drawn)

    @precondition(is_open)
    @rule(drawn=arguments(actions=notes()))
    def record_emergency_response(self, drawn: dict[str, Any]) -> None:
        self.attempt("record_emergency_response", **drawn)

    @precondition(is_open)
    @rule(
        drawn=arguments(
            case_worker_id=Field(st.sampled_from(["case-worker-1", "case-worker-2"]), st.just(""))
        )
    )
    def assign_case_worker(self, drawn: dict[str, Any]) -> None:
        self.attempt("assign_case_worker", **drawn)

    @precondition(is_open)
    @rule(drawn=arguments(mode=word(ContactMode)))
    def record_contact(self, drawn: dict[str, Any]) -> None:
        self.attempt("record_contact", **drawn)

    @precondition(is_open)
    @rule(
        drawn=arguments(
            given=Field(st.just(True), st.just(False)),
            given_by=word(ConsentGiver),
            document_ref=reference("IC/2024/017"),
        )
    )
    def record_consent(self, drawn: dict[str, Any]) -> None:
        self.attempt("record_consent", **drawn)

    # ---- 2. Assessment

    @precondition(is_open)
    @rule(
        drawn=arguments(
            kind=word(AssessmentKind),
            domain=word(AssessmentDomain),
            assessing_agency=word(Agency),
            findings=note(),
            recommended_services=words(ServiceType),
        )
    )
    def record_assessment(self, drawn: dict[str, Any]) -> None:
        self.attempt("record_assessment", **drawn)

    @precondition(is_open)
    @rule(drawn=arguments(summary=note(), needs=words(ServiceType)))
    def conclude_case_report(self, drawn: dict[str, Any]) -> None:
        self.attempt("conclude_case_report", **drawn)

    # ---- 3. Planning

    @precondition(is_open)
    @rule(
        drawn=arguments(
            held_on=note(),
            participating_agencies=words(Agency, at_least=1),
            decisions=notes(),
        )
    )
    def hold_case_conference(self, drawn: dict[str, Any]) -> None:
        self.attempt("hold_case_conference", **drawn)

    @precondition(is_open)
    @rule(drawn=arguments(held_on=note(), participants=notes(), agreements=notes()))
    def hold_family_meeting(self, drawn: dict[str, Any]) -> None:
        self.attempt("hold_family_meeting", **drawn)

    @precondition(is_open)
    @rule(
        drawn=arguments(
            goals=notes(),
            services=PLANNED_SERVICES,
            agreed_with=words(ConsentGiver, at_least=1),
        )
    )
    def agree_intervention_plan(self, drawn: dict[str, Any]) -> None:
        self.attempt("agree_intervention_plan", **drawn)

    # ---- 4. Intervention

    @precondition(is_open)
    @rule(
        data=st.data(),
        drawn=arguments(
            service=SERVICE_AND_AGENCY,
            emergency=Field(st.just(False), st.just(True)),  # rare, and valid on emergencies
            naive_due_time=Field(st.just(False), st.just(True)),
        ),
    )
    def refer(self, data: st.DataObject, drawn: dict[str, Any]) -> None:
        fresh_id = f"referral-{len(self.case.referrals) + 1}"
        taken_ids = sorted(self.case.referrals)
        referral_id = data.draw(
            st.sampled_from([fresh_id, fresh_id, fresh_id, *taken_ids]), label="referral_id"
        )
        due_at = self.clock() + timedelta(days=7)
        self.attempt(
            "refer",
            referral_id=referral_id,
            due_at=due_at.replace(tzinfo=None) if drawn["naive_due_time"] else due_at,
            emergency=drawn["emergency"],
            **drawn["service"],
        )

    def a_referral_id_of_the_case(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.case.referrals)), label="referral_id")

    @precondition(is_open_with_referrals)
    @rule(data=st.data())
    def accept_referral(self, data: st.DataObject) -> None:
        self.attempt("accept_referral", referral_id=self.a_referral_id_of_the_case(data))

    @precondition(is_open_with_referrals)
    @rule(data=st.data(), drawn=arguments(reason=note()))
    def decline_referral(self, data: st.DataObject, drawn: dict[str, Any]) -> None:
        referral_id = self.a_referral_id_of_the_case(data)
        self.attempt("decline_referral", referral_id=referral_id, **drawn)

    @precondition(is_open_with_referrals)
    @rule(
        data=st.data(),
        drawn=arguments(outcome=word(DeliveryOutcome), delivered_on=note(), summary=note()),
    )
    def record_service_delivery(self, data: st.DataObject, drawn: dict[str, Any]) -> None:
        referral_id = self.a_referral_id_of_the_case(data)
        self.attempt("record_service_delivery", referral_id=referral_id, **drawn)

    @precondition(is_open_with_referrals)
    @rule(data=st.data(), drawn=arguments(reason=note()))
    def cancel_referral(self, data: st.DataObject, drawn: dict[str, Any]) -> None:
        referral_id = self.a_referral_id_of_the_case(data)
        self.attempt("cancel_referral", referral_id=referral_id, **drawn)

    @precondition(is_open)
    @rule(command=st.sampled_from(REFERRAL_COMMANDS))
    def act_on_an_unknown_referral(self, command: str) -> None:
        self.attempt(command, **COMMAND_ARGUMENTS[command](referral_id=UNKNOWN_REFERRAL_ID))

    @precondition(is_open)
    @rule(drawn=arguments(activity=note()))
    def record_accompaniment(self, drawn: dict[str, Any]) -> None:
        self.attempt("record_accompaniment", **drawn)

    # ---- 5. Monitoring

    @precondition(is_open)
    @rule(
        drawn=arguments(
            mode=word(ContactMode),
            findings=note(),
            services_on_track=flag(),
            recovered=flag(),
        )
    )
    def record_monitoring_visit(self, drawn: dict[str, Any]) -> None:
        self.attempt("record_monitoring_visit", **drawn)

    @precondition(is_open)
    @rule(drawn=arguments(reason=note()))
    def start_reassessment(self, drawn: dict[str, Any]) -> None:
        self.attempt("start_reassessment", **drawn)

    # ---- 6. Termination

    @precondition(is_open)
    @rule(
        drawn=arguments(
            reason=Field(st.just("recovered"), values_of(TerminationReason)),
            termination_form_ref=reference("TERM/2024/017"),
        )
    )
    def terminate_by_agreement(self, drawn: dict[str, Any]) -> None:
        """L6.1-L6.3."""
        self.attempt("terminate", kind="agreed", **drawn)

    @precondition(is_open)
    @rule(reason=values_of(TerminationReason))
    def terminate_unilaterally(self, reason: str) -> None:
        """L6.4, with any reason: only child_died, whereabouts_unknown, refused_accompaniment."""
        self.attempt("terminate", kind="unilateral", reason=reason)

    @precondition(is_open)
    @rule(reason=values_of(TerminationReason))
    def terminate_with_an_unknown_kind(self, reason: str) -> None:
        self.attempt("terminate", kind=NOT_IN_THE_SOP, reason=reason)

    # ---- Invariants

    @invariant()
    def version_counts_the_recorded_events(self) -> None:
        events = self.case.pending_events
        assert self.case.version == len(events)
        assert [event.originator_version for event in events] == list(range(1, len(events) + 1))

    @invariant()
    def stage_is_one_of_the_sop_stages(self) -> None:
        assert self.case.stage in {stage.value for stage in Stage}

    @invariant()
    def a_closed_case_is_in_the_closed_stage_and_gains_no_events(self) -> None:
        assert self.case.is_closed == (self.case.stage == Stage.CLOSED)
        if self.closed_at_version is not None:
            assert self.case.is_closed
            assert self.case.version == self.closed_at_version

    @invariant()
    def a_closed_case_leaves_no_referral_open(self) -> None:
        """Agencies stop serving a closed case, whichever way it closed."""
        if self.case.is_closed:
            assert self.case.open_referral_agencies() == frozenset()

    @invariant()
    def a_referral_without_consent_is_an_emergency_referral(self) -> None:
        if self.case.consent != "given":
            assert all(referral.emergency for referral in self.case.referrals.values())

    @invariant()
    def history_keeps_the_sop_and_replays_to_the_same_case(self) -> None:
        """Replay the stored history into a fresh case, checking each event against the
        state before it. The replay carries on from the previous step's, event by event."""
        for recorded in self.case.pending_events[self.replayed_events :]:
            event = MAPPER.to_domain_event(MAPPER.to_stored_event(recorded))
            if self.replayed is None:
                self.replayed = event.mutate(None)
            else:
                stage_before = self.replayed.stage
                self.check_event_against_the_state_before_it(event, self.replayed)
                self.replayed = event.mutate(self.replayed)
                assert (stage_before, self.replayed.stage) in STAGE_CHANGES
            self.replayed_events += 1
        assert self.replayed is not None
        assert state_of(self.replayed) == state_of(self.case)

    @staticmethod
    def check_event_against_the_state_before_it(event: Case.Event, before: Case) -> None:
        assert not before.is_closed, "a closed case recorded another event"
        name = type(event).__name__
        if name == "Referred":
            assert before.consent == "given" or (event.emergency and before.emergency), (
                "referred without consent, and not as an emergency on an emergency case"
            )
        if name == "Terminated" and event.kind == "agreed":
            assert all(referral.is_settled for referral in before.referrals.values()), (
                "agreed termination with an unsettled referral"
            )


CaseUnderRandomCommands.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None
)
TestCaseUnderRandomCommands = CaseUnderRandomCommands.TestCase
