"""The same-person index: each case's keyed fingerprints, from the facts naming its victim.

One row per fingerprint of the victim a case names (services/person_fingerprints.py),
with the case's id, district and register number, which is all a match across districts
may show. No name, NIK or birth date is kept: only the digests, which nobody without
the deployment's key can check against a guess.

The rows are a pure function of the case's history and the fingerprinter: the report
names the victim, and each correction of who she is (her NIK, name or birth date, B4,
K-O2) names her again, and each beneficiary added later (a sibling, L1.8) is
fingerprinted too, so a sibling reported again as a victim is matched. Earlier rows
stay: a report filed under a mistyped NIK is still found by it, as the history still
holds it.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.case import Case

INDEXED_TOPICS: tuple[str, ...] = (
    get_topic(Case.ReportReceived),
    get_topic(Case.FactsCorrected),
    get_topic(Case.BeneficiaryAdded),
)
# The victim's facts a fingerprint is made of (services/person_fingerprints.py).
IDENTIFYING_KEYS = frozenset({"nik", "name", "birth_date"})


@dataclass(frozen=True)
class PersonRow:
    fingerprint: str
    basis: str
    case_id: UUID
    district: str
    register_number: str
    reported_at: datetime


Fingerprints = Callable[[Mapping[str, Any]], Sequence[Any]]


def names_the_victim(event: Case.Event) -> bool:
    """Whether the event says who the victim is: the report, or a correction of her NIK,
    name or birth date."""
    if isinstance(event, Case.ReportReceived):
        return True
    return isinstance(event, Case.FactsCorrected) and any(
        fact["group"] == "victim" and fact["key"] in IDENTIFYING_KEYS for fact in event.corrections
    )


def names_a_person(event: Case.Event) -> bool:
    """Whether the event names someone the index fingerprints: the victim, or a beneficiary
    added to the case."""
    return names_the_victim(event) or isinstance(event, Case.BeneficiaryAdded)


def person_rows(history: Sequence[Case.Event], fingerprints: Fingerprints) -> list[PersonRow]:
    """Every row a case's history (from its report) adds: the victim fingerprinted as each
    event naming her left her facts, and each added beneficiary as added."""
    report = history[0] if history else None
    if not isinstance(report, Case.ReportReceived):
        return []
    victim: dict[str, Any] = {}
    rows: list[PersonRow] = []
    for event in history:
        if isinstance(event, Case.ReportReceived):
            victim = dict(event.victim)
        elif isinstance(event, Case.FactsCorrected):
            victim.update(
                (fact["key"], fact["value"])
                for fact in event.corrections
                if fact["group"] == "victim"
            )
        if isinstance(event, Case.BeneficiaryAdded):
            named: Mapping[str, Any] | None = event.person
        else:
            named = victim if names_the_victim(event) else None
        if named is not None:
            rows.extend(
                PersonRow(
                    fingerprint=found.digest,
                    basis=found.basis,
                    case_id=report.originator_id,
                    district=report.district,
                    register_number=report.register_number,
                    reported_at=report.timestamp,
                )
                for found in fingerprints(named)
            )
    return rows
