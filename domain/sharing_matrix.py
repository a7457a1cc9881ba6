"""The data-sharing matrix: which message kinds, case facts and texts each agency may receive.

The matrix itself is SOP data (domain/sop/sharing.toml); this module says
what a valid matrix is, in the SOP's own terms: the message kinds an agency's
topic carries, the groups of case facts and their keys, the free text the
messages carry beside the facts (a referral's notes, a handover's note), and
what is withheld from every agency until the beneficiary's informed consent
(L1.9-10). Free text is personal data until proven otherwise: whatever a
matrix says, it is withheld before consent, like the free-key groups recorded
at intake (``ALWAYS_GATED``).
"""

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.documents import DocumentKind
from domain.vocabulary import Agency, AssessmentDomain

CASE_OPENED = "case.opened"
CASE_UPDATED = "case.updated"
REFERRAL_RECEIVED = "referral.received"
REFERRAL_UPDATED = "referral.updated"
CASE_HANDED_OVER = "case.handed_over"
CASE_CLOSED = "case.closed"
HANDOVER_UPDATED = "handover.updated"
# A document the agency may fetch (its row's ``documents``) was attached to a case open to it.
DOCUMENT_SHARED = "document.shared"
# A beneficiary added to the case (a sibling) whom one of the agency's referrals is for.
BENEFICIARY_SHARED = "beneficiary.shared"
MESSAGE_KINDS = (
    CASE_OPENED,
    CASE_UPDATED,
    REFERRAL_RECEIVED,
    REFERRAL_UPDATED,
    CASE_HANDED_OVER,
    CASE_CLOSED,
    HANDOVER_UPDATED,
    DOCUMENT_SHARED,
    BENEFICIARY_SHARED,
)
# What follows a kind without being listed: the receiver of a hand-over hears what it
# answered (acknowledged, handed back), so a row listing case.handed_over gets it too.
FOLLOWING_KINDS: dict[str, str] = {HANDOVER_UPDATED: CASE_HANDED_OVER}
# Without these an agency could not keep a consistent inbox, so no row may omit them.
REQUIRED_KINDS = frozenset({CASE_OPENED, REFERRAL_RECEIVED, CASE_HANDED_OVER, CASE_CLOSED})

# The case facts an agency may be shown, by group. None: free keys, as recorded at intake.
FACT_GROUPS: dict[str, frozenset[str] | None] = {
    "report": frozenset(
        {
            "channel",
            "arrived_at",
            "chronology",
            "needs",
            "documents",
            "psychological_first_aid_needed",
        }
    ),
    "victim": None,
    "reporter": None,
    "reported_person": None,
    "incident": None,
    "classification": frozenset(
        {
            "case_type",
            "risk_level",
            "jurisdiction",
            "emergency",
            "forms_of_violence",
            "ampk_categories",
        }
    ),
    "consent": frozenset({"given", "given_by", "recorded_at"}),
    "case_worker": frozenset({"user_id"}),
    "assessments": frozenset(domain.value for domain in AssessmentDomain),
    "case_report": frozenset({"summary", "needs"}),
    "intervention_plan": frozenset({"goals", "services"}),
}

# The free text agency messages carry beside the facts, listed in a row like facts
# ("referral.notes", "handover.*"), and sent to an agency whose row does not list it (or
# before consent) as an empty string: the published schemas require these fields.
MESSAGE_TEXTS: dict[str, frozenset[str]] = {
    # referral.received: notes, referral_record_ref; referral.updated: notes when
    # accepted, reason when declined or cancelled, summary when delivered.
    "referral": frozenset(
        {
            "notes",
            "record_ref",
            "acceptance_notes",
            "decline_reason",
            "delivery_summary",
            "cancel_reason",
        }
    ),
    # case.handed_over: notes, receiving_unit; handover.updated: receiving_unit, taken_by
    # and acknowledgement_notes when acknowledged, handback_reason when handed back.
    "handover": frozenset(
        {"notes", "receiving_unit", "taken_by", "acknowledgement_notes", "handback_reason"}
    ),
}
PATH_GROUPS: dict[str, frozenset[str] | None] = {**FACT_GROUPS, **MESSAGE_TEXTS}

# Withheld before consent by every matrix, whether its consent.gated lists them or not:
# the groups recorded with free keys, every fact that is free text, and every message text.
# A handover note names the child and her street; a unit's name tells her village.
ALWAYS_GATED = (
    "victim",
    "reporter",
    "reported_person",
    "incident",
    "report.chronology",
    "report.needs",
    "report.documents",
    "assessments",
    "case_report.summary",
    "intervention_plan.goals",
    "referral",
    "handover",
)


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
        if group not in PATH_GROUPS:
            known = ", ".join(sorted(PATH_GROUPS))
            raise MatrixError(
                f"{where}: unknown fact group or message text {group!r} in {text!r}; known: {known}"
            )
        if key in ("", "*"):
            return cls(group, None)
        allowed = PATH_GROUPS[group]
        if allowed is not None and key not in allowed:
            raise MatrixError(
                f"{where}: {text!r} is not a fact; {group} has: {', '.join(sorted(allowed))}"
            )
        return cls(group, key)

    def covers(self, group: str, key: str) -> bool:
        return self.group == group and (self.key is None or self.key == key)

    def within(self, other: "FactPath") -> bool:
        return self.group == other.group and (other.key is None or self.key == other.key)

    def __str__(self) -> str:
        return self.group if self.key is None else f"{self.group}.{self.key}"


@dataclass(frozen=True)
class AgencyRow:
    """One agency's row of the matrix: the message kinds and facts it receives."""

    agency: str
    messages: frozenset[str]
    facts: tuple[FactPath, ...]
    # The document kinds it may fetch from a case referred or handed over to it.
    documents: frozenset[str] = frozenset()
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

    def visible_facts(
        self, agency: str, facts: Mapping[str, Any], *, personal: bool
    ) -> dict[str, Any]:
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

    def shared_text(self, agency: str, group: str, key: str, text: str, *, personal: bool) -> str:
        """A message text as this agency receives it: whole, or "" where withheld."""
        allowed = self.rows[agency].allows(group, key)
        return text if allowed and (personal or not self.is_gated(group, key)) else ""

    def impersonal_facts(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """``facts`` without anything gated: what may be kept once personal data must go."""
        kept: dict[str, Any] = {}
        for group, values in facts.items():
            if not isinstance(values, Mapping):
                continue
            remaining = {
                key: copy.deepcopy(value)
                for key, value in values.items()
                if not self.is_gated(group, key)
            }
            if remaining:
                kept[group] = remaining
        return kept


def _document_kinds(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise MatrixError(f"{where}: must list document kinds")
    unknown = sorted(set(value) - set(DocumentKind))
    if unknown:
        raise MatrixError(f"{where}: unknown document kinds {unknown}")
    return frozenset(value)


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
        implied = {kind for kind, after in FOLLOWING_KINDS.items() if after in messages}
        rows[agency] = AgencyRow(
            agency=agency,
            messages=frozenset(messages) | implied,
            facts=tuple(FactPath.parse(path, f"{where}.facts") for path in facts),
            documents=_document_kinds(entry.get("documents", []), f"{where}.documents"),
        )
    listed = [FactPath.parse(path, "consent.gated") for path in gated]
    floor = [FactPath.parse(path, "ALWAYS_GATED") for path in ALWAYS_GATED]
    unlisted = [path for path in floor if not any(path.within(other) for other in listed)]
    return SharingMatrix(rows=rows, consent_gated=(*listed, *unlisted))
