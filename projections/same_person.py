"""The same-person index: each case's keyed fingerprints, from the report that opened it.

One row per fingerprint of the victim a case names (services/person_fingerprints.py),
with the case's id, district and register number, which is all a match across districts
may show. No name, NIK or birth date is kept: only the digests, which nobody without
the deployment's key can check against a guess.

The rows are a pure function of the case's ReportReceived event and the fingerprinter;
a correction of the victim's facts (issue 12 item 4) will add rows for its new values.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.case import Case

# Only the report names the victim today; the index follows these events alone.
INDEXED_TOPICS: tuple[str, ...] = (get_topic(Case.ReportReceived),)


@dataclass(frozen=True)
class PersonRow:
    fingerprint: str
    basis: str
    case_id: UUID
    district: str
    register_number: str
    reported_at: datetime


Fingerprints = Callable[[Mapping[str, Any]], Sequence[Any]]


def person_rows(event: Case.Event, fingerprints: Fingerprints) -> list[PersonRow]:
    """The rows one event adds: a report's victim fingerprinted; other events add none."""
    if not isinstance(event, Case.ReportReceived):
        return []
    return [
        PersonRow(
            fingerprint=found.digest,
            basis=found.basis,
            case_id=event.originator_id,
            district=event.district,
            register_number=event.register_number,
            reported_at=event.timestamp,
        )
        for found in fingerprints(event.victim)
    ]
