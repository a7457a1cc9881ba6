"""The paper-style case register: one running number per district and year.

Offices write a case's register number on every document, so it must be
unique and gapless per district-year. The register is its own small aggregate
with a deterministic id, saved in the same transaction as the case it numbers:
two concurrent reports conflict on the register's version and one retries.
"""

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.events import ActedEvent


class CaseRegister(Aggregate):
    """The register of one district for one calendar year."""

    class Event(ActedEvent):
        pass

    @staticmethod
    def register_id(district: str, year: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"/simpul/registers/{district}/{year}")

    class Opened(Aggregate.Created, Event):
        """The district's register for a year was opened, with its code."""

        district: str
        year: int
        code: str

    @classmethod
    def open(cls, district: str, year: int, code: str) -> "CaseRegister":
        return cls(id=cls.register_id(district, year), district=district, year=year, code=code)

    @event(Opened)
    def __init__(self, id: UUID, district: str, year: int, code: str) -> None:
        self.district = district
        self.year = year
        self.code = code
        self.last_number = 0

    class NumberIssued(Event):
        """The register's next number was given to a case."""

        number: int
        case_id: UUID

    def issue_number(self, case_id: UUID) -> str:
        self._number_issued(number=self.last_number + 1, case_id=case_id)
        return self.format(self.last_number)

    @event(NumberIssued)
    def _number_issued(self, number: int, case_id: UUID) -> None:
        self.last_number = number

    def format(self, number: int) -> str:
        return f"{self.code}/{self.year}/{number:05d}"
