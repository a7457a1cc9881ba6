"""The rows task lists are made of (services.tasks.TaskRows), read from the coordinator's
views and the agency inboxes: for GET /my-tasks, the pages and the notifier alike."""

from collections.abc import Mapping
from datetime import datetime

from domain.vocabulary import Agency
from gateways.readmodels.agency import AgencyStore
from gateways.readmodels.coordinator import CoordinatorStore
from services.tasks import AwaitingApproval, OfficeStepDue, UnansweredReferral


class ReadModelTaskRows:
    """The office's rows from its views; an agency's from its inbox, if it has one."""

    def __init__(self, views: CoordinatorStore | None, inboxes: Mapping[str, AgencyStore]) -> None:
        self._views = views
        self.inboxes = inboxes

    @property
    def views(self) -> CoordinatorStore:
        # Callers check first (an agency officer's list needs no office views).
        if self._views is None:
            raise LookupError("the office's views need the PostgreSQL event store")
        return self._views

    def office_steps(self, district: str, office: Agency, now: datetime) -> list[OfficeStepDue]:
        return [
            OfficeStepDue(**row)
            for row in self.views.due_office_steps(district, office.value, now=now)
        ]

    def office_referrals(self, district: str, office: Agency) -> list[UnansweredReferral]:
        return [
            UnansweredReferral(**row)
            for row in self.views.unanswered_referrals(district, office.value)
        ]

    def approvals(self, district: str) -> list[AwaitingApproval]:
        return [AwaitingApproval(**row) for row in self.views.pending_recommendations(district)]

    def inbox_referrals(
        self, agency: Agency, district: str | None, now: datetime
    ) -> list[UnansweredReferral]:
        inbox = self.inboxes.get(agency.value)
        if inbox is None:
            return []  # an agency outside the sharing matrix has no inbox, and no referrals
        return [
            UnansweredReferral(
                case_id=row["case_id"],
                register_number=row["register_number"],
                referral_id=row["referral_id"],
                district=row["district"],
                due_at=row["due_at"],
            )
            for row in inbox.referrals(district=district, status="pending", now=now)
        ]
