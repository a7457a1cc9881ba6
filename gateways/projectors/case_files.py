"""The case-file check: every recorded history still folds with the code deployed.

Case files and timelines are computed when read, so there is nothing to
write: this follower folds each case's history as the store is read, into
its case file, timeline summaries and milestones. A history today's code
cannot decode or fold is noted (case id, place, error type) and the check goes
on, so one run names every such case. It is the check to run before a change
to a fold or an event goes live (`simpul replay case_files`, which fails if
any case is named).
"""

from uuid import UUID

from domain.time_standards import case_milestones
from gateways.projectors.histories import CaseHistories
from gateways.projectors.quarantine import SetAside, is_outage, reason_for
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
        self.cases: set[UUID] = set()
        self.events = 0
        self.failed: dict[UUID, SetAside] = {}

    @property
    def set_aside_count(self) -> int:
        return len(self.failed)

    def position(self) -> int:
        return self._position

    def apply(self, batch: Batch) -> None:
        for unreadable in batch.undecodable:
            self.failed.setdefault(unreadable.case_id, unreadable)
        for item in batch.recorded:
            case_id = item.event.originator_id
            self.events += 1
            if case_id in self.failed:
                continue
            try:
                history = self.histories.extended(case_id, [item.event])
                CaseFile.from_events(history)
                summaries(history)
                case_milestones(history)
            except Exception as error:
                if is_outage(error):
                    raise
                self.failed[case_id] = SetAside(
                    case_id, item.position, item.topic, reason_for(error)
                )
                continue
            self.cases.add(case_id)
        self._position = batch.to

    def finish(self) -> str:
        folding = self.cases - self.failed.keys()
        lines = [f"case files: {len(folding)} cases ({self.events} events) fold with this code"]
        if self.failed:
            lines[0] += f"; {len(self.failed)} do not:"
            lines.extend(
                f"  case {item.case_id}: {item.reason} at position {item.position} "
                f"({item.event_topic})"
                for item in self.failed.values()
            )
        return "\n".join(lines)
