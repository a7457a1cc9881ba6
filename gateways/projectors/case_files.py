"""The case-file check: every recorded history still folds with the code deployed.

Case files and timelines are computed when read, so there is nothing to
write: this follower folds each case's history as the store is read, into
its case file, timeline summaries and milestones, and fails on the first
history today's code cannot read. It is the check to run before a change to
a fold or an event goes live (`simpul replay case_files`).
"""

from domain.time_standards import case_milestones
from gateways.projectors.histories import CaseHistories, by_case
from gateways.projectors.runner import Batch
from projections.case_file import CaseFile
from projections.open_cases import CASE_TOPICS
from projections.timeline import summaries


class CaseFileCheck:
    name = "case_files"
    topics = CASE_TOPICS

    def __init__(self, histories: CaseHistories) -> None:
        self.histories = histories
        self._position = 0
        self.cases: set[object] = set()
        self.events = 0

    def position(self) -> int:
        return self._position

    def apply(self, batch: Batch) -> None:
        for case_id, new_events in by_case(batch.events).items():
            history = self.histories.extended(case_id, new_events)
            CaseFile.from_events(history)
            summaries(history)
            case_milestones(history)
            self.cases.add(case_id)
            self.events += len(new_events)
        self._position = batch.to

    def finish(self) -> str:
        return f"case files: {len(self.cases)} cases ({self.events} events) fold with this code"
