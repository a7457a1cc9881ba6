"""The time-standard dashboard: one row per step of each case, and per step of each referral.

Rows come from the domain's own schedule (``case_milestones`` and
``step_schedule`` in domain/time_standards.py), applied to the whole history
of a case, so the dashboard and a case's due-steps view always agree.

A row records started, due and done times and a state that events alone
decide: met, late, closed, or open. Whether an open step is overdue depends on
the clock, and time passes without events, so the query compares ``due_at``
with the current time instead of the projection storing it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.time_standards import (
    OPEN_STATES,
    TimeStandardProfile,
    case_milestones,
    step_schedule,
)

OPEN = "open"


@dataclass(frozen=True)
class StepRow:
    case_id: UUID
    district: str
    code: str
    stage: str
    title_en: str
    title_id: str
    agency: str  # who owes the step: the referral's agency, else the coordinating office
    referral_id: str | None
    limit_minutes: int
    started_at: datetime
    due_at: datetime
    done_at: datetime | None
    state: str  # met | late | closed | open; open is upcoming, due or overdue by the query's clock
    # Where the SOP gives a range (T4 3-7 hari): the step falls due then, not before.
    due_from: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.code}/{self.referral_id}" if self.referral_id else self.code


def step_rows(profile: TimeStandardProfile, history: Sequence[Any]) -> list[StepRow]:
    """Every applicable step of one case whose clock has started, from its full history."""
    if not history:
        return []
    milestones = case_milestones(history)
    agency_of_referral = {r.referral_id: r.agency for r in milestones.referrals}
    # Any moment gives the same rows once due and overdue are merged into "open".
    statuses = step_schedule(profile, milestones, history[-1].timestamp)
    case_id = history[0].originator_id
    district = history[0].district
    return [
        StepRow(
            case_id=case_id,
            district=district,
            code=status.code,
            stage=status.stage,
            title_en=status.title_en,
            title_id=status.title_id,
            agency=(
                agency_of_referral[status.referral_id]
                if status.referral_id is not None
                # Steps not tied to a referral are the coordinating office's to meet.
                else profile.coordinating_agency.value
            ),
            referral_id=status.referral_id,
            limit_minutes=int(status.limit / timedelta(minutes=1)),
            started_at=status.started_at,
            due_at=status.due_at,
            done_at=status.done_at,
            state=OPEN if status.state in OPEN_STATES else status.state.value,
            due_from=status.due_from,
        )
        for status in statuses
    ]
