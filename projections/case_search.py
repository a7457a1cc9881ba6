"""The office's search index: per case, one row for each person the intake named (L1.2).

The coordinating office looks a case up by what a caller or a letter tells it:
the register number, a name, a NIK, a birth date, a village, when the report
came (issue 12 item 5). This projection turns a case's history into the rows
that answer that: the victim, the reporter and the reported person (terlapor)
as the report recorded them and corrections completed them (B4, K-O2), and each
beneficiary added later (a sibling found at the home visit, L1.8), each
with the search key of their name (domain/person_names.py), the keyed hash of
their NIK (never the NIK), their birth date and village, and the village where it happened.

Unlike the open-case list, these rows are personal data: the table is read only
through the office's search (gateways/readmodels/case_search.py), whose every
use is recorded in the access log. The rows are a pure function of the history,
like the other projections: a rebuild converges to the same rows.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.case import Case
from domain.person_names import name_key, village_key

# Who a row is about, in the order a result lists them.
PERSON_ROLES = ("victim", "reporter", "reported_person")
NikDigest = Callable[[str], bytes]


@dataclass(frozen=True)
class SearchRow:
    """One person of one case, as the office's search matches them."""

    case_id: UUID
    person: str  # victim | reporter | reported_person | beneficiary_<n>
    district: str
    register_number: str
    arrived_at: datetime  # when the report reached the office (L1.1)
    name: str | None = None
    name_key: str | None = None
    nik_digest: bytes | None = None
    birth_date: date | None = None
    village: str | None = None
    village_key: str | None = None
    incident_village: str | None = None
    incident_village_key: str | None = None


def _text(facts: dict[str, Any], name: str) -> str | None:
    value = facts.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _day(facts: dict[str, Any]) -> date | None:
    value = facts.get("birth_date")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _person_row(
    report: Case.ReportReceived,
    person: str,
    facts: dict[str, Any],
    incident: dict[str, Any],
    nik_digest: NikDigest,
) -> SearchRow:
    name = _text(facts, "name")
    nik = _text(facts, "nik")
    village = _text(facts, "village")
    incident_village = _text(incident, "village")
    return SearchRow(
        case_id=report.originator_id,
        person=person,
        district=report.district,
        register_number=report.register_number,
        arrived_at=report.arrived_at,
        name=name,
        name_key=(name_key(name) or None) if name else None,
        nik_digest=nik_digest(nik) if nik else None,
        birth_date=_day(facts),
        village=village,
        village_key=(village_key(village) or None) if village else None,
        incident_village=incident_village,
        incident_village_key=(
            (village_key(incident_village) or None) if incident_village else None
        ),
    )


def search_rows(history: Iterable[Any], nik_digest: NikDigest) -> tuple[SearchRow, ...]:
    """A case's rows, from its history (oldest first, starting with its report).

    The victim always has a row, even one the report knew nothing of, so that
    every case is found by its register number and report date; the reporter and
    the reported person have one where the report named anything of them.
    """
    events: Sequence[Any] = history if isinstance(history, Sequence) else list(history)
    if not events or not isinstance(events[0], Case.ReportReceived):
        raise ValueError("a case's history starts with its ReportReceived event")
    report = events[0]
    people: dict[str, dict[str, Any]] = {
        "victim": dict(report.victim),
        "reporter": dict(report.reporter),
        "reported_person": dict(report.reported_person),
        "incident": dict(report.incident),
    }
    added: dict[str, dict[str, Any]] = {}
    for event in events:
        # A correction (B4, K-O2) gives the office the fact as now known to look it up by.
        if isinstance(event, Case.FactsCorrected):
            for fact in event.corrections:
                if fact["group"] in people:
                    people[fact["group"]][fact["key"]] = fact["value"]
        elif isinstance(event, Case.BeneficiaryAdded):
            added[beneficiary_person(event.beneficiary_id)] = dict(event.person)
    named = [
        (person, people[person]) for person in PERSON_ROLES if person == "victim" or people[person]
    ]
    return tuple(
        _person_row(report, person, facts, people["incident"], nik_digest)
        for person, facts in [*named, *added.items()]
    )


def beneficiary_person(beneficiary_id: str) -> str:
    """The row of a beneficiary added after the report's victim (who is beneficiary 1)."""
    return f"beneficiary_{beneficiary_id}"
