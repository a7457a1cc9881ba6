"""Who may read a case and who may issue which command.

A case is visible to its coordinating office (the office its district's profile
names: the UPTD PPA by default, Dinas Sosial in Tanjungpinang, the PKSAI led by
Dinas Sosial in Kutai Timur), its assigned case worker, the agencies it was
referred or handed over to, and auditors. Anyone else is told the case does
not exist. Visible is not enough to act: each command names the people who
may issue it.

Every rule checks the whole identity a token carries (role, agency, district
and user id), never one claim alone: a user id names a person only within
their office, and a token naming the right person in the wrong role, agency
or district is someone else.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from domain.actors import Actor
from domain.case import Case
from domain.vocabulary import Agency, Role

CASE_OFFICE_ROLES = frozenset(
    {Role.INTAKE_OFFICER, Role.CASE_WORKER, Role.COORDINATOR, Role.SUPERVISOR}
)
# Who approves where the SOPs name a superior (Kutai Timur's Ketua Pelaksana Harian K-C8,
# Tanjungpinang's Kabid T3, Purwakarta's Kasi and Kabid): a supervisor, or a coordinator
# in an office that has no supervisor account.
APPROVERS = frozenset({Role.COORDINATOR, Role.SUPERVISOR})
OFFICE_LEADS = frozenset({Role.INTAKE_OFFICER, Role.COORDINATOR})
# Agencies that serve several districts see their referrals wherever they come from.
CROSS_DISTRICT_AGENCIES = frozenset({Agency.PROVINCE})


class AccessDenied(Exception):
    """The actor may see the case but not issue this command."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class Who(Enum):
    """The groups of people a command is open to."""

    CASE_TEAM = "the case's coordinating office or its assigned case worker"
    OFFICE_LEADS = "an intake officer or coordinator of the case's coordinating office"
    CASE_TEAM_OR_ASSESSING_AGENCY = (
        "the case team, or an officer of an agency with a referral on the case"
    )
    RECEIVING_AGENCY = "an officer of the agency the referral was made to, or a coordinator"
    CASE_WORKER_OR_COORDINATOR = "the assigned case worker or a coordinator"
    SUPERVISOR = "a supervisor or coordinator of the case's coordinating office"
    CASE_TEAM_OR_RECEIVING_AGENCY = (
        "the case team, or an officer of the agency the referral was made to"
    )
    HANDOVER_RECEIVER = (
        "an officer of the agency the case was handed over to, or a coordinator on its behalf"
    )


class CoordinatingOffices(Protocol):
    """Which agency coordinates each district's cases (services.profiles.ProfileBook)."""

    def coordinating_agency(self, district: str) -> Agency: ...


def _agency_serves_district(actor: Actor, case: Case) -> bool:
    return actor.district == case.district or actor.agency in CROSS_DISTRICT_AGENCIES


def is_referred_agency(actor: Actor, case: Case) -> bool:
    return (
        actor.role == Role.AGENCY_OFFICER
        and actor.agency.value in case.referred_agencies
        and _agency_serves_district(actor, case)
    )


@dataclass(frozen=True)
class AccessRules:
    """The rules that depend on which office coordinates a district's cases.

    That office is a setting of the district's profile (``coordinating_agency``), so
    the rules ask ``offices`` rather than assume the UPTD PPA.
    """

    offices: CoordinatingOffices

    def coordinating_agency(self, district: str) -> Agency:
        return self.offices.coordinating_agency(district)

    def _is_of_coordinating_office(self, actor: Actor, district: str) -> bool:
        return actor.district == district and actor.agency == self.coordinating_agency(district)

    def is_case_office(self, actor: Actor, case: Case) -> bool:
        return (
            self._is_of_coordinating_office(actor, case.district)
            and actor.role in CASE_OFFICE_ROLES
        )

    def is_assigned_case_worker(self, actor: Actor, case: Case) -> bool:
        """The case worker the office assigned: that user, as a case worker of that office."""
        return (
            case.case_worker_id is not None
            and actor.user_id == case.case_worker_id
            and actor.role == Role.CASE_WORKER
            and self._is_of_coordinating_office(actor, case.district)
        )

    def may_read(self, actor: Actor, case: Case) -> bool:
        return (
            actor.role == Role.AUDITOR
            or self.is_case_office(actor, case)
            or self.is_assigned_case_worker(actor, case)
            or is_referred_agency(actor, case)
        )

    def may_verify(self, actor: Actor, case: Case) -> bool:
        """A case's hash chain is checked by auditors and by the office accountable for it."""
        return actor.role == Role.AUDITOR or self.is_case_office(actor, case)

    def may_read_access_log(self, actor: Actor, case: Case) -> bool:
        """Who read a case: auditors, and the coordinator answerable for the case's office."""
        return actor.role == Role.AUDITOR or (
            self.is_case_office(actor, case) and actor.role == Role.COORDINATOR
        )

    def require_may_act(
        self, actor: Actor, case: Case, who: Who, *, referral_agency: str | None = None
    ) -> None:
        _refuse_auditors(actor)
        office = self.is_case_office(actor, case)
        team = office or self.is_assigned_case_worker(actor, case)
        allowed = {
            Who.CASE_TEAM: team,
            Who.OFFICE_LEADS: office and actor.role in OFFICE_LEADS,
            Who.CASE_TEAM_OR_ASSESSING_AGENCY: team
            or (
                is_referred_agency(actor, case)
                and actor.agency.value in case.open_referral_agencies()
            ),
            Who.RECEIVING_AGENCY: (
                actor.role == Role.AGENCY_OFFICER
                and actor.agency.value == referral_agency
                and _agency_serves_district(actor, case)
            )
            or (office and actor.role == Role.COORDINATOR),
            Who.CASE_WORKER_OR_COORDINATOR: self.is_assigned_case_worker(actor, case)
            or (office and actor.role == Role.COORDINATOR),
            Who.SUPERVISOR: office and actor.role in APPROVERS,
            Who.CASE_TEAM_OR_RECEIVING_AGENCY: team
            or (
                actor.role == Role.AGENCY_OFFICER
                and actor.agency.value == referral_agency
                and _agency_serves_district(actor, case)
            ),
            # The receiver answers for itself; the office's coordinator may record its answer
            # when it came by letter or phone, as for a referral's answer.
            Who.HANDOVER_RECEIVER: (
                actor.role == Role.AGENCY_OFFICER
                and case.handed_over_to_agency is not None
                and actor.agency.value == case.handed_over_to_agency
                and _agency_serves_district(actor, case)
            )
            or (office and actor.role == Role.COORDINATOR),
        }[who]
        if not allowed:
            raise AccessDenied("not_permitted", f"only {who.value} may do this")

    def may_read_outreach(self, actor: Actor, district: str) -> bool:
        """Outreach (K-O1-K-O5) is the coordinating body's own work before any case: its
        office staff and auditors. No agency sees it, not even one the office works with."""
        return actor.role == Role.AUDITOR or (
            self._is_of_coordinating_office(actor, district) and actor.role in CASE_OFFICE_ROLES
        )

    def require_may_do_outreach(self, actor: Actor, district: str, *, leads: bool) -> None:
        """Outreach steps are the office staff's; turning one into a case (K-R1) opens a
        case, which is the office leads' (intake officers, coordinators) to do."""
        _refuse_auditors(actor)
        if not self.may_read_outreach(actor, district):
            raise AccessDenied(
                "outreach_office_only",
                "outreach is recorded by the staff of the district's coordinating office",
            )
        if leads and actor.role not in OFFICE_LEADS:
            raise AccessDenied("not_permitted", f"only {Who.OFFICE_LEADS.value} may do this")

    def may_read_coordinator_views(self, actor: Actor) -> bool:
        """The open-case list, workload and time-standard dashboard of the actor's district:
        its coordinating office and auditors."""
        return actor.role == Role.AUDITOR or (
            self._is_of_coordinating_office(actor, actor.district)
            and actor.role in CASE_OFFICE_ROLES
        )

    def may_search_cases(self, actor: Actor) -> bool:
        """The search over names, NIKs and addresses (services/case_search.py): the staff of
        the actor's district's coordinating office, who may read its case files. Not
        auditors (they read what was searched, in the access log), never an agency."""
        return (
            self._is_of_coordinating_office(actor, actor.district)
            and actor.role in CASE_OFFICE_ROLES
        )


def may_read_actor_access_log(actor: Actor) -> bool:
    """What one person read, across cases and districts: auditors only."""
    return actor.role == Role.AUDITOR


def require_may_read_case_file(actor: Actor, case: Case) -> None:
    """The whole file and history are for the case team and auditors, not for agencies.

    A referred agency sees the case only through its own inbox, which carries
    what the data-sharing matrix (domain/sop/sharing.toml) allows it: the same
    rule as on its Kafka topic, kept in one place.
    """
    # The case team are officers of the coordinating office: never an agency officer.
    if actor.role == Role.AGENCY_OFFICER:
        raise AccessDenied(
            "agency_view_only",
            "an agency sees a case only through its referrals inbox, with what the "
            "data-sharing matrix allows it",
        )


def may_report(actor: Actor) -> bool:
    """L1.1/L1.4: any receiving agency may record a report; auditors, data officers and
    office administrators may not."""
    return actor.role not in (Role.AUDITOR, Role.DATA_OFFICER, Role.OFFICE_ADMINISTRATOR)


def _refuse_auditors(actor: Actor) -> None:
    if actor.role == Role.AUDITOR:
        raise AccessDenied("auditors_read_only", "auditors read case histories but cannot act")


def require_may_report(actor: Actor) -> None:
    _refuse_auditors(actor)
    if not may_report(actor):
        raise AccessDenied("not_permitted", f"a {actor.role.value} cannot record reports")


def may_administer_staff(actor: Actor, district: str) -> bool:
    """An office administrator administers the staff of their own district's offices."""
    return actor.role == Role.OFFICE_ADMINISTRATOR and actor.district == district
