"""The commands a case accepts: one class per SOP step, and the step table front ends build on.

A command is what a caller may send (a pydantic model: the API takes it as its
request body, so OpenAPI documents exactly this), who may send it, and how it
becomes a call on the Case aggregate (``apply``). The case service runs any
command the same way (``Cases.execute``); the API registers one endpoint per
entry of ``CASE_STEPS``. A new SOP step is therefore one class here and one
method on the aggregate.

Vocabulary fields use the domain's enums, so the allowed values are listed in
OpenAPI and checked before the aggregate checks them again.
"""

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar
from uuid import UUID, uuid5

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from domain import vocabulary as vocab
from domain.actors import Actor
from domain.case import Case
from domain.errors import InvalidValue
from domain.time_standards import TimeStandardProfile
from services.access import Who
from services.accounts import StaffRecord

# ---- What the API accepts as text, days and moments ----------------------------------------
#
# Every text field refuses control characters: PostgreSQL cannot store NUL, and a
# control character in a name or a note breaks the screens, exports and agency systems
# it travels to. Multi-line text keeps tab, line feed and carriage return. Each rule is
# also published as a JSON Schema keyword (patterns valid in ECMA-262 and Python alike),
# so the OpenAPI document says exactly what is accepted.

_SINGLE_LINE_REFUSED = r"\x00-\x1f\x7f-\x9f"
_MULTI_LINE_REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# What str.strip() removes besides control characters: a blank value holds only these.
_BLANK = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_BLANK_LINE_BREAKS = r"\t\n\r"


@dataclass(frozen=True)
class TextRule:
    """No control characters (nor line breaks in single-line text); not blank if required.

    Single-line text is stripped of surrounding blanks after the checks; lengths count
    the characters as sent.
    """

    multiline: bool
    required: bool
    strip: bool

    @property
    def refused(self) -> str:
        return _MULTI_LINE_REFUSED if self.multiline else _SINGLE_LINE_REFUSED

    @property
    def pattern(self) -> str:
        if not self.required:
            return f"^[^{self.refused}]*$"
        blank = _BLANK + (_BLANK_LINE_BREAKS if self.multiline else "")
        return f"^[{blank}]*[^{self.refused}{blank}][^{self.refused}]*$"

    def check(self, value: str) -> str:
        if re.search(f"[{self.refused}]", value):
            what = "control characters" if self.multiline else "control characters or line breaks"
            raise PydanticCustomError("control_character", f"must not contain {what}")
        if self.required and not value.strip():
            raise PydanticCustomError("blank", "must not be blank")
        return value.strip() if self.strip else value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        published = handler(schema)
        published["pattern"] = self.pattern
        return published


SINGLE_LINE = TextRule(multiline=False, required=False, strip=True)
REQUIRED_LINE = TextRule(multiline=False, required=True, strip=True)
MULTI_LINE = TextRule(multiline=True, required=False, strip=False)
REQUIRED_MULTI_LINE = TextRule(multiline=True, required=True, strip=False)

ShortText = Annotated[str, StringConstraints(max_length=200), SINGLE_LINE]
Reference = Annotated[str, StringConstraints(max_length=200), SINGLE_LINE]
Item = Annotated[str, StringConstraints(max_length=1_000), REQUIRED_LINE]
UserId = Annotated[str, StringConstraints(max_length=128), REQUIRED_LINE]
Identifier = Annotated[str, StringConstraints(max_length=200), REQUIRED_LINE]
Note = Annotated[str, StringConstraints(max_length=5_000), MULTI_LINE]
RequiredText = Annotated[
    str,
    StringConstraints(max_length=5_000),
    TextRule(multiline=True, required=True, strip=True),
]
LongText = Annotated[str, StringConstraints(max_length=20_000), REQUIRED_MULTI_LINE]

# Years a day or a moment may name: wide enough for any birth date or case, and narrow
# enough that every moment converts to every time zone (a moment in 9999 may not).
FIRST_YEAR, LAST_YEAR = 1900, 9998
_YEAR = "(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_DATE = f"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
_OFFSET = "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"


@dataclass(frozen=True)
class Spelled:
    """A string spelled as ``pattern`` says (RFC 3339), never a number or another form.

    Python callers may pass the value itself (a date or datetime), within the same years.
    """

    pattern: str
    message: str

    def check(self, value: object) -> object:
        if isinstance(value, date):
            if not FIRST_YEAR <= value.year <= LAST_YEAR:
                raise PydanticCustomError("format", self.message)
        elif not isinstance(value, str) or not re.fullmatch(self.pattern, value):
            raise PydanticCustomError("format", self.message)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        published = handler(schema)
        published["pattern"] = self.pattern
        return published


DAY = Spelled(f"^{_DATE}$", f"must be a date YYYY-MM-DD in the years {FIRST_YEAR}-{LAST_YEAR}")
MOMENT = Spelled(
    f"^{_DATE}[Tt]{_CLOCK}{_OFFSET}$",
    "must be a date and time with its time zone (RFC 3339), e.g. 2026-03-01T08:00:00+08:00, "
    f"in the years {FIRST_YEAR}-{LAST_YEAR}",
)
Day = Annotated[date, DAY]
Moment = Annotated[AwareDatetime, MOMENT]


def _a_json_number(value: object) -> object:
    if isinstance(value, (bool, str, bytes)):
        raise PydanticCustomError("int_type", "must be a whole number")
    return value


# A whole number as JSON Schema means it (4 or 4.0), never a string or a boolean; placed
# after a field's bounds, so that the bounds are published as JSON Schema keywords.
JSON_NUMBER = BeforeValidator(_a_json_number)


class UniqueItems:
    """A list whose items must all differ (the aggregate refuses repeats): uniqueItems."""

    @staticmethod
    def check(values: list[Any]) -> list[Any]:
        if len(set(values)) != len(values):
            raise PydanticCustomError("repeated_value", "must not repeat a value")
        return values

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        published = handler(schema)
        published["uniqueItems"] = True
        return published


T = TypeVar("T")
Distinct = Annotated[list[T], UniqueItems()]


class CommandModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- The report that opens a case -------------------------------------------------------


class Person(CommandModel):
    """What is known of a person: every field is optional, reports are accepted as they come."""

    name: ShortText | None = None
    sex: Literal["female", "male"] | None = None
    birth_place: ShortText | None = None
    birth_date: Day | None = None
    age: Annotated[int, Field(ge=0, le=130), JSON_NUMBER] | None = None
    nik: Annotated[str, StringConstraints(pattern=r"^[0-9]{16}$")] | None = Field(
        default=None, description="National identity number (16 digits)"
    )
    address: Annotated[str, StringConstraints(max_length=500), MULTI_LINE] | None = None
    village: ShortText | None = None
    subdistrict: ShortText | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    education: ShortText | None = None
    occupation: ShortText | None = None
    disability: ShortText | None = None
    relationship_to_victim: ShortText | None = Field(
        default=None, description="For reporters and reported persons, e.g. mother, teacher"
    )


class Incident(CommandModel):
    occurred_on: Day | None = None
    place_type: (
        Literal[
            "household",
            "workplace",
            "school",
            "public_facility",
            "educational_institution",
            "online",
            "other",
        ]
        | None
    ) = Field(default=None, description="SIMFONI-PPA place categories")
    village: ShortText | None = None
    subdistrict: ShortText | None = None


DocumentType = Literal[
    "identity_card",
    "family_card",
    "birth_certificate",
    "social_assistance_card",
    "health_insurance_card",
    "referral_letter",
    "photo",
    "other",
]


def _known(model: BaseModel | None) -> dict[str, Any]:
    """A person or incident as events store it: only what is known, JSON-safe."""
    return model.model_dump(mode="json", exclude_none=True) if model is not None else {}


class ReportCase(CommandModel):
    """L1.1-L1.2: a report of violence, as far as it is known."""

    channel: vocab.Channel
    arrived_at: Moment = Field(description="When the report reached the office")
    chronology: LongText = Field(description="What happened, in the reporter's words")
    victim: Person
    reporter: Person | None = None
    reported_person: Person | None = Field(default=None, description="The terlapor, if known")
    incident: Incident | None = None
    needs: Note = Field(default="", description="Kebutuhan dan harapan: needs and expectations")
    psychological_first_aid_needed: StrictBool = False
    documents: list[DocumentType] = Field(default_factory=list, max_length=20)

    def open_case(self, *, case_id: UUID, district: str, register_number: str) -> Case:
        return Case.receive_report(
            case_id=case_id,
            district=district,
            register_number=register_number,
            channel=self.channel,
            arrived_at=self.arrived_at,
            chronology=self.chronology,
            victim=_known(self.victim),
            reporter=_known(self.reporter),
            reported_person=_known(self.reported_person),
            incident=_known(self.incident),
            needs=self.needs,
            psychological_first_aid_needed=self.psychological_first_aid_needed,
            documents=list(self.documents),
        )


# ---- Commands on a case ---------------------------------------------------------------------


def recommendation_id_for(case_id: UUID, recommended_at_version: int) -> str:
    """Recommendation ids derive from the case and the version of their event, as referrals'."""
    return str(uuid5(case_id, f"recommendation/{recommended_at_version}"))


def referral_id_for(case_id: UUID, referred_at_version: int) -> str:
    """Referral ids derive from the case and the version of their Referred event.

    A retried referral command therefore names the same referral, and a client
    learns the id from the command's result (case id and version) alone.
    """
    return str(uuid5(case_id, f"referral/{referred_at_version}"))


@dataclass(frozen=True)
class Step:
    """Where a command sits in the SOP and in front ends: ``POST /cases/{id}/<path>``."""

    path: str
    sop_step: str
    summary: str
    who: Who


class StaffLookup(Protocol):
    def member(self, user_id: str) -> StaffRecord | None: ...


@dataclass(frozen=True)
class CommandContext:
    """What a command may consult besides the case: who issues it, when, and the district's SOP."""

    actor: Actor
    now: datetime
    profile: TimeStandardProfile
    # The agencies a referral or hand-over of this case can reach: those with an inbox
    # (the rows of the data-sharing matrix) and the case's coordinating office.
    receiving_agencies: frozenset[str]
    # The staff directory, where accounts are kept: who a named colleague is now.
    staff: StaffLookup | None = None


class CaseCommand(CommandModel, ABC):
    """A command on an existing case. Subclasses declare their ``step`` and ``apply``.

    A command of an optional process also declares its ``process``: the case service
    refuses it in a district whose profile does not run the process.
    """

    step: ClassVar[Step]
    process: ClassVar[vocab.Process | None] = None

    @abstractmethod
    def apply(self, case: Case, context: CommandContext) -> None:
        """Call the aggregate's command method; it checks the rules and records the events."""

    @classmethod
    def operation(cls) -> str:
        """The command's stable name (``RecordConsent`` -> ``record_consent``): the API's
        operation id and part of an idempotent request's fingerprint."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    @property
    def referral_id_acted_on(self) -> str | None:
        """The existing referral the command acts on, if it acts on one."""
        return None


class ReferralCommand(CaseCommand):
    """A command on one referral of the case; the API takes the referral from the path."""

    referral_id: Identifier

    @property
    def referral_id_acted_on(self) -> str | None:
        return self.referral_id


# ---- 1. Identification ----------------------------------------------------------------------


class GivePsychologicalFirstAid(CaseCommand):
    step = Step(
        "psychological-first-aid", "L1.3", "Record initial psychological support", Who.CASE_TEAM
    )

    notes: RequiredText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.give_psychological_first_aid(notes=self.notes)


class RecordComplaintKind(CaseCommand):
    """Kota Batu's "Pengaduan yang mendapatkan Layanan" (B-K1-K15): the complaint's kind."""

    step = Step(
        "complaint-kind",
        "B-K1-K15",
        "Record which of the district's complaint kinds the report is (before classifying)",
        Who.CASE_TEAM,
    )

    kind: vocab.ComplaintKind

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_complaint_kind(kind=self.kind, district_kinds=context.profile.complaint_kinds)


# An SOP step number as the seeds write them: L1.2, B4, K-O2, T4b.
StepNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9.-]{0,19}$")]


class CorrectFacts(CaseCommand):
    """B4, Kota Batu's activity 3, K-O2: correct or complete what the intake recorded.

    Verification by home visit completes the data (Kota Batu: "verifikasi dengan
    kunjungan rumah untuk melengkapi data", B4) and checks the initial data (Kutai
    Timur, K-O2). The body has the intake's own shape: each field given is a fact
    corrected, with the same rules as at intake; a field left out (or null) keeps its
    value, so a fact gets a new value but is never erased. Every fact given must change:
    one that already has the value is refused (422, rule correction_changes_nothing).
    The case file shows the new values; the earlier ones stay in the history.
    """

    step = Step(
        "fact-corrections",
        "L1.2",
        "Correct or complete facts recorded at intake (victim, reporter, reported person, "
        "incident, chronology, needs), with a reason: e.g. after verification (B4, K-O2)",
        Who.CASE_TEAM,
    )

    victim: Person | None = None
    reporter: Person | None = None
    reported_person: Person | None = None
    incident: Incident | None = None
    chronology: LongText | None = None
    needs: Note | None = None
    reason: RequiredText = Field(description="Why the facts change, e.g. what the visit found")
    sop_step: StepNumber | None = Field(
        default=None, description="The SOP step the correction comes from, e.g. B4 or K-O2"
    )

    def corrections(self) -> list[dict[str, Any]]:
        """The facts given, as the event records them: group, key and new value."""
        groups = {
            "victim": _known(self.victim),
            "reporter": _known(self.reporter),
            "reported_person": _known(self.reported_person),
            "incident": _known(self.incident),
            "report": {
                key: text
                for key, text in (("chronology", self.chronology), ("needs", self.needs))
                if text is not None
            },
        }
        return [
            {"group": group, "key": key, "value": value}
            for group, facts in groups.items()
            for key, value in facts.items()
        ]

    def apply(self, case: Case, context: CommandContext) -> None:
        # Checked here, not by the model: no JSON Schema says "some field of some part".
        corrections = self.corrections()
        if not corrections:
            raise InvalidValue(
                "",
                "must give at least one fact to correct: victim, reporter, reported_person, "
                "incident, chronology or needs",
                kind="nothing_to_correct",
            )
        case.correct_facts(
            corrections=corrections, reason=self.reason, sop_step=self.sop_step or ""
        )


class Classify(CaseCommand):
    """L1.5: case type, risk and jurisdiction route the case (rules a-f)."""

    step = Step(
        "classification",
        "L1.5",
        "Classify case type, risk and jurisdiction; routes the case (rules a-f)",
        Who.CASE_TEAM,
    )

    case_type: vocab.CaseType
    risk_level: vocab.RiskLevel
    jurisdiction: vocab.Jurisdiction
    emergency: StrictBool
    forms_of_violence: Distinct[vocab.FormOfViolence] = Field(default_factory=list, max_length=9)
    ampk_categories: Distinct[vocab.AmpkCategory] = Field(default_factory=list, max_length=15)
    rationale: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.classify(
            case_type=self.case_type,
            risk_level=self.risk_level,
            jurisdiction=self.jurisdiction,
            emergency=self.emergency,
            forms_of_violence=list(self.forms_of_violence),
            ampk_categories=list(self.ampk_categories),
            rationale=self.rationale,
            assessment_first=context.profile.assessment_before_classification,
            coordinating_agency=context.profile.coordinating_agency,
            served_complaint_kinds=context.profile.served_complaint_kinds,
        )


class HandOver(CaseCommand):
    step = Step(
        "handover",
        "L1.5",
        "Hand the case over as routed (PATBM, social office, province) or give information only",
        Who.OFFICE_LEADS,
    )

    target: vocab.HandoverTarget
    receiving_unit: ShortText = ""
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.hand_over(
            target=self.target,
            receiving_agencies=context.receiving_agencies,
            receiving_unit=self.receiving_unit,
            notes=self.notes,
        )


class AcknowledgeHandover(CaseCommand):
    """L1.5 b-d ("bantu akseskan"): the receiver confirms the handed-over case reached it."""

    step = Step(
        "handover-acknowledgement",
        "L1.5",
        "The agency the case was handed over to acknowledges it (the case stays closed for "
        "the district)",
        Who.HANDOVER_RECEIVER,
    )

    receiving_unit: ShortText = Field(default="", description="The unit now handling the case")
    taken_by: ShortText = Field(default="", description="The officer now handling the case")
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.acknowledge_handover(
            receiving_unit=self.receiving_unit, taken_by=self.taken_by, notes=self.notes
        )


class HandBack(CaseCommand):
    """L1.5: the receiver returns the case; the office must classify it again."""

    step = Step(
        "handback",
        "L1.5",
        "The agency the case was handed over to returns it, saying why; the case reopens "
        "for reclassification",
        Who.HANDOVER_RECEIVER,
    )

    reason: RequiredText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.hand_back(reason=self.reason)


class RecordEmergencyResponse(CaseCommand):
    step = Step(
        "emergency-responses", "L1.6", "Record outreach and emergency services", Who.CASE_TEAM
    )

    actions: list[Item] = Field(min_length=1, max_length=20)
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_emergency_response(actions=list(self.actions), notes=self.notes)


class AssignCaseWorker(CaseCommand):
    step = Step("case-worker", "L1.7", "Assign the case worker", Who.OFFICE_LEADS)

    case_worker_id: UserId
    assignment_letter_ref: Reference = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        member = context.staff.member(self.case_worker_id) if context.staff else None
        # An account must be an active case worker of the case's office; an id outside the
        # directory is a development identity (`simpul token`), as for callers.
        if member is not None and not (
            member.active
            and member.role == vocab.Role.CASE_WORKER
            and member.district == case.district
            and member.agency == context.profile.coordinating_agency
        ):
            raise InvalidValue(
                "case_worker_id", "is not an active case worker of the case's office"
            )
        case.assign_case_worker(
            case_worker_id=self.case_worker_id, assignment_letter_ref=self.assignment_letter_ref
        )


class RecordContact(CaseCommand):
    step = Step(
        "contacts",
        "L1.8",
        "Record a visit or contact with the beneficiary and family",
        Who.CASE_TEAM,
    )

    mode: vocab.ContactMode
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_contact(mode=self.mode, notes=self.notes)


class RecordConsent(CaseCommand):
    step = Step(
        "consent",
        "L1.9-10",
        "Record written informed consent; a refusal closes the case",
        Who.CASE_TEAM,
    )

    given: StrictBool
    given_by: vocab.ConsentGiver
    document_ref: Reference = Field(
        default="", description="The signed consent form (required when given)"
    )
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_consent(
            given=self.given,
            given_by=self.given_by,
            document_ref=self.document_ref,
            notes=self.notes,
        )


class AddBeneficiary(CaseCommand):
    """A further beneficiary: a sibling, a family member, one of a group.

    Tanjungpinang's SOP counts families and groups among the victims, Kutai Timur's PKSAI
    (Pasal 3) targets children, families, groups and communities. The victim of the report
    is beneficiary "1"; those added are "2", "3", ... in the order they are added.
    """

    step = Step(
        "beneficiaries",
        "L1.8",
        "Add a beneficiary (a sibling, a family member, one of a group) to the case",
        Who.CASE_TEAM,
    )

    person: Person
    relationship: Annotated[str, StringConstraints(max_length=200), REQUIRED_LINE] = Field(
        description="How the beneficiary relates to the first victim, e.g. sibling"
    )
    child: StrictBool = Field(description="A child's consent is given by a parent or guardian")

    def apply(self, case: Case, context: CommandContext) -> None:
        case.add_beneficiary(
            person=_known(self.person), relationship=self.relationship, child=self.child
        )


class RecordBeneficiaryConsent(CaseCommand):
    step = Step(
        "beneficiary-consent",
        "L1.9-10",
        "Record the written informed consent of one added beneficiary",
        Who.CASE_TEAM,
    )

    beneficiary_id: Identifier = Field(description="An added beneficiary: 2, 3, ...")
    given: StrictBool
    given_by: vocab.ConsentGiver
    document_ref: Reference = Field(
        default="", description="The signed consent form (required when given)"
    )
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_beneficiary_consent(
            beneficiary_id=self.beneficiary_id,
            given=self.given,
            given_by=self.given_by,
            document_ref=self.document_ref,
            notes=self.notes,
        )


class RecordFamilyDecision(CaseCommand):
    """K-C3 (Kutai Timur, 1 jam): the services identified are offered to the family."""

    step = Step(
        "family-decisions",
        "K-C3",
        "Record the services offered to the complainant or family and their decision",
        Who.CASE_TEAM,
    )

    offered_services: Distinct[vocab.ServiceType] = Field(min_length=1, max_length=18)
    accepted_services: Distinct[vocab.ServiceType] = Field(
        max_length=18, description="Those of the offered services the family accepted; [] if none"
    )
    decided_by: vocab.ConsentGiver
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_family_decision(
            offered_services=list(self.offered_services),
            accepted_services=list(self.accepted_services),
            decided_by=self.decided_by,
            notes=self.notes,
        )


# ---- 2. Assessment ---------------------------------------------------------------------------


class RecordAssessment(CaseCommand):
    step = Step(
        "assessments",
        "L2.1-2.3",
        "Record an assessment (physical, psychological, social-spiritual, legal)",
        Who.CASE_TEAM_OR_ASSESSING_AGENCY,
    )

    kind: vocab.AssessmentKind
    domain: vocab.AssessmentDomain
    assessing_agency: vocab.Agency | None = Field(
        default=None, description="Defaults to the caller's agency"
    )
    findings: LongText
    recommended_services: Distinct[vocab.ServiceType] = Field(default_factory=list, max_length=18)

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_assessment(
            kind=self.kind,
            domain=self.domain,
            assessing_agency=self.assessing_agency or context.actor.agency,
            findings=self.findings,
            recommended_services=list(self.recommended_services),
            before_classification=context.profile.assessment_before_classification is not None,
        )


class ReviewAssessment(CaseCommand):
    """T3 (Tanjungpinang, 30-60 menit): the supervisor reviews the assessment's results.

    Part of assessment, not of the supervisor_approval process: the review approves
    nothing and holds nothing back (T3's output is "Laporan / Informasi"), so any
    district may record one, including those whose SOP has no such step.
    """

    step = Step(
        "assessment-reviews",
        "T3 / P2-P4",
        "A supervisor reviews the assessment's results (Kabid, Kasi, Ketua Pelaksana Harian)",
        Who.SUPERVISOR,
    )

    outcome: vocab.ReviewOutcome
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.review_assessment(outcome=self.outcome, notes=self.notes)


class ConcludeCaseReport(CaseCommand):
    step = Step(
        "case-report", "L2.7", "Conclude the assessment into the case report", Who.CASE_TEAM
    )

    summary: LongText
    needs: Distinct[vocab.ServiceType] = Field(max_length=18)

    def apply(self, case: Case, context: CommandContext) -> None:
        case.conclude_case_report(summary=self.summary, needs=list(self.needs))


# ---- 3. Intervention planning ----------------------------------------------------------------


class HoldCaseConference(CaseCommand):
    step = Step(
        "case-conferences", "L3.3 / L5.3", "Record a multi-agency case conference", Who.CASE_TEAM
    )

    held_on: Day
    participating_agencies: Distinct[vocab.Agency] = Field(min_length=1, max_length=14)
    decisions: list[Item] = Field(min_length=1, max_length=50)

    def apply(self, case: Case, context: CommandContext) -> None:
        case.hold_case_conference(
            held_on=self.held_on.isoformat(),
            participating_agencies=list(self.participating_agencies),
            decisions=list(self.decisions),
        )


class HoldFamilyMeeting(CaseCommand):
    step = Step("family-meetings", "L3.4 / L5.4", "Record a family meeting", Who.CASE_TEAM)

    held_on: Day
    participants: list[Item] = Field(min_length=1, max_length=30)
    agreements: list[Item] = Field(min_length=1, max_length=50)

    def apply(self, case: Case, context: CommandContext) -> None:
        case.hold_family_meeting(
            held_on=self.held_on.isoformat(),
            participants=list(self.participants),
            agreements=list(self.agreements),
        )


class PlannedService(CommandModel):
    service_type: vocab.ServiceType
    agency: vocab.Agency


class AgreeInterventionPlan(CaseCommand):
    step = Step(
        "intervention-plan",
        "L3.1-3.5",
        "Record the intervention plan agreed with the beneficiary and family",
        Who.CASE_TEAM,
    )

    goals: list[Item] = Field(min_length=1, max_length=30)
    services: list[PlannedService] = Field(min_length=1, max_length=30)
    agreed_with: Distinct[vocab.ConsentGiver] = Field(min_length=1, max_length=4)
    plan_document_ref: Reference = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.agree_intervention_plan(
            goals=list(self.goals),
            services=[service.model_dump(mode="json") for service in self.services],
            agreed_with=list(self.agreed_with),
            plan_document_ref=self.plan_document_ref,
        )


# ---- 4. Intervention -------------------------------------------------------------------------


def referral_due_at(context: CommandContext, service_type: str, case: Case) -> datetime:
    """L4.1: when the agency owes the service: the district's limit for this service and risk."""
    return context.now + context.profile.step("L4.1").limit_for(
        service_type=service_type, risk_level=case.risk_level
    )


class Refer(CaseCommand):
    """L4.1: the referral's due time comes from the district's time standard."""

    step = Step(
        "referrals", "L4.1", "Refer the beneficiary to an agency for a service", Who.CASE_TEAM
    )

    service_type: vocab.ServiceType
    agency: vocab.Agency
    emergency: StrictBool = Field(
        default=False, description="An emergency referral may precede consent (routing rule e)"
    )
    notes: Note = ""
    referral_record_ref: Reference = Field(default="", description="Berita acara rujukan")
    beneficiary_ids: list[Identifier] = Field(
        default_factory=list,
        max_length=50,
        description="Whom the referral is for (1 is the report's victim); none: the victim",
    )

    def apply(self, case: Case, context: CommandContext) -> None:
        case.refer(
            beneficiary_ids=self.beneficiary_ids,
            referral_id=self.new_referral_id(case),
            service_type=self.service_type,
            agency=self.agency,
            due_at=referral_due_at(context, self.service_type, case),
            receiving_agencies=context.receiving_agencies,
            emergency=self.emergency,
            notes=self.notes,
            referral_record_ref=self.referral_record_ref,
            approval_required=context.profile.referral_approval,
        )

    def new_referral_id(self, case: Case) -> str:
        # Named beneficiaries are recorded just before the Referred event, whose version
        # the command's result reports either way.
        return referral_id_for(case.id, case.version + (2 if self.beneficiary_ids else 1))


class NamedReferral(Refer):
    """A referral whose id the caller chose (imports and tests inside Simpul, not the API)."""

    referral_id: Identifier

    @classmethod
    def operation(cls) -> str:
        return Refer.operation()

    def new_referral_id(self, case: Case) -> str:
        return self.referral_id


class AcceptReferral(ReferralCommand):
    step = Step(
        "acceptance", "L4.1", "The receiving agency accepts the referral", Who.RECEIVING_AGENCY
    )

    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.accept_referral(referral_id=self.referral_id, notes=self.notes)


class DeclineReferral(ReferralCommand):
    step = Step(
        "decline",
        "L4.1",
        "The receiving agency declines the referral, saying why",
        Who.RECEIVING_AGENCY,
    )

    reason: RequiredText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.decline_referral(referral_id=self.referral_id, reason=self.reason)


class RecordServiceDelivery(ReferralCommand):
    step = Step(
        "deliveries",
        "L4.2-4.3",
        "The receiving agency reports the service it delivered",
        Who.RECEIVING_AGENCY,
    )

    outcome: vocab.DeliveryOutcome
    delivered_on: Day
    summary: LongText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_service_delivery(
            referral_id=self.referral_id,
            outcome=self.outcome,
            delivered_on=self.delivered_on.isoformat(),
            summary=self.summary,
        )


class CancelReferral(ReferralCommand):
    step = Step(
        "cancellation", "L4.1", "The coordinating office withdraws a referral", Who.OFFICE_LEADS
    )

    reason: RequiredText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.cancel_referral(referral_id=self.referral_id, reason=self.reason)


class RecommendReferral(CaseCommand):
    """K-C7 (Kutai Timur, 1 hari): the social worker proposes a referral for approval."""

    process = vocab.Process.SUPERVISOR_APPROVAL
    step = Step(
        "recommendations",
        "K-C7",
        "Propose a referral to another service, for a supervisor to approve (K-C8)",
        Who.CASE_TEAM,
    )

    service_type: vocab.ServiceType
    agency: vocab.Agency
    rationale: LongText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.recommend_referral(
            recommendation_id=recommendation_id_for(case.id, case.version + 1),
            service_type=self.service_type,
            agency=self.agency,
            receiving_agencies=context.receiving_agencies,
            rationale=self.rationale,
        )


class RecommendationCommand(CaseCommand):
    """A command on one recommendation of the case."""

    recommendation_id: Identifier


class ApproveRecommendation(RecommendationCommand):
    """K-C8 (Kutai Timur, 1 hari): approve, and refer with the Berita Acara Rujukan."""

    process = vocab.Process.SUPERVISOR_APPROVAL
    step = Step(
        "recommendation-approvals",
        "K-C8",
        "A supervisor approves a recommendation and refers, with the referral record",
        Who.SUPERVISOR,
    )

    recommendation_letter_ref: Reference = Field(
        min_length=1, description="The surat rekomendasi's number"
    )
    referral_record_ref: Reference = Field(
        min_length=1, description="The Berita Acara Rujukan's number"
    )
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        recommendation = case.recommendation(self.recommendation_id)
        case.approve_recommendation(
            recommendation_id=self.recommendation_id,
            # The approval is version + 1 and the referral it makes version + 2.
            referral_id=referral_id_for(case.id, case.version + 2),
            due_at=referral_due_at(context, recommendation.service_type, case),
            receiving_agencies=context.receiving_agencies,
            recommendation_letter_ref=self.recommendation_letter_ref,
            referral_record_ref=self.referral_record_ref,
            notes=self.notes,
        )


class ReturnRecommendation(RecommendationCommand):
    """K-C8: the supervisor returns a recommendation to the social worker."""

    process = vocab.Process.SUPERVISOR_APPROVAL
    step = Step(
        "recommendation-returns",
        "K-C8",
        "A supervisor returns a recommendation, saying why",
        Who.SUPERVISOR,
    )

    reason: RequiredText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.return_recommendation(recommendation_id=self.recommendation_id, reason=self.reason)


class NoteReferralProgress(ReferralCommand):
    """K-R5 (Kutai Timur, "selama kasus berlangsung"): the referred agency's progress."""

    step = Step(
        "progress-notes",
        "K-R5",
        "Note how the referred agency's handling is progressing, without an outcome",
        Who.CASE_TEAM_OR_RECEIVING_AGENCY,
    )

    noted_on: Day
    progress: LongText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.note_referral_progress(
            referral_id=self.referral_id,
            noted_on=self.noted_on.isoformat(),
            progress=self.progress,
        )


class HoldMediation(CaseCommand):
    """P5 (Purwakarta, 240 min) / B5 (Kota Batu, 120 min): mediation of victim and perpetrator."""

    process = vocab.Process.MEDIATION
    step = Step(
        "mediations",
        "P5 / B5",
        "Record a mediation between the victim and the other party; never for sexual violence "
        "unless the perpetrator is a child",
        Who.CASE_TEAM,
    )

    held_on: Day
    parties: list[Item] = Field(min_length=2, max_length=20)
    perpetrator_is_child: StrictBool = Field(
        description="A child perpetrator: the one case of sexual violence mediation may settle"
    )
    agreement_reached: StrictBool
    agreements: list[Item] = Field(default_factory=list, max_length=50)

    def apply(self, case: Case, context: CommandContext) -> None:
        case.hold_mediation(
            held_on=self.held_on.isoformat(),
            parties=list(self.parties),
            perpetrator_is_child=self.perpetrator_is_child,
            agreement_reached=self.agreement_reached,
            agreements=list(self.agreements),
        )


class AdmitToShelter(CaseCommand):
    """T4d (Tanjungpinang, within T4's 3-7 hari): a stay at the RSTS Dinsos or P2TP2A shelter."""

    process = vocab.Process.SHELTER
    step = Step(
        "shelter-admissions",
        "T4d",
        "Admit the beneficiary to a temporary shelter (RSTS Dinas Sosial, P2TP2A); consent "
        "first unless an emergency",
        Who.CASE_TEAM,
    )

    shelter: vocab.Shelter
    shelter_name: ShortText = Field(default="", description="Required for a shelter 'other'")
    admitted_on: Day
    referral_id: Identifier | None = Field(
        default=None, description="The temporary_shelter referral the stay serves, if referred"
    )
    emergency: StrictBool = Field(
        default=False, description="An emergency admission may precede consent (routing rule e)"
    )
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.admit_to_shelter(
            shelter=self.shelter,
            shelter_name=self.shelter_name,
            admitted_on=self.admitted_on.isoformat(),
            referral_id=self.referral_id,
            emergency=self.emergency,
            notes=self.notes,
        )


class DischargeFromShelter(CaseCommand):
    """T4d: the shelter stay ends; the case file counts its length from the two days."""

    process = vocab.Process.SHELTER
    step = Step(
        "shelter-discharges",
        "T4d",
        "Discharge the beneficiary from the shelter, saying where she went",
        Who.CASE_TEAM,
    )

    discharged_on: Day
    destination: vocab.ShelterDestination
    reason: RequiredText
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.discharge_from_shelter(
            discharged_on=self.discharged_on.isoformat(),
            destination=self.destination,
            reason=self.reason,
            notes=self.notes,
        )


class RecordReintegrationStep(CaseCommand):
    """Kutai Timur K-I1 (3 hari), K-I2 and K-I3 (1 jam each), K-I5 (1 hari), K-I8 (1 jam)."""

    process = vocab.Process.REINTEGRATION
    step = Step(
        "reintegration-steps",
        "K-I1-I3 / K-I5 / K-I8",
        "Record a step of the social reintegration: preparation, counselling, introduction "
        "to the community, report",
        Who.CASE_TEAM,
    )

    activity: vocab.ReintegrationActivity
    done_on: Day
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_reintegration_step(
            activity=self.activity, done_on=self.done_on.isoformat(), notes=self.notes
        )


class ReunifyChild(CaseCommand):
    """K-I4 (Kutai Timur, 1 jam): the child returns to the family or a substitute family."""

    process = vocab.Process.REINTEGRATION
    step = Step(
        "reunification",
        "K-I4",
        "Record the child's reunification with the family or a substitute family; starts "
        "the 3 months of monitoring",
        Who.CASE_TEAM,
    )

    reunified_on: Day
    reunified_with: vocab.ReunifiedWith
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.reunify_child(
            reunified_on=self.reunified_on.isoformat(),
            reunified_with=self.reunified_with,
            notes=self.notes,
        )


class RecordReintegrationVisit(CaseCommand):
    """K-I6 (Kutai Timur, 3 bulan): monitoring of the child after reunification."""

    process = vocab.Process.REINTEGRATION
    step = Step(
        "reintegration-visits",
        "K-I6",
        "Record a monitoring visit in the 3 months after reunification",
        Who.CASE_TEAM,
    )

    visited_on: Day
    mode: vocab.ContactMode
    findings: LongText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_reintegration_visit(
            visited_on=self.visited_on.isoformat(), mode=self.mode, findings=self.findings
        )


class EvaluateReintegration(CaseCommand):
    """K-I7 (Kutai Timur, 1 jam): the monitoring's results evaluated; ends the monitoring."""

    process = vocab.Process.REINTEGRATION
    step = Step(
        "reintegration-evaluation",
        "K-I7",
        "Evaluate the reintegration from the monitoring's results",
        Who.CASE_TEAM,
    )

    evaluated_on: Day
    reintegrated: StrictBool = Field(description="Whether the child is reintegrated")
    findings: LongText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.evaluate_reintegration(
            evaluated_on=self.evaluated_on.isoformat(),
            reintegrated=self.reintegrated,
            findings=self.findings,
        )


class RecordAccompaniment(CaseCommand):
    step = Step(
        "accompaniment", "L4.4-4.6", "Record accompaniment of the beneficiary", Who.CASE_TEAM
    )

    activity: RequiredText
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_accompaniment(activity=self.activity, notes=self.notes)


# ---- 5. Monitoring ---------------------------------------------------------------------------


class RecordMonitoringVisit(CaseCommand):
    step = Step("monitoring-visits", "L5.2", "Record a monitoring visit", Who.CASE_TEAM)

    mode: vocab.ContactMode
    findings: LongText
    services_on_track: StrictBool
    recovered: StrictBool

    def apply(self, case: Case, context: CommandContext) -> None:
        case.record_monitoring_visit(
            mode=self.mode,
            findings=self.findings,
            services_on_track=self.services_on_track,
            recovered=self.recovered,
        )


class StartReassessment(CaseCommand):
    step = Step(
        "reassessment",
        "L5.5",
        "Loop back to assessment: the beneficiary still needs services",
        Who.CASE_TEAM,
    )

    reason: RequiredText

    def apply(self, case: Case, context: CommandContext) -> None:
        case.start_reassessment(reason=self.reason)


# ---- 6. Termination --------------------------------------------------------------------------


class BeneficiaryFeedback(CommandModel):
    satisfaction: Annotated[int, Field(ge=1, le=5), JSON_NUMBER] | None = Field(
        default=None, description="1 (poor) to 5 (very good)"
    )
    comments: Note = ""


class Terminate(CaseCommand):
    step = Step(
        "termination",
        "L6.1-6.5",
        "Terminate the case (agreed after recovery, or unilateral); the case closes",
        Who.CASE_WORKER_OR_COORDINATOR,
    )

    kind: vocab.TerminationKind
    reason: vocab.TerminationReason
    beneficiary_feedback: BeneficiaryFeedback | None = None
    termination_form_ref: Reference = ""
    notes: Note = ""

    def apply(self, case: Case, context: CommandContext) -> None:
        feedback = self.beneficiary_feedback
        case.terminate(
            kind=self.kind,
            reason=self.reason,
            beneficiary_feedback=feedback.model_dump(mode="json") if feedback else {},
            termination_form_ref=self.termination_form_ref,
            notes=self.notes,
        )


# The step table: every command on a case, in the SOP's order. The API registers
# one endpoint per entry; other front ends build their forms from the same table.
CASE_STEPS: tuple[type[CaseCommand], ...] = (
    GivePsychologicalFirstAid,
    RecordComplaintKind,
    CorrectFacts,
    Classify,
    HandOver,
    AcknowledgeHandover,
    HandBack,
    RecordEmergencyResponse,
    AssignCaseWorker,
    RecordContact,
    RecordConsent,
    AddBeneficiary,
    RecordBeneficiaryConsent,
    RecordFamilyDecision,
    RecordAssessment,
    ReviewAssessment,
    ConcludeCaseReport,
    HoldCaseConference,
    HoldFamilyMeeting,
    AgreeInterventionPlan,
    Refer,
    AcceptReferral,
    DeclineReferral,
    RecordServiceDelivery,
    CancelReferral,
    RecommendReferral,
    ApproveRecommendation,
    ReturnRecommendation,
    NoteReferralProgress,
    HoldMediation,
    AdmitToShelter,
    DischargeFromShelter,
    RecordReintegrationStep,
    ReunifyChild,
    RecordReintegrationVisit,
    EvaluateReintegration,
    RecordAccompaniment,
    RecordMonitoringVisit,
    StartReassessment,
    Terminate,
)
