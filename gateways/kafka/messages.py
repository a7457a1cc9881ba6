"""The published messages: topics, CloudEvents 1.0 envelopes and the data each type carries.

Every Kafka message Simpul publishes is a structured-mode CloudEvent (JSON,
``content-type: application/cloudevents+json``) keyed by the case id, so all
messages of one case land in one partition, in order.

Ids are deterministic, derived from the stored event (``<case>:<version>`` on
the internal topic, ``<case>:<version>:<agency>:<n>`` on an agency topic, n
counting the messages one stored event causes for that agency), so a relay
that republishes after a crash sends byte-identical messages and consumers
drop the repeats by id. ``simpulsequence`` is the event store's notification
id: a total order across cases, for diagnostics.
"""

import json
import re
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain import vocabulary as vocab
from domain.case import Case
from domain.events import recorded_fields
from domain.sharing_matrix import (
    BENEFICIARY_SHARED,
    CASE_CLOSED,
    CASE_HANDED_OVER,
    CASE_OPENED,
    CASE_UPDATED,
    DOCUMENT_SHARED,
    HANDOVER_UPDATED,
    REFERRAL_RECEIVED,
    REFERRAL_UPDATED,
)
from services.sharing import AgencyMessage, published

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
CASES_SOURCE = "/simpul/cases"
TYPE_PREFIX = "id.simpul"
SCHEMA_VERSION = "v1"


def cases_topic(prefix: str) -> str:
    return f"{prefix}.cases.v1"


def agency_topic(prefix: str, agency: str) -> str:
    return f"{prefix}.agency.{agency}.v1"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def agency_source(agency: str) -> str:
    return f"/simpul/agencies/{agency}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def case_event_type(event_type: str) -> str:
    """``Referred`` -> ``id.simpul.case.referred.v1``."""
    return f"{TYPE_PREFIX}.case.{_snake(event_type)}.{SCHEMA_VERSION}"


def agency_message_type(kind: str) -> str:
    """``referral.received`` -> ``id.simpul.agency.referral.received.v1``."""
    return f"{TYPE_PREFIX}.agency.{kind}.{SCHEMA_VERSION}"


def encode(cloud_event: dict[str, Any]) -> bytes:
    text = json.dumps(cloud_event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def internal_cloud_event(event: Case.Event, sequence: int) -> dict[str, Any]:
    """The full stored event, for Simpul's own consumers (``<prefix>.cases.v1``)."""
    case_id = str(event.originator_id)
    return {
        "specversion": SPEC_VERSION,
        "id": f"{case_id}:{event.originator_version}",
        "source": CASES_SOURCE,
        "type": case_event_type(type(event).__name__),
        "subject": case_id,
        "time": event.timestamp.isoformat(),
        "datacontenttype": "application/json",
        "simpulsequence": sequence,
        "simpulversion": event.originator_version,
        "data": {"actor": dict(event.actor), **published(recorded_fields(event))},
    }


def agency_cloud_event(
    message: AgencyMessage, event: Case.Event, index: int, sequence: int
) -> dict[str, Any]:
    """One message for one agency's topic; ``index`` numbers it among its stored event's."""
    case_id = str(event.originator_id)
    return {
        "specversion": SPEC_VERSION,
        "id": f"{case_id}:{event.originator_version}:{message.agency}:{index}",
        "source": agency_source(message.agency),
        "type": agency_message_type(message.kind),
        "subject": case_id,
        "time": event.timestamp.isoformat(),
        "datacontenttype": "application/json",
        "simpulsequence": sequence,
        "simpulversion": event.originator_version,
        "data": message.data,
    }


# ---- What agency messages carry (their JSON Schemas are generated from these) -----------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _text(what: str, *paths: str) -> str:
    """The description of a free-text field, which an agency may receive as ""."""
    listed = " or ".join(f"`{path}`" for path in paths)
    return (
        f"{what} Free text, personal data until proven otherwise: an empty string when "
        f"none was recorded or when it is withheld from this agency, because its row of the "
        f"data-sharing matrix does not list {listed} or because personal data may not reach "
        "it yet (no informed consent, and no open emergency referral of this agency). A "
        "withheld text is never sent later."
    )


RETENTION = (
    "Retention: once the district's retention period has passed since `at` (in days: "
    "`x-simpul-retention` of the AsyncAPI document, by district; 90 unless the district's "
    "profile or the deployment sets another), remove this case's personal data from your "
    "system: its facts under the consent-gated paths (see your channel's description) and "
    "every free text of its messages. Simpul's own inbox of the agency does the same. A "
    "new referral sends what is needed again (`case.opened`)."
)


class ReportFacts(_Strict):
    """L1.1-L1.2, as far as the agency's row allows."""

    channel: vocab.Channel | None = None
    arrived_at: datetime | None = None
    chronology: str | None = Field(default=None, description="What happened, as told (kronologi).")
    needs: str | None = None
    documents: list[str] | None = None
    psychological_first_aid_needed: bool | None = None


class ClassificationFacts(_Strict):
    """L1.5 classification."""

    case_type: vocab.CaseType | None = None
    risk_level: vocab.RiskLevel | None = None
    jurisdiction: vocab.Jurisdiction | None = None
    emergency: bool | None = None
    forms_of_violence: list[vocab.FormOfViolence] | None = None
    ampk_categories: list[vocab.AmpkCategory] | None = None


class ConsentFacts(_Strict):
    """L1.9-10 informed consent."""

    given: bool | None = None
    given_by: vocab.ConsentGiver | None = None
    recorded_at: datetime | None = None


class CaseWorkerFacts(_Strict):
    """L1.7: whom to contact at the coordinating office."""

    user_id: str | None = None


class AssessmentFact(_Strict):
    kind: vocab.AssessmentKind
    assessing_agency: vocab.Agency
    findings: str
    recommended_services: list[vocab.ServiceType]
    recorded_at: datetime


class AssessmentFacts(_Strict):
    """L2.1-L2.3 findings, by the condition assessed (only the agency's domains)."""

    physical: list[AssessmentFact] | None = None
    psychological: list[AssessmentFact] | None = None
    social_spiritual: list[AssessmentFact] | None = None
    legal: list[AssessmentFact] | None = None


class CaseReportFacts(_Strict):
    summary: str | None = None
    needs: list[vocab.ServiceType] | None = None


class PlannedServiceFact(_Strict):
    service_type: vocab.ServiceType
    agency: vocab.Agency


class PlanFacts(_Strict):
    goals: list[str] | None = None
    services: list[PlannedServiceFact] | None = None


class CaseFacts(_Strict):
    """What the agency may know of the case: its matrix row, consent-gated."""

    report: ReportFacts | None = None
    victim: dict[str, Any] | None = Field(default=None, description="As recorded at intake.")
    reporter: dict[str, Any] | None = None
    reported_person: dict[str, Any] | None = None
    incident: dict[str, Any] | None = None
    classification: ClassificationFacts | None = None
    consent: ConsentFacts | None = None
    case_worker: CaseWorkerFacts | None = None
    assessments: AssessmentFacts | None = None
    case_report: CaseReportFacts | None = None
    intervention_plan: PlanFacts | None = None


class CaseRef(_Strict):
    case_id: UUID = Field(description="The case id; also the message key and subject.")
    district: str = Field(description="The district whose UPTD PPA coordinates the case.")
    register_number: str = Field(description="The case's number in the district's register.")


class CaseSnapshot(CaseRef):
    """The case facts this agency may see, whole: replace what you held."""

    facts: CaseFacts


class ReferralReceived(CaseRef):
    """L4.1: a referral to this agency, with its due time from the district's time standard."""

    referral_id: str
    service_type: vocab.ServiceType
    emergency: bool
    due_at: datetime
    referred_at: datetime
    notes: str = Field(description=_text("The referral's notes.", "referral.notes"))
    referral_record_ref: str = Field(
        description=_text(
            "The referral record's number (Berita Acara Rujukan).", "referral.record_ref"
        )
    )


class ReferralUpdated(CaseRef):
    """A referral of this agency changed status (accepted, declined, delivered, cancelled)."""

    referral_id: str
    status: vocab.ReferralStatus
    at: datetime
    notes: str | None = Field(
        default=None,
        description=_text("With `accepted`: the acceptance's notes.", "referral.acceptance_notes"),
    )
    reason: str | None = Field(
        default=None,
        description=_text(
            "With `declined`: why the agency declined; with `cancelled`: why the office "
            "withdrew it.",
            "referral.decline_reason",
            "referral.cancel_reason",
        ),
    )
    outcome: vocab.DeliveryOutcome | None = None
    delivered_on: str | None = Field(
        default=None,
        description="With a delivery: the day delivered (YYYY-MM-DD); an empty string when "
        "what was recorded is not a date.",
    )
    summary: str | None = Field(
        default=None,
        description=_text("With a delivery: what was delivered.", "referral.delivery_summary"),
    )


class FinalReferral(_Strict):
    referral_id: str
    status: vocab.ReferralStatus


class CaseHandedOver(CaseRef):
    __doc__ = (
        "Routing b, c, d: the case is handed over to this agency. The last message for it.\n\n"
        + RETENTION
    )

    target: vocab.HandoverTarget
    receiving_unit: str = Field(
        description=_text("The unit that receives the case.", "handover.receiving_unit")
    )
    notes: str = Field(description=_text("The handover's notes.", "handover.notes"))
    at: datetime
    referrals: list[FinalReferral]


class HandoverUpdated(CaseRef):
    __doc__ = (
        "L1.5 b-d: this agency acknowledged the case handed over to it, or handed it back "
        "(its officer, or the office's coordinator on its behalf). A hand-back is the last "
        "message of the case for this agency.\n\n" + RETENTION
    )

    target: vocab.HandoverTarget
    status: str = Field(
        description="acknowledged or handed_back", pattern="^(acknowledged|handed_back)$"
    )
    at: datetime
    receiving_unit: str | None = Field(
        default=None,
        description=_text(
            "With an acknowledgement: the unit now handling the case.", "handover.receiving_unit"
        ),
    )
    taken_by: str | None = Field(
        default=None,
        description=_text(
            "With an acknowledgement: who now handles the case.", "handover.taken_by"
        ),
    )
    notes: str | None = Field(
        default=None,
        description=_text("With an acknowledgement: its notes.", "handover.acknowledgement_notes"),
    )
    reason: str | None = Field(
        default=None,
        description=_text(
            "With a hand-back: why the case was returned.", "handover.handback_reason"
        ),
    )


class CaseClosed(CaseRef):
    __doc__ = (
        "This agency's part in the case ended; nothing more follows unless it is referred "
        "again.\n\n" + RETENTION
    )

    reason: str = Field(
        description="referrals_settled, case_terminated or case_handed_over",
        pattern="^(referrals_settled|case_terminated|case_handed_over)$",
    )
    at: datetime
    referrals: list[FinalReferral] = Field(description="Final status of its referrals on the case.")


class DocumentShared(CaseRef):
    """A document this agency may fetch was attached to the case (its matrix row lists the
    kind). The content is fetched from the API, where the read is recorded:
    GET /api/v1/agencies/{agency}/cases/{case_id}/documents/{document_id}."""

    document_id: UUID
    kind: str = Field(description="What the document is, e.g. visum_et_repertum.")
    step: str = Field(description="The SOP step it was attached at; empty for the case.")
    media_type: str = Field(description="Its type, as its content shows.")
    size: int = Field(ge=0, description="Bytes.")
    sha256: str = Field(
        pattern="^[0-9a-f]{64}$", description="SHA-256 of the content: check what you fetch."
    )
    attached_at: datetime


class BeneficiaryShared(CaseRef):
    """A beneficiary added to the case (a sibling, one of a family or group) whom one of this
    agency's referrals is for: a full snapshot of what the agency may know of them, to
    replace what it held under the same ``beneficiary_id``."""

    beneficiary_id: str = Field(
        pattern="^[0-9]{1,4}$",
        description="The beneficiary's number in the case: the report's victim is 1, added "
        "beneficiaries 2, 3, ...",
    )
    referral_ids: list[str] = Field(
        description="This agency's referrals (referral.received's referral_id) that are for "
        "this beneficiary."
    )
    child: bool = Field(description="A child: consent is given by a parent or guardian.")
    relationship: str = Field(
        description=_text("How the beneficiary relates to the report's victim.", "victim.*")
    )
    person: dict[str, Any] = Field(
        description="Who the beneficiary is, as recorded: only the keys this agency's row "
        "lists under victim, and none before this beneficiary's informed consent (unless the "
        "agency holds an open emergency referral for them)."
    )


AGENCY_DATA_MODELS: dict[str, type[BaseModel]] = {
    CASE_OPENED: CaseSnapshot,
    CASE_UPDATED: CaseSnapshot,
    REFERRAL_RECEIVED: ReferralReceived,
    REFERRAL_UPDATED: ReferralUpdated,
    CASE_HANDED_OVER: CaseHandedOver,
    CASE_CLOSED: CaseClosed,
    HANDOVER_UPDATED: HandoverUpdated,
    DOCUMENT_SHARED: DocumentShared,
    BENEFICIARY_SHARED: BeneficiaryShared,
}

AGENCY_DESCRIPTIONS = {
    CASE_OPENED: "The case is now open to this agency: a snapshot of the facts it may know.",
    CASE_UPDATED: "Facts the agency may know changed (e.g. consent released personal data): "
    "a full new snapshot.",
    REFERRAL_RECEIVED: "A referral to this agency (L4.1), with its due time.",
    REFERRAL_UPDATED: "A referral of this agency changed status.",
    CASE_HANDED_OVER: "The case was handed over to this agency (routing b, c, d): the last "
    "snapshot of its facts; only `handover.updated` (its own acknowledgement or hand-back) "
    "follows. Where the victim's identity is withheld (no informed consent yet), contact "
    "the district's coordinating office quoting the register number. Its personal data is "
    "kept for the district's retention period from `at`, then removed.",
    HANDOVER_UPDATED: "This agency acknowledged the case handed over to it, or handed it "
    "back (L1.5 b-d).",
    CASE_CLOSED: "The agency's part in the case ended; nothing more follows for it unless the "
    "case is referred to the agency again. Its personal data is kept for the district's "
    "retention period from `at`, then removed.",
    DOCUMENT_SHARED: "A document this agency may fetch (its row of the data-sharing matrix "
    "lists the kind) was attached to a case open to it: its id, kind, step, type, size and "
    "SHA-256; fetch it from the API, where the read is recorded.",
    BENEFICIARY_SHARED: "A beneficiary added to a case open to this agency (a sibling, one of a "
    "family or group) whom one of its referrals is for: who they are, as far as its row of the "
    "data-sharing matrix and that beneficiary's consent allow.",
}
