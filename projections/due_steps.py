"""A case's due steps: the district's time standards applied to its history at a moment.

What the case team reads to know what is owed next and by when. A pure
function of the events, the district's profile and the moment, like every
read model here; the API serves it as the case's ``due-steps``.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.case import Case
from domain.time_standards import StepState, TimeStandardProfile, case_milestones, step_schedule
from projections.document_checklist import missing_documents


class DueStep(BaseModel):
    code: str = Field(description="SOP step, e.g. L1.5")
    stage: str
    title_id: str
    title_en: str
    limit_minutes: int = Field(description="The time standard for this step")
    started_at: datetime
    due_at: datetime = Field(description="Overdue after this time")
    due_from: datetime | None = Field(
        default=None,
        description="Where the SOP gives a range (Tanjungpinang T4, 3-7 hari): due from this time",
    )
    done_at: datetime | None
    state: Literal["met", "late", "upcoming", "due", "overdue", "closed"] = Field(
        description="upcoming: a range's start (`due_from`) has not come; due: owed now; "
        "overdue: `due_at` passed"
    )
    referral_id: str | None = None


class DueSteps(BaseModel):
    case_id: UUID
    district: str
    now: datetime
    steps: list[DueStep]
    overdue: list[str] = Field(description="Codes of the steps now overdue")
    documents_missing: dict[str, list[str]] = Field(
        default_factory=dict,
        description="By step code, the document kinds the step needs that the case lacks",
    )


def due_steps(
    history: Sequence[Case.Event], profile: TimeStandardProfile, *, now: datetime
) -> DueSteps:
    """Every step of the case whose clock has started, judged at ``now``."""
    report = history[0]
    if not isinstance(report, Case.ReportReceived):
        raise TypeError("a case's history starts with its ReportReceived event")
    statuses = step_schedule(profile, case_milestones(history), now)
    steps = [
        DueStep(
            code=status.code,
            stage=status.stage,
            title_id=status.title_id,
            title_en=status.title_en,
            limit_minutes=int(status.limit / timedelta(minutes=1)),
            started_at=status.started_at,
            due_at=status.due_at,
            due_from=status.due_from,
            done_at=status.done_at,
            state=status.state.value,
            referral_id=status.referral_id,
        )
        for status in statuses
    ]
    return DueSteps(
        case_id=report.originator_id,
        district=report.district,
        now=now,
        steps=steps,
        overdue=[status.code for status in statuses if status.state == StepState.OVERDUE],
        documents_missing=missing_documents(history, profile),
    )
