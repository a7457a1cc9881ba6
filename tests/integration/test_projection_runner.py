"""The store's runner with a follower of its own: it is not tied to any projection's tables."""

from eventsourcing.utils import get_topic

from domain.case import Case
from gateways.projectors.runner import Batch, PositionMoved, Runner
from services.cases import Cases
from tests.support.coordinator import record_mix


class ReferralLedger:
    """Counts referrals per agency; keeps its position beside the counts, as a view must."""

    name = "referral_ledger"
    topics = (get_topic(Case.Referred),)

    def __init__(self) -> None:
        self.tracked = 0
        self.per_agency: dict[str, int] = {}
        self.batches: list[int] = []

    def position(self) -> int:
        return self.tracked

    def apply(self, batch: Batch) -> None:
        if batch.after != self.tracked:
            raise PositionMoved(batch.after, self.tracked)
        for event in batch.events:
            self.per_agency[event.agency] = self.per_agency.get(event.agency, 0) + 1
        self.tracked = batch.to
        self.batches.append(len(batch.events))


def test_only_the_projections_topics_are_read_and_the_position_still_reaches_the_head(
    pg_cases: Cases,
):
    recorded = record_mix(pg_cases, 12)
    ledger = ReferralLedger()
    runner = Runner(pg_cases, [ledger], batch_size=3)

    runner.catch_up()

    referred_cases = sum(1 for case in recorded if case.shape in ("referred", "closed"))
    assert ledger.per_agency == {"health": referred_cases, "police": referred_cases}
    assert ledger.tracked == pg_cases.recorder.max_notification_id()
    assert max(ledger.batches) <= 3
    assert runner.lag.events_behind == 0 and runner.lag.seconds_behind == 0


def test_a_runner_whose_position_was_moved_reads_on_from_the_projections_position(
    pg_cases: Cases,
):
    record_mix(pg_cases, 6)
    ledger = ReferralLedger()
    first = Runner(pg_cases, [ledger], batch_size=2)
    second = Runner(pg_cases, [ledger], batch_size=2)
    assert first.position() == second.position() == 0
    first.step()

    assert second.step() == 0  # read after 0, but the projection moved on: nothing applied
    assert sum(ledger.per_agency.values()) == 2
    second.catch_up()
    first.catch_up()

    assert sum(ledger.per_agency.values()) == 4
    assert ledger.tracked == pg_cases.recorder.max_notification_id()


def test_one_runner_feeds_followers_at_different_positions_each_from_its_own(pg_cases: Cases):
    record_mix(pg_cases, 6)
    ahead, behind = ReferralLedger(), ReferralLedger()
    Runner(pg_cases, [ahead], batch_size=2).step()
    assert ahead.tracked > 0

    Runner(pg_cases, [ahead, behind], batch_size=4).catch_up()

    head = pg_cases.recorder.max_notification_id()
    assert ahead.tracked == behind.tracked == head
    assert ahead.per_agency == behind.per_agency
