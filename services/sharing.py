"""What each agency may learn of a case, and when: the data-sharing policy.

The SOPs demand that an agency receives only what it needs for the services
referred to it (shared/domain.md, "Principles"). This module decides, for one
recorded case event and the case's sharing state so far, which messages each
agency receives and with which fields. It is pure: the relay feeds it the
case's events in order and publishes what it returns, a rebuild feeds it the
same events and gets the same messages.

The rules:

- An agency hears of a case only when the case is referred or handed over to
  it. It then gets ``case.opened``: a snapshot of the case facts its row of the
  matrix allows. Later changes to those facts arrive as ``case.updated``
  snapshots (a correction of the intake's facts, B4 / K-O2, among them); changes
  it may not see cause no message at all, so even the timing of messages reveals
  nothing outside its row.
- Personal data (the matrix's ``consent.gated`` paths) reaches no agency before
  the beneficiary's informed consent, except an agency holding an open emergency
  referral (routing rule e). Consent, when it comes, sends the withheld facts as
  a ``case.updated``.
- Its own referrals arrive as ``referral.received`` and ``referral.updated``.
- The free text those messages carry (a referral's notes and record reference,
  the notes of its acceptance, the reason it was declined or cancelled, the
  summary of what was delivered, a handover's notes and receiving unit) is
  personal data until proven otherwise: the agency receives a text only where
  its row lists it and personal data may reach it at that moment; otherwise the
  field is an empty string. A withheld text is not sent later.
- When its last open referral on the case settles, or the case is terminated or
  handed over elsewhere, the agency gets one ``case.closed`` and then nothing
  more, unless the case is referred to it again (a new ``case.opened``).
- The agency a case is handed over to gets ``case.handed_over`` as its final
  message: the case leaves Simpul for that agency's own handling.

How long an agency keeps what it was sent is ``AgencyRetention``: the personal
data of a case (the gated facts, every message text) is removed from an
agency's inbox once the district's retention period has passed since the
agency's part in the case closed (``case.closed`` or ``case.handed_over``).
"""

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, singledispatchmethod
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from domain.case import Case, referral_status_after, serves_only_added_beneficiaries
from domain.events import recorded_fields
from domain.sharing_matrix import (
    BENEFICIARY_SHARED,
    CASE_CLOSED,
    CASE_HANDED_OVER,
    CASE_OPENED,
    CASE_UPDATED,
    DOCUMENT_SHARED,
    FACT_GROUPS,
    HANDOVER_UPDATED,
    REFERRAL_RECEIVED,
    REFERRAL_UPDATED,
    MatrixError,
    SharingMatrix,
    parse_matrix,
)
from domain.vocabulary import (
    HANDOVER_AGENCY,
    SETTLED_REFERRAL_STATUSES,
    HandoverTarget,
    ReferralStatus,
)
from services.profiles import ProfileBook, load_profiles

SETTLED = frozenset(status.value for status in SETTLED_REFERRAL_STATUSES)

# The report's victim is beneficiary "1"; the facts about her alone (who she is, what the
# assessments found) never reach an agency referred only for a beneficiary added later.
# An added beneficiary's own facts (beneficiary.shared) reach only the agencies whose
# referrals name them, through their row's victim paths.
FIRST_VICTIM = "1"
FIRST_VICTIM_FACT_GROUPS = frozenset({"victim", "assessments"})

# What a referral's move tells its agency: the event's fields, each with the matrix key
# of its text under "referral", or None for a field that is not free text. Listed, not
# copied from the event, so a field added to an event later reaches no agency unread.
REFERRAL_MOVE_FIELDS: dict[type[Case.Event], dict[str, str | None]] = {
    Case.ReferralAccepted: {"notes": "acceptance_notes"},
    Case.ReferralDeclined: {"reason": "decline_reason"},
    Case.ServiceDelivered: {"outcome": None, "delivered_on": None, "summary": "delivery_summary"},
    Case.ReferralCancelled: {"reason": "cancel_reason"},
}


def load_matrix(path: Path | None = None) -> SharingMatrix:
    """The bundled matrix (domain/sop/sharing.toml), or the file at ``path`` instead."""
    try:
        if path is not None:
            with path.open("rb") as file:
                return parse_matrix(tomllib.load(file))
        bundled = resources.files("domain.sop") / "sharing.toml"
        return parse_matrix(tomllib.loads(bundled.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as error:
        raise MatrixError(f"sharing matrix: {error}") from None


# ---- How long an agency keeps a case's personal data --------------------------------------------

# The free text an agency's inbox holds of a referral: its own fields (referral.received),
# and the keys of its status changes' details that are text (referral.updated).
REFERRAL_TEXT_FIELDS = ("notes", "referral_record_ref")
REFERRAL_DETAIL_TEXTS = frozenset(
    name
    for fields in REFERRAL_MOVE_FIELDS.values()
    for name, text_key in fields.items()
    if text_key is not None
)


@dataclass(frozen=True)
class AgencyRetention:
    """When an agency's inbox must no longer hold a case's personal data.

    The personal data are the facts under the matrix's gated paths and every free
    text of the messages (the same things withheld before consent). They go once
    the district's retention period has passed since the agency's part in the
    case closed; what is not personal (classification, consent given, statuses,
    due times) stays, for the agency's own accounting.
    """

    matrix: SharingMatrix
    days_by_district: Mapping[str, int]
    default_days: int

    @classmethod
    def of(cls, matrix: SharingMatrix, profiles: ProfileBook) -> "AgencyRetention":
        return cls(
            matrix,
            {
                district: profiles.profile(district).agency_personal_data_retention_days
                for district in profiles.districts()
            },
            profiles.default_retention_days,
        )

    def days(self, district: str) -> int:
        return self.days_by_district.get(district, self.default_days)

    def personal_data_until(self, district: str, part_closed_at: datetime) -> datetime:
        """When the personal data of a part that closed at ``part_closed_at`` must be gone."""
        return part_closed_at + timedelta(days=self.days(district))

    def is_due(self, district: str, part_closed_at: datetime | None, now: datetime) -> bool:
        return part_closed_at is not None and now >= self.personal_data_until(
            district, part_closed_at
        )

    def impersonal_facts(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return self.matrix.impersonal_facts(facts)

    def impersonal_details(self, details: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in details.items() if key not in REFERRAL_DETAIL_TEXTS}


@cache
def bundled_retention() -> AgencyRetention:
    """The bundled matrix and district profiles, nothing overridden (for tests and tools)."""
    return AgencyRetention.of(load_matrix(), load_profiles())


# ---- What the policy returns and remembers ----------------------------------------------------


@dataclass(frozen=True)
class AgencyMessage:
    """A message for one agency's topic; ``data`` holds only what its matrix row allows."""

    agency: str
    kind: str
    data: dict[str, Any]


@dataclass
class ReferralShare:
    referral_id: str
    agency: str
    service_type: str
    status: str
    emergency: bool

    @property
    def is_open(self) -> bool:
        return self.status not in SETTLED


@dataclass
class BeneficiaryShare:
    """An added beneficiary as the policy remembers them: who, and their own consent."""

    person: dict[str, Any]
    relationship: str
    child: bool
    consent_given: bool = False


@dataclass
class CaseSharing:
    """What the policy remembers of one case: its facts, referrals and who has been told what."""

    case_id: str
    version: int = 0
    district: str = ""
    register_number: str = ""
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    consent_given: bool = False
    referrals: dict[str, ReferralShare] = field(default_factory=dict)
    # Agencies the case is open to now, with the facts snapshot they were last sent.
    open_to: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The agency the case was last handed over to, until it hands the case back.
    handed_over_to: str | None = None
    handover_target: str = ""
    # What each attached document is (never its content), and which agencies were told.
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents_told: dict[str, set[str]] = field(default_factory=dict)
    # Letters about one referral, by their PDF's hash: that referral's agency's alone.
    referral_letters: dict[str, str] = field(default_factory=dict)
    # Whom each referral is for, where named (Case.ReferralBeneficiariesNamed); unnamed: "1".
    referral_beneficiaries: dict[str, frozenset[str]] = field(default_factory=dict)
    # Beneficiaries added after the report's victim, and what each agency was last told of them.
    beneficiaries: dict[str, BeneficiaryShare] = field(default_factory=dict)
    beneficiaries_told: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def referrals_for(self, agency: str, beneficiary_id: str) -> list[str]:
        """The agency's referrals that are for this beneficiary (unnamed ones: the victim's)."""
        return [
            r.referral_id
            for r in self.referrals.values()
            if r.agency == agency
            and beneficiary_id
            in self.referral_beneficiaries.get(r.referral_id, frozenset({FIRST_VICTIM}))
        ]

    def serves_only_added_beneficiaries(self, agency: str) -> bool:
        """Referred to the agency, and only for beneficiaries added after the report's victim."""
        return serves_only_added_beneficiaries(
            agency,
            {r.referral_id: r.agency for r in self.referrals.values()},
            self.referral_beneficiaries,
        )

    def open_referrals(self, agency: str) -> list[ReferralShare]:
        return [r for r in self.referrals.values() if r.agency == agency and r.is_open]

    def final_referrals(self, agency: str) -> list[dict[str, str]]:
        return [
            {"referral_id": r.referral_id, "status": r.status}
            for r in self.referrals.values()
            if r.agency == agency
        ]


_JSON: TypeAdapter[Any] = TypeAdapter(Any)


def published(value: Any) -> Any:
    """A recorded value as agency messages carry it: JSON-safe (datetimes in ISO 8601)."""
    return _JSON.dump_python(value, mode="json")


Messages = list[AgencyMessage]


# ---- The policy ------------------------------------------------------------------------------


class SharingPolicy:
    """Turns a case's events, in order, into the messages each agency may receive."""

    def __init__(self, matrix: SharingMatrix) -> None:
        self.matrix = matrix

    def new_case(self, case_id: str) -> CaseSharing:
        return CaseSharing(case_id=case_id)

    def replay(self, case_id: str, events: Iterable[Case.Event]) -> CaseSharing:
        """The sharing state after the given events (their messages discarded)."""
        state = self.new_case(case_id)
        for event in events:
            self.share(state, event)
        return state

    def share(self, state: CaseSharing, event: Case.Event) -> list[AgencyMessage]:
        """Apply one event to ``state`` and return the agency messages it causes, in order."""
        if event.originator_version != state.version + 1:
            raise ValueError(
                f"case {state.case_id}: event version {event.originator_version} does not "
                f"follow {state.version}"
            )
        state.version = event.originator_version
        messages: Messages = []
        _dispatch(type(event))(self, event, state, messages)
        self._send_changed_facts(state, messages)
        self._send_shareable_documents(state, messages)
        self._send_served_beneficiaries(state, messages)
        return [m for m in messages if m.kind in self.matrix.rows[m.agency].messages]

    @singledispatchmethod
    def _on(self, event: Case.Event, state: CaseSharing, messages: Messages) -> None:
        """Events that neither change a fact an agency may see nor bring one in: no message.

        Among them a shelter stay (T4d) and a social reintegration (K-I1-K-I8): where a
        victim shelters and where she goes next is what a perpetrator looks for, so it
        stays with the case team. The social office running a shelter referred to it
        hears of that referral and its delivery; where it coordinates (Tanjungpinang,
        Kutai Timur) its officers are the case team and read the case file.
        """

    # ---- Facts: what the case knows, kept for agencies that may later be told ----------------

    @_on.register(Case.ReportReceived)
    def _report_received(
        self, event: Case.ReportReceived, state: CaseSharing, messages: Messages
    ) -> None:
        state.district = event.district
        state.register_number = event.register_number
        state.facts["report"] = {
            "channel": event.channel,
            "arrived_at": published(event.arrived_at),
            "chronology": event.chronology,
            "needs": event.needs,
            "documents": list(event.documents),
            "psychological_first_aid_needed": event.psychological_first_aid_needed,
        }
        state.facts["victim"] = published(event.victim)
        state.facts["reporter"] = published(event.reporter)
        state.facts["reported_person"] = published(event.reported_person)
        state.facts["incident"] = published(event.incident)

    @_on.register(Case.FactsCorrected)
    def _facts_corrected(
        self, event: Case.FactsCorrected, state: CaseSharing, messages: Messages
    ) -> None:
        # The new values replace the old in the facts; ``_send_changed_facts`` then sends
        # ``case.updated`` to exactly the agencies whose visible snapshot changed: those
        # whose row holds a corrected fact and who may see it now (the consent gate).
        for correction in event.corrections:
            group = state.facts.setdefault(correction["group"], {})
            group[correction["key"]] = published(correction["value"])

    @_on.register(Case.RiskClassified)
    def _risk_classified(
        self, event: Case.RiskClassified, state: CaseSharing, messages: Messages
    ) -> None:
        recorded = published(recorded_fields(event))
        keys = FACT_GROUPS["classification"] or frozenset()
        state.facts["classification"] = {key: recorded[key] for key in sorted(keys)}

    @_on.register(Case.ConsentRecorded)
    def _consent_recorded(
        self, event: Case.ConsentRecorded, state: CaseSharing, messages: Messages
    ) -> None:
        state.consent_given = bool(event.given)
        state.facts["consent"] = {
            "given": bool(event.given),
            "given_by": event.given_by,
            "recorded_at": _iso(event.timestamp),
        }

    @_on.register(Case.DocumentAttached)
    def _document_attached(
        self, event: Case.DocumentAttached, state: CaseSharing, messages: Messages
    ) -> None:
        # Told by ``_send_shareable_documents`` to each agency that may fetch it, now or
        # once it may (referred later, consent given later).
        state.documents[event.document_id] = {
            "document_id": event.document_id,
            "kind": event.kind,
            "step": event.step,
            "media_type": event.media_type,
            "size": event.size,
            "sha256": event.sha256,
            "attached_at": _iso(event.timestamp),
        }

    @_on.register(Case.LetterIssued)
    def _letter_issued(
        self, event: Case.LetterIssued, state: CaseSharing, messages: Messages
    ) -> None:
        if event.referral_id:
            state.referral_letters[event.sha256] = event.referral_id

    @_on.register(Case.CaseWorkerAssigned)
    def _case_worker_assigned(
        self, event: Case.CaseWorkerAssigned, state: CaseSharing, messages: Messages
    ) -> None:
        state.facts["case_worker"] = {"user_id": event.case_worker_id}

    @_on.register(Case.AssessmentRecorded)
    def _assessment_recorded(
        self, event: Case.AssessmentRecorded, state: CaseSharing, messages: Messages
    ) -> None:
        assessments = state.facts.setdefault("assessments", {})
        assessments.setdefault(event.domain, []).append(
            {
                "kind": event.kind,
                "assessing_agency": event.assessing_agency,
                "findings": event.findings,
                "recommended_services": list(event.recommended_services),
                "recorded_at": _iso(event.timestamp),
            }
        )

    @_on.register(Case.CaseReportConcluded)
    def _case_report_concluded(
        self, event: Case.CaseReportConcluded, state: CaseSharing, messages: Messages
    ) -> None:
        state.facts["case_report"] = {"summary": event.summary, "needs": list(event.needs)}

    @_on.register(Case.InterventionPlanAgreed)
    def _intervention_plan_agreed(
        self, event: Case.InterventionPlanAgreed, state: CaseSharing, messages: Messages
    ) -> None:
        state.facts["intervention_plan"] = {
            "goals": list(event.goals),
            "services": [dict(service) for service in event.services],
        }

    # ---- Referrals: what brings an agency in, and what lets it go -----------------------------

    @_on.register(Case.ReferralBeneficiariesNamed)
    def _referral_beneficiaries_named(
        self, event: Case.ReferralBeneficiariesNamed, state: CaseSharing, messages: Messages
    ) -> None:
        state.referral_beneficiaries[event.referral_id] = frozenset(event.beneficiary_ids)

    @_on.register(Case.BeneficiaryAdded)
    def _beneficiary_added(
        self, event: Case.BeneficiaryAdded, state: CaseSharing, messages: Messages
    ) -> None:
        state.beneficiaries[event.beneficiary_id] = BeneficiaryShare(
            person=dict(event.person), relationship=event.relationship, child=bool(event.child)
        )

    @_on.register(Case.BeneficiaryConsentRecorded)
    def _beneficiary_consent_recorded(
        self, event: Case.BeneficiaryConsentRecorded, state: CaseSharing, messages: Messages
    ) -> None:
        state.beneficiaries[event.beneficiary_id].consent_given = bool(event.given)

    @_on.register(Case.Referred)
    def _referred(self, event: Case.Referred, state: CaseSharing, messages: Messages) -> None:
        agency = event.agency
        state.referrals[event.referral_id] = ReferralShare(
            referral_id=event.referral_id,
            agency=agency,
            service_type=event.service_type,
            status=ReferralStatus.PENDING.value,
            emergency=bool(event.emergency),
        )
        if agency not in self.matrix.rows:
            return
        if agency not in state.open_to:
            self._open(state, agency, messages)
        # The referral is on the state already: an emergency one lets its own notes through.
        personal = self._may_see_personal(state, agency)
        messages.append(
            AgencyMessage(
                agency,
                REFERRAL_RECEIVED,
                {
                    **self._case_ref(state),
                    "referral_id": event.referral_id,
                    "service_type": event.service_type,
                    "emergency": bool(event.emergency),
                    "due_at": published(event.due_at),
                    "referred_at": _iso(event.timestamp),
                    "notes": self._text(agency, "referral", "notes", event.notes, personal),
                    "referral_record_ref": self._text(
                        agency, "referral", "record_ref", event.referral_record_ref, personal
                    ),
                },
            )
        )

    @_on.register(Case.ReferralAccepted)
    @_on.register(Case.ReferralDeclined)
    @_on.register(Case.ServiceDelivered)
    @_on.register(Case.ReferralCancelled)
    def _referral_moved(self, event: Case.Event, state: CaseSharing, messages: Messages) -> None:
        moved = referral_status_after(event)
        assert moved is not None, "only referral events change a referral"
        referral_id, new_status = moved
        referral = state.referrals[referral_id]
        agency = referral.agency
        # Judged before the move: the texts of the move that settles an emergency
        # referral reach the agency that held it, as the referral's own did.
        personal = self._may_see_personal(state, agency)
        referral.status = new_status.value
        if agency not in state.open_to:
            return
        recorded = recorded_fields(event)
        details: dict[str, Any] = {}
        for name, text_key in REFERRAL_MOVE_FIELDS[type(event)].items():
            value = recorded[name]
            if text_key is not None:
                details[name] = self._text(agency, "referral", text_key, value, personal)
            elif name == "delivered_on":
                details[name] = _date_or_withheld(value)
            else:
                details[name] = value
        messages.append(
            AgencyMessage(
                agency,
                REFERRAL_UPDATED,
                {
                    **self._case_ref(state),
                    "referral_id": referral.referral_id,
                    "status": referral.status,
                    "at": _iso(event.timestamp),
                    **details,
                },
            )
        )
        if not state.open_referrals(agency):
            self._close(state, agency, "referrals_settled", event, messages)

    @_on.register(Case.HandedOver)
    def _handed_over(self, event: Case.HandedOver, state: CaseSharing, messages: Messages) -> None:
        handed_to = HANDOVER_AGENCY.get(HandoverTarget(event.target))
        receiver = handed_to.value if handed_to is not None else None
        # Judged before the handover ends the receiver's own referrals, as for a referral move.
        personal = receiver is not None and self._may_see_personal(state, receiver)
        self._cancel_open_referrals(state)
        for agency in list(state.open_to):
            if agency != receiver:
                self._close(state, agency, "case_handed_over", event, messages)
        if receiver is None or receiver not in self.matrix.rows:
            return
        if receiver not in state.open_to:
            self._open(state, receiver, messages)
        messages.append(
            AgencyMessage(
                receiver,
                CASE_HANDED_OVER,
                {
                    **self._case_ref(state),
                    "target": event.target,
                    "receiving_unit": self._text(
                        receiver, "handover", "receiving_unit", event.receiving_unit, personal
                    ),
                    "notes": self._text(receiver, "handover", "notes", event.notes, personal),
                    "at": _iso(event.timestamp),
                    "referrals": state.final_referrals(receiver),
                },
            )
        )
        del state.open_to[receiver]
        state.handed_over_to = receiver
        state.handover_target = event.target

    @_on.register(Case.HandoverAcknowledged)
    def _handover_acknowledged(
        self, event: Case.HandoverAcknowledged, state: CaseSharing, messages: Messages
    ) -> None:
        receiver = state.handed_over_to
        if receiver is None or receiver not in self.matrix.rows:
            return
        personal = state.consent_given
        messages.append(
            self._handover_updated(
                receiver,
                state,
                event,
                "acknowledged",
                receiving_unit=self._text(
                    receiver, "handover", "receiving_unit", event.receiving_unit, personal
                ),
                taken_by=self._text(receiver, "handover", "taken_by", event.taken_by, personal),
                notes=self._text(
                    receiver, "handover", "acknowledgement_notes", event.notes, personal
                ),
            )
        )

    @_on.register(Case.HandedBack)
    def _handed_back(self, event: Case.HandedBack, state: CaseSharing, messages: Messages) -> None:
        receiver = state.handed_over_to
        state.handed_over_to = None
        if receiver is None or receiver not in self.matrix.rows:
            return
        reason = self._text(
            receiver, "handover", "handback_reason", event.reason, state.consent_given
        )
        messages.append(
            self._handover_updated(receiver, state, event, "handed_back", reason=reason)
        )

    def _handover_updated(
        self, receiver: str, state: CaseSharing, event: Case.Event, status: str, **texts: str
    ) -> AgencyMessage:
        # The receiver's own answer, back on its topic; its texts pass the consent gate
        # like a referral's answers do (a withheld one is an empty string).
        return AgencyMessage(
            receiver,
            HANDOVER_UPDATED,
            {
                **self._case_ref(state),
                "target": state.handover_target,
                "status": status,
                "at": _iso(event.timestamp),
                **texts,
            },
        )

    @_on.register(Case.Terminated)
    def _terminated(self, event: Case.Terminated, state: CaseSharing, messages: Messages) -> None:
        self._cancel_open_referrals(state)
        for agency in list(state.open_to):
            self._close(state, agency, "case_terminated", event, messages)

    # ---- Shared moves ----------------------------------------------------------------------

    def _case_ref(self, state: CaseSharing) -> dict[str, Any]:
        return {
            "case_id": state.case_id,
            "district": state.district,
            "register_number": state.register_number,
        }

    def _may_see_personal(self, state: CaseSharing, agency: str) -> bool:
        if any(r.emergency for r in state.open_referrals(agency)):
            return True
        if state.serves_only_added_beneficiaries(agency):
            # L1.9-10: the agency serves siblings only, so their consent is what releases
            # the case's facts to it, not the report's victim's.
            return any(
                beneficiary.consent_given and state.referrals_for(agency, beneficiary_id)
                for beneficiary_id, beneficiary in state.beneficiaries.items()
            )
        return state.consent_given

    def _may_see_beneficiary(self, state: CaseSharing, agency: str, beneficiary_id: str) -> bool:
        if state.beneficiaries[beneficiary_id].consent_given:
            return True
        for_them = set(state.referrals_for(agency, beneficiary_id))
        return any(r.emergency and r.referral_id in for_them for r in state.open_referrals(agency))

    def _beneficiary_snapshot(
        self, state: CaseSharing, agency: str, beneficiary_id: str
    ) -> dict[str, Any]:
        beneficiary = state.beneficiaries[beneficiary_id]
        personal = self._may_see_beneficiary(state, agency, beneficiary_id)
        # Each added beneficiary is shown through the row's victim paths: the same fields the
        # agency may know of the report's victim, for the person its referral is for.
        person = self.matrix.visible_facts(
            agency, {"victim": beneficiary.person}, personal=personal
        ).get("victim", {})
        relationship = beneficiary.relationship if personal and person else ""
        return {
            "beneficiary_id": beneficiary_id,
            "referral_ids": state.referrals_for(agency, beneficiary_id),
            "child": beneficiary.child,
            "relationship": relationship,
            "person": person,
        }

    def _text(self, agency: str, group: str, key: str, text: str, personal: bool) -> str:
        return self.matrix.shared_text(agency, group, key, text, personal=personal)

    def _snapshot(self, state: CaseSharing, agency: str) -> dict[str, Any]:
        facts = state.facts
        if state.serves_only_added_beneficiaries(agency):
            # An agency serving a sibling learns nothing of the first victim herself.
            facts = {g: v for g, v in facts.items() if g not in FIRST_VICTIM_FACT_GROUPS}
        return self.matrix.visible_facts(
            agency, facts, personal=self._may_see_personal(state, agency)
        )

    def _open(self, state: CaseSharing, agency: str, messages: Messages) -> None:
        # The referral is recorded on the state before this, so an emergency one counts.
        snapshot = self._snapshot(state, agency)
        state.open_to[agency] = snapshot
        messages.append(
            AgencyMessage(agency, CASE_OPENED, {**self._case_ref(state), "facts": snapshot})
        )

    def _send_changed_facts(self, state: CaseSharing, messages: Messages) -> None:
        for agency, sent in state.open_to.items():
            snapshot = self._snapshot(state, agency)
            if snapshot != sent:
                state.open_to[agency] = snapshot
                messages.append(
                    AgencyMessage(
                        agency, CASE_UPDATED, {**self._case_ref(state), "facts": snapshot}
                    )
                )

    def _send_shareable_documents(self, state: CaseSharing, messages: Messages) -> None:
        # The rule the agency's download follows (services/documents.py): its row lists the
        # kind, the case is open to it, and consent was given or it holds an open emergency
        # referral.
        if not state.documents:
            return
        for agency in state.open_to:
            kinds = self.matrix.rows[agency].documents
            if (
                not kinds
                or not self._may_see_personal(state, agency)
                or state.serves_only_added_beneficiaries(agency)
            ):
                continue
            told = state.documents_told.setdefault(agency, set())
            for document_id, document in state.documents.items():
                about = state.referral_letters.get(document["sha256"])
                if about is not None and state.referrals[about].agency != agency:
                    continue
                if document["kind"] in kinds and document_id not in told:
                    told.add(document_id)
                    messages.append(
                        AgencyMessage(
                            agency, DOCUMENT_SHARED, {**self._case_ref(state), **document}
                        )
                    )

    def _send_served_beneficiaries(self, state: CaseSharing, messages: Messages) -> None:
        if not state.beneficiaries:
            return
        for agency in state.open_to:
            told = state.beneficiaries_told.setdefault(agency, {})
            for beneficiary_id in state.beneficiaries:
                if not state.referrals_for(agency, beneficiary_id):
                    continue
                snapshot = self._beneficiary_snapshot(state, agency, beneficiary_id)
                if told.get(beneficiary_id) != snapshot:
                    told[beneficiary_id] = snapshot
                    messages.append(
                        AgencyMessage(
                            agency, BENEFICIARY_SHARED, {**self._case_ref(state), **snapshot}
                        )
                    )

    def _cancel_open_referrals(self, state: CaseSharing) -> None:
        # The domain ends open referrals with the case; the closing message tells the agency.
        for referral in state.referrals.values():
            if referral.is_open:
                referral.status = ReferralStatus.CANCELLED.value

    def _close(
        self, state: CaseSharing, agency: str, reason: str, event: Case.Event, messages: Messages
    ) -> None:
        del state.open_to[agency]
        # Opened again later, the agency is told of its beneficiaries afresh.
        state.beneficiaries_told.pop(agency, None)
        messages.append(
            AgencyMessage(
                agency,
                CASE_CLOSED,
                {
                    **self._case_ref(state),
                    "reason": reason,
                    "at": _iso(event.timestamp),
                    "referrals": state.final_referrals(agency),
                },
            )
        )


# The dispatcher itself: singledispatchmethod makes a bound wrapper on every access.
_dispatch = vars(SharingPolicy)["_on"].dispatcher.dispatch


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _date_or_withheld(recorded: str) -> str:
    # The API records a date here, but the event holds any text: only a date goes out.
    try:
        return date.fromisoformat(recorded).isoformat()
    except ValueError:
        return ""
