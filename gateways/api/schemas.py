"""Request and response bodies of the case API.

Each request model validates what a client may send and turns it into the
keyword arguments of the matching service command (``command_arguments``).
Vocabulary fields use the domain's enums, so OpenAPI lists the allowed values.
"""

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.vocabulary import (
    Agency,
    AmpkCategory,
    AssessmentDomain,
    AssessmentKind,
    CaseType,
    Channel,
    ConsentGiver,
    ContactMode,
    DeliveryOutcome,
    FormOfViolence,
    HandoverTarget,
    Jurisdiction,
    RiskLevel,
    ServiceType,
    TerminationKind,
    TerminationReason,
)

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Note = Annotated[str, StringConstraints(max_length=5_000)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
RequiredText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def command_arguments(self) -> dict[str, Any]:
        """The service command's arguments: enum values and ISO dates, as events store them."""
        return self.model_dump(mode="json")


class Person(BaseModel):
    """What is known of a person: every field is optional, reports are accepted as they come."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    sex: Literal["female", "male"] | None = None
    birth_place: ShortText | None = None
    birth_date: date | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    nik: Annotated[str, StringConstraints(pattern=r"^\d{16}$")] | None = Field(
        default=None, description="National identity number (16 digits)"
    )
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    village: ShortText | None = None
    subdistrict: ShortText | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    education: ShortText | None = None
    occupation: ShortText | None = None
    disability: ShortText | None = None
    relationship_to_victim: ShortText | None = Field(
        default=None, description="For reporters and reported persons, e.g. mother, teacher"
    )


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_on: date | None = None
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


class ReportIn(RequestModel):
    """L1.1-L1.2: a report of violence, as far as it is known."""

    channel: Channel
    arrived_at: AwareDatetime = Field(description="When the report reached the office")
    chronology: LongText = Field(description="What happened, in the reporter's words")
    victim: Person
    reporter: Person | None = None
    reported_person: Person | None = Field(default=None, description="The terlapor, if known")
    incident: Incident | None = None
    needs: Note = Field(default="", description="Kebutuhan dan harapan: needs and expectations")
    psychological_first_aid_needed: bool = False
    documents: list[DocumentType] = Field(default_factory=list, max_length=20)

    def command_arguments(self) -> dict[str, Any]:
        arguments = self.model_dump(mode="json", exclude_none=True)
        arguments["arrived_at"] = self.arrived_at
        for person in ("victim", "reporter", "reported_person", "incident"):
            arguments.setdefault(person, {})
        return arguments


class PsychologicalFirstAidIn(RequestModel):
    notes: RequiredText


class ClassificationIn(RequestModel):
    """L1.5: case type, risk and jurisdiction route the case (rules a-f)."""

    case_type: CaseType
    risk_level: RiskLevel
    jurisdiction: Jurisdiction
    emergency: bool
    forms_of_violence: list[FormOfViolence] = Field(default_factory=list, max_length=9)
    ampk_categories: list[AmpkCategory] = Field(default_factory=list, max_length=15)
    rationale: Note = ""


class HandoverIn(RequestModel):
    target: HandoverTarget
    receiving_unit: ShortText = ""
    notes: Note = ""


class EmergencyResponseIn(RequestModel):
    actions: list[Item] = Field(min_length=1, max_length=20)
    notes: Note = ""


class CaseWorkerIn(RequestModel):
    case_worker_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    assignment_letter_ref: Reference = ""


class ContactIn(RequestModel):
    mode: ContactMode
    notes: Note = ""


class ConsentIn(RequestModel):
    given: bool
    given_by: ConsentGiver
    document_ref: Reference = Field(default="", description="The signed consent form (required when given)")
    notes: Note = ""


class AssessmentIn(RequestModel):
    kind: AssessmentKind
    domain: AssessmentDomain
    assessing_agency: Agency | None = Field(
        default=None, description="Defaults to the caller's agency"
    )
    findings: LongText
    recommended_services: list[ServiceType] = Field(default_factory=list, max_length=18)


class CaseReportIn(RequestModel):
    summary: LongText
    needs: list[ServiceType] = Field(max_length=18)


class CaseConferenceIn(RequestModel):
    held_on: date
    participating_agencies: list[Agency] = Field(min_length=1, max_length=14)
    decisions: list[Item] = Field(min_length=1, max_length=50)


class FamilyMeetingIn(RequestModel):
    held_on: date
    participants: list[Item] = Field(min_length=1, max_length=30)
    agreements: list[Item] = Field(min_length=1, max_length=50)


class PlannedService(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_type: ServiceType
    agency: Agency


class InterventionPlanIn(RequestModel):
    goals: list[Item] = Field(min_length=1, max_length=30)
    services: list[PlannedService] = Field(min_length=1, max_length=30)
    agreed_with: list[ConsentGiver] = Field(min_length=1, max_length=4)
    plan_document_ref: Reference = ""


class ReferralIn(RequestModel):
    service_type: ServiceType
    agency: Agency
    emergency: bool = Field(
        default=False, description="An emergency referral may precede consent (routing rule e)"
    )
    notes: Note = ""
    referral_record_ref: Reference = Field(default="", description="Berita acara rujukan")


class ReferralAnswerIn(RequestModel):
    notes: Note = ""


class ReferralDeclineIn(RequestModel):
    reason: RequiredText


class ServiceDeliveryIn(RequestModel):
    outcome: DeliveryOutcome
    delivered_on: date
    summary: LongText


class ReferralCancellationIn(RequestModel):
    reason: RequiredText


class AccompanimentIn(RequestModel):
    activity: RequiredText
    notes: Note = ""


class MonitoringVisitIn(RequestModel):
    mode: ContactMode
    findings: LongText
    services_on_track: bool
    recovered: bool


class ReassessmentIn(RequestModel):
    reason: RequiredText


class BeneficiaryFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    satisfaction: int | None = Field(default=None, ge=1, le=5, description="1 (poor) to 5 (very good)")
    comments: Note = ""


class TerminationIn(RequestModel):
    kind: TerminationKind
    reason: TerminationReason
    beneficiary_feedback: BeneficiaryFeedback | None = None
    termination_form_ref: Reference = ""
    notes: Note = ""


class CommandAccepted(BaseModel):
    """What a command recorded. Retrying with the same Idempotency-Key returns the same body."""

    case_id: UUID
    register_number: str
    version: int = Field(description="The case's version after the command; send it as If-Match")
    recorded: list[str] = Field(description="Event types recorded by this command, in order")
    replayed: bool = Field(description="True when this answers a retry of an earlier request")
    referral_id: UUID | None = Field(
        default=None, description="The new referral's id, when the command made a referral"
    )
