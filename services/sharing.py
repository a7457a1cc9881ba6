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
  snapshots; changes it may not see cause no message at all, so even the timing
  of messages reveals nothing outside its row.
- Personal data (the matrix's ``consent.gated`` paths) reaches no agency before
  the beneficiary's informed consent, except an agency holding an open emergency
  referral (routing rule e). Consent, when it comes, sends the withheld facts as
  a ``case.updated``.
- Its own referrals arrive as ``referral.received`` and ``referral.updated``.
- When its last open referral on the case settles, or the case is terminated or
  handed over elsewhere, the agency gets one ``case.closed`` and then nothing
  more, unless the case is referred to it again (a new ``case.opened``).
- The agency a case is handed over to gets ``case.handed_over`` as its final
  message: the case leaves Simpul for that agency's own handling.
"""

import copy
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from domain.case import Case
from domain.vocabulary import SETTLED_REFERRAL_STATUSES, Agency, AssessmentDomain, ReferralStatus

CASE_OPENED = "case.opened"
CASE_UPDATED = "case.updated"
REFERRAL_RECEIVED = "referral.received"
REFERRAL_UPDATED = "referral.updated"
CASE_HANDED_OVER = "case.handed_over"
CASE_CLOSED = "case.closed"
MESSAGE_KINDS = (
    CASE_OPENED,
    CASE_UPDATED,
    REFERRAL_RECEIVED,
    REFERRAL_UPDATED,
    CASE_HANDED_OVER,
    CASE_CLOSED,
)
# Without these an agency could not keep a consistent inbox, so no row may omit them.
REQUIRED_KINDS = frozenset({CASE_OPENED, REFERRAL_RECEIVED, CASE_HANDED_OVER, CASE_CLOSED})

# The case facts an agency may be shown, by group. None: free keys, as recorded at intake.
FACT_GROUPS: dict[str, frozenset[str] | None] = {
    "report": frozenset(
        {"channel", "arrived_at", "chronology", "needs", "documents",
         "psychological_first_aid_needed"}
    ),
    "victim": None,
    "reporter": None,
    "reported_person": None,
    "incident": None,
    "classification": frozenset(
        {"case_type", "risk_level", "jurisdiction", "emergency", "forms_of_violence",
         "ampk_categories"}
    ),
    "consent": frozenset({"given", "given_by", "recorded_at"}),
    "case_worker": frozenset({"user_id"}),
    "assessments": frozenset(domain.value for domain in AssessmentDomain),
    "case_report": frozenset({"summary", "needs"}),
    "intervention_plan": frozenset({"goals", "services"}),
}

HANDOVER_TARGET_AGENCY = {"patbm": "patbm", "social": "social", "province": "province"}
SETTLED = frozenset(status.value for status in SETTLED_REFERRAL_STATUSES)


class MatrixError(ValueError):
    """The sharing matrix is malformed; the message names the entry."""


# ---- The matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactPath:
    group: str
    key: str | None  # None: the whole group

    @classmethod
    def parse(cls, text: str, where: str) -> "FactPath":
        group, _, key = text.partition(".")
        if group not in FACT_GROUPS:
            known = ", ".join(sorted(FACT_GROUPS))
            raise MatrixError(f"{where}: unknown fact group {group!r} in {text!r}; known: {known}")
        if key in ("", "*"):
            return cls(group, None)
        allowed = FACT_GROUPS[group]
        if allowed is not None and key not in allowed:
            raise MatrixError(
                f"{where}: {text!r} is not a fact; {group} has: {', '.join(sorted(allowed))}"
            )
        return cls(group, key)

    def covers(self, group: str, key: str) -> bool:
        return self.group == group and (self.key is None or self.key == key)


@dataclass(frozen=True)
class AgencyRow:
    """One agency's row of the matrix: the message kinds and facts it receives."""

    agency: str
    messages: frozenset[str]
    facts: tuple[FactPath, ...]
    # Every fact of every message is checked against the row: answers are memoised.
    _allowed: dict[tuple[str, str], bool] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    def allows(self, group: str, key: str) -> bool:
        answer = self._allowed.get((group, key))
        if answer is None:
            answer = any(path.covers(group, key) for path in self.facts)
            self._allowed[(group, key)] = answer
        return answer


@dataclass(frozen=True)
class SharingMatrix:
    rows: Mapping[str, AgencyRow]
    consent_gated: tuple[FactPath, ...]
    _gated: dict[tuple[str, str], bool] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(self.rows)

    def row(self, agency: str) -> AgencyRow | None:
        return self.rows.get(agency)

    def is_gated(self, group: str, key: str) -> bool:
        answer = self._gated.get((group, key))
        if answer is None:
            answer = any(path.covers(group, key) for path in self.consent_gated)
            self._gated[(group, key)] = answer
        return answer

    def visible_facts(self, agency: str, facts: Mapping[str, Any], *, personal: bool) -> dict:
        """The facts this agency may see; ``personal``: whether gated facts may be included."""
        row = self.rows[agency]
        visible: dict[str, Any] = {}
        for group, values in facts.items():
            if not isinstance(values, Mapping):
                continue
            # Copies: the case's facts grow in place (assessments append to a list), and a
            # snapshot sharing those lists would change after it was sent, and compare
            # equal to the next one, so the change would never be sent.
            kept = {
                key: copy.deepcopy(value)
                for key, value in values.items()
                if row.allows(group, key) and (personal or not self.is_gated(group, key))
            }
            if kept:
                visible[group] = kept
        return visible


def parse_matrix(raw: Mapping[str, Any]) -> SharingMatrix:
    consent = raw.get("consent", {})
    gated = consent.get("gated") if isinstance(consent, Mapping) else None
    if not isinstance(gated, list):
        raise MatrixError("consent.gated must list the fact paths withheld before consent")
    agencies = raw.get("agencies")
    if not isinstance(agencies, Mapping) or not agencies:
        raise MatrixError("agencies must have one table per agency")
    known_agencies = {agency.value for agency in Agency} - {Agency.UPTD_PPA.value}
    rows = {}
    for agency, entry in agencies.items():
        where = f"agencies.{agency}"
        if agency not in known_agencies:
            raise MatrixError(f"{where}: not an agency that receives referrals")
        if not isinstance(entry, Mapping):
            raise MatrixError(f"{where}: must be a table")
        messages = entry.get("messages", list(MESSAGE_KINDS))
        unknown = set(messages) - set(MESSAGE_KINDS)
        if unknown:
            raise MatrixError(f"{where}.messages: unknown kinds {sorted(unknown)}")
        missing = REQUIRED_KINDS - set(messages)
        if missing:
            raise MatrixError(f"{where}.messages: must include {sorted(missing)}")
        facts = entry.get("facts")
        if not isinstance(facts, list):
            raise MatrixError(f"{where}.facts: must list fact paths")
        rows[agency] = AgencyRow(
            agency=agency,
            messages=frozenset(messages),
            facts=tuple(FactPath.parse(path, f"{where}.facts") for path in facts),
        )
    return SharingMatrix(
        rows=rows,
        consent_gated=tuple(FactPath.parse(path, "consent.gated") for path in gated),
    )


def load_matrix(path: Path | None = None) -> SharingMatrix:
    """The bundled matrix (services/sharing.toml), or the file at ``path`` instead."""
    try:
        if path is not None:
            with path.open("rb") as file:
                return parse_matrix(tomllib.load(file))
        bundled = resources.files("services") / "sharing.toml"
        return parse_matrix(tomllib.loads(bundled.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as error:
        raise MatrixError(f"sharing matrix: {error}") from None


# ---- What the policy reads and returns --------------------------------------------------------


@dataclass(frozen=True)
class CaseEvent:
    """One recorded case event, JSON-safe: what the policy reads."""

    case_id: str
    version: int
    type: str
    at: datetime
    data: Mapping[str, Any]
    actor: Mapping[str, str] = field(default_factory=dict)


EVENT_METADATA = frozenset(
    {"originator_id", "originator_version", "timestamp", "actor", "originator_topic"}
)
_JSON = TypeAdapter(dict[str, Any])


def case_event(event: Case.Event) -> CaseEvent:
    """A recorded domain event as the policy reads it: its own fields, JSON-safe."""
    data = {name: value for name, value in vars(event).items() if name not in EVENT_METADATA}
    return CaseEvent(
        case_id=str(event.originator_id),
        version=event.originator_version,
        type=type(event).__name__,
        at=event.timestamp,
        data=_JSON.dump_python(data, mode="json"),
        actor=dict(event.actor),
    )


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

    def open_referrals(self, agency: str) -> list[ReferralShare]:
        return [r for r in self.referrals.values() if r.agency == agency and r.is_open]

    def final_referrals(self, agency: str) -> list[dict[str, str]]:
        return [
            {"referral_id": r.referral_id, "status": r.status}
            for r in self.referrals.values()
            if r.agency == agency
        ]


# ---- The policy ------------------------------------------------------------------------------


class SharingPolicy:
    """Turns a case's events, in order, into the messages each agency may receive."""

    def __init__(self, matrix: SharingMatrix) -> None:
        self.matrix = matrix

    def new_case(self, case_id: str) -> CaseSharing:
        return CaseSharing(case_id=case_id)

    def replay(self, case_id: str, events: Iterable[CaseEvent]) -> CaseSharing:
        """The sharing state after the given events (their messages discarded)."""
        state = self.new_case(case_id)
        for event in events:
            self.share(state, event)
        return state

    def share(self, state: CaseSharing, event: CaseEvent) -> list[AgencyMessage]:
        """Apply one event to ``state`` and return the agency messages it causes, in order."""
        if event.version != state.version + 1:
            raise ValueError(
                f"case {state.case_id}: event version {event.version} does not follow "
                f"{state.version}"
            )
        state.version = event.version
        handler = getattr(self, f"_on_{event.type}", None)
        messages: list[AgencyMessage] = []
        if handler is not None:
            handler(state, event, messages)
        self._send_changed_facts(state, event, messages)
        return [m for m in messages if m.kind in self.matrix.rows[m.agency].messages]

    # ---- Facts: what the case knows, kept for agencies that may later be told ----------------

    def _on_ReportReceived(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        data = event.data
        state.district = data["district"]
        state.register_number = data["register_number"]
        state.facts["report"] = {
            "channel": data["channel"],
            "arrived_at": data["arrived_at"],
            "chronology": data["chronology"],
            "needs": data["needs"],
            "documents": list(data["documents"]),
            "psychological_first_aid_needed": data["psychological_first_aid_needed"],
        }
        for group in ("victim", "reporter", "reported_person", "incident"):
            state.facts[group] = dict(data[group])

    def _on_RiskClassified(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        keys = FACT_GROUPS["classification"] or frozenset()
        state.facts["classification"] = {key: event.data[key] for key in sorted(keys)}

    def _on_ConsentRecorded(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        state.consent_given = bool(event.data["given"])
        state.facts["consent"] = {
            "given": bool(event.data["given"]),
            "given_by": event.data["given_by"],
            "recorded_at": _iso(event.at),
        }

    def _on_CaseWorkerAssigned(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        state.facts["case_worker"] = {"user_id": event.data["case_worker_id"]}

    def _on_AssessmentRecorded(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        assessments = state.facts.setdefault("assessments", {})
        assessments.setdefault(event.data["domain"], []).append(
            {
                "kind": event.data["kind"],
                "assessing_agency": event.data["assessing_agency"],
                "findings": event.data["findings"],
                "recommended_services": list(event.data["recommended_services"]),
                "recorded_at": _iso(event.at),
            }
        )

    def _on_CaseReportConcluded(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        state.facts["case_report"] = {
            "summary": event.data["summary"],
            "needs": list(event.data["needs"]),
        }

    def _on_InterventionPlanAgreed(self, state: CaseSharing, event: CaseEvent, _: list) -> None:
        state.facts["intervention_plan"] = {
            "goals": list(event.data["goals"]),
            "services": [dict(service) for service in event.data["services"]],
        }

    # ---- Referrals: what brings an agency in, and what lets it go -----------------------------

    def _on_Referred(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        data = event.data
        agency = data["agency"]
        state.referrals[data["referral_id"]] = ReferralShare(
            referral_id=data["referral_id"],
            agency=agency,
            service_type=data["service_type"],
            status=ReferralStatus.PENDING.value,
            emergency=bool(data["emergency"]),
        )
        if agency not in self.matrix.rows:
            return
        if agency not in state.open_to:
            self._open(state, agency, messages)
        messages.append(
            AgencyMessage(
                agency,
                REFERRAL_RECEIVED,
                {
                    **self._case_ref(state),
                    "referral_id": data["referral_id"],
                    "service_type": data["service_type"],
                    "emergency": bool(data["emergency"]),
                    "due_at": data["due_at"],
                    "referred_at": _iso(event.at),
                    "notes": data["notes"],
                    "referral_record_ref": data["referral_record_ref"],
                },
            )
        )

    def _on_ReferralAccepted(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        self._referral_changed(
            state, event, ReferralStatus.ACCEPTED.value, {"notes": event.data["notes"]}, messages
        )

    def _on_ReferralDeclined(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        self._referral_changed(
            state, event, ReferralStatus.DECLINED.value, {"reason": event.data["reason"]}, messages
        )

    def _on_ServiceDelivered(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        status = {
            "completed": ReferralStatus.COMPLETED.value,
            "partially_delivered": ReferralStatus.IN_PROGRESS.value,
            "not_delivered": ReferralStatus.NOT_DELIVERED.value,
        }[event.data["outcome"]]
        details = {
            "outcome": event.data["outcome"],
            "delivered_on": event.data["delivered_on"],
            "summary": event.data["summary"],
        }
        self._referral_changed(state, event, status, details, messages)

    def _on_ReferralCancelled(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        self._referral_changed(
            state, event, ReferralStatus.CANCELLED.value, {"reason": event.data["reason"]}, messages
        )

    def _on_HandedOver(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        self._cancel_open_referrals(state)
        receiver = HANDOVER_TARGET_AGENCY.get(event.data["target"])
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
                    "target": event.data["target"],
                    "receiving_unit": event.data["receiving_unit"],
                    "notes": event.data["notes"],
                    "at": _iso(event.at),
                    "referrals": state.final_referrals(receiver),
                },
            )
        )
        del state.open_to[receiver]

    def _on_Terminated(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
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
        return state.consent_given or any(r.emergency for r in state.open_referrals(agency))

    def _snapshot(self, state: CaseSharing, agency: str) -> dict[str, Any]:
        return self.matrix.visible_facts(
            agency, state.facts, personal=self._may_see_personal(state, agency)
        )

    def _open(self, state: CaseSharing, agency: str, messages: list) -> None:
        # The referral is recorded on the state before this, so an emergency one counts.
        snapshot = self._snapshot(state, agency)
        state.open_to[agency] = snapshot
        messages.append(
            AgencyMessage(agency, CASE_OPENED, {**self._case_ref(state), "facts": snapshot})
        )

    def _send_changed_facts(self, state: CaseSharing, event: CaseEvent, messages: list) -> None:
        for agency, sent in state.open_to.items():
            snapshot = self._snapshot(state, agency)
            if snapshot != sent:
                state.open_to[agency] = snapshot
                messages.append(
                    AgencyMessage(
                        agency, CASE_UPDATED, {**self._case_ref(state), "facts": snapshot}
                    )
                )

    def _referral_changed(
        self,
        state: CaseSharing,
        event: CaseEvent,
        status: str,
        details: dict[str, Any],
        messages: list,
    ) -> None:
        referral = state.referrals[event.data["referral_id"]]
        referral.status = status
        agency = referral.agency
        if agency not in state.open_to:
            return
        messages.append(
            AgencyMessage(
                agency,
                REFERRAL_UPDATED,
                {
                    **self._case_ref(state),
                    "referral_id": referral.referral_id,
                    "status": status,
                    "at": _iso(event.at),
                    **details,
                },
            )
        )
        if not state.open_referrals(agency):
            self._close(state, agency, "referrals_settled", event, messages)

    def _cancel_open_referrals(self, state: CaseSharing) -> None:
        # The domain ends open referrals with the case; the closing message tells the agency.
        for referral in state.referrals.values():
            if referral.is_open:
                referral.status = ReferralStatus.CANCELLED.value

    def _close(
        self, state: CaseSharing, agency: str, reason: str, event: CaseEvent, messages: list
    ) -> None:
        del state.open_to[agency]
        messages.append(
            AgencyMessage(
                agency,
                CASE_CLOSED,
                {
                    **self._case_ref(state),
                    "reason": reason,
                    "at": _iso(event.at),
                    "referrals": state.final_referrals(agency),
                },
            )
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()
