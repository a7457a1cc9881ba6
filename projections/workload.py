"""Workload: open cases per case worker and open referrals per agency, with what is overdue.

Workload has no table of its own. It is a count over the open-case, referral
and step rows (projections/open_cases.py, projections/time_standards_dashboard.py),
taken when asked: its overdue counts depend on the clock, which moves without
events, and a second table would only be a second place for the same facts to
disagree. These models are the shape of the answer.
"""

from datetime import datetime

from pydantic import BaseModel, Field

from domain.vocabulary import Agency


class CaseWorkerLoad(BaseModel):
    case_worker_id: str | None = Field(
        description="The assigned case worker; null counts the open cases with nobody assigned."
    )
    open_cases: int = Field(description="Open cases assigned to this case worker.")
    cases_with_overdue_steps: int = Field(description="Of those, cases with a step overdue now.")
    overdue_steps: int = Field(description="Steps overdue now across those cases.")


class AgencyLoad(BaseModel):
    agency: Agency
    open_referrals: int = Field(description="Referrals to the agency not yet settled.")
    pending: int = Field(description="Open referrals the agency has not answered.")
    accepted: int = Field(description="Open referrals accepted, no delivery reported yet.")
    in_progress: int = Field(description="Open referrals partially delivered.")
    overdue_referrals: int = Field(description="Open referrals past their recorded due time.")


class Workload(BaseModel):
    district: str
    now: datetime = Field(description="The time the overdue counts were taken at.")
    position: int = Field(description="Events up to at least this position are counted.")
    open_cases: int
    case_workers: list[CaseWorkerLoad]
    agencies: list[AgencyLoad]
