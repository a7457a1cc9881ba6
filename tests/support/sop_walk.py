"""Walking one seed's SOP over HTTP at a clock the test moves (tests/e2e/test_seed_*.py).

The case service stamps every event with its clock (``Cases(clock=...)``) and judges
the due-steps view at it, so a test that owns the clock can stand exactly on a
step's time standard: ``SeedWalk.boundary`` reads the step from the due-steps view,
checks its limit is the seed's number, moves the clock to the limit's end and
checks the step is still due there (due-steps view and timeline) and overdue one
second later (the timeline's ``as_of``, which judges open steps at that moment),
then leaves the clock on the boundary so the step done next is met exactly on time.

What the agency topics may carry is checked against the sharing matrix row by row:
``expected_snapshot`` restricts the case's facts (as the sharing policy folds them
from the stored events) to the paths a row allows, independently of the
policy's own restriction.
"""

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from domain.case import Case
from domain.sharing_matrix import SharingMatrix
from gateways.projectors.coordinator import coordinator_runner, wait_until_caught_up
from gateways.runtime import coordinator_store
from services.cases import Cases
from services.profiles import load_profiles
from services.settings import Settings
from services.sharing import SharingPolicy
from tests.support.builders import FakeClock

Headers = Callable[..., dict[str, str]]
ONE_SECOND = timedelta(seconds=1)
PURPOSE = {"X-Access-Purpose": "issue 11: the seed's SOP walked end to end"}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class SeedWalk:
    """One case of ``district``, acted on by its coordinating office (``office``)."""

    client: TestClient
    auth: Headers
    clock: FakeClock
    district: str
    office: str
    # Waits until the coordinator's projection has applied everything recorded (its views
    # are eventually consistent); see ``following_the_coordinator_views``.
    caught_up: Callable[[], int] | None = None
    case_id: str = ""

    # ---- Who acts ----------------------------------------------------------------------

    def headers(
        self, role: str = "coordinator", *, agency: str | None = None, user: str | None = None
    ) -> dict[str, str]:
        return self.auth(role, agency=agency or self.office, user=user, district=self.district)

    def officer(self, agency: str, user: str) -> dict[str, str]:
        return self.headers("agency_officer", agency=agency, user=user)

    @property
    def today(self) -> str:
        """The clock's date where the district is (a Day in a command's body)."""
        zone = load_profiles().profile(self.district).timezone
        return self.clock.now.astimezone(zone).date().isoformat()

    # ---- Commands ----------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"/api/v1{path}" if path.startswith("/") else f"/api/v1/cases/{self.case_id}/{path}"

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = self.client.post(self._url(path), json=body, headers=headers or self.headers())
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return dict(response.json())

    def refused(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        response = self.client.post(self._url(path), json=body, headers=headers or self.headers())
        assert response.status_code >= 400, (path, response.text)
        return response.status_code, dict(response.json())

    def report(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        case_id = str(
            self.post("/cases", body, headers or self.headers("intake_officer"))["case_id"]
        )
        self.case_id = self.case_id or case_id
        return case_id

    # ---- Reading the clocks ------------------------------------------------------------

    def due_steps(self, case_id: str | None = None) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/cases/{case_id or self.case_id}/due-steps", headers=self.headers()
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def timeline(self, *, as_of: datetime | None = None, case_id: str | None = None) -> Any:
        response = self.client.get(
            f"/api/v1/cases/{case_id or self.case_id}/timeline",
            params={"as_of": as_of.isoformat()} if as_of is not None else None,
            headers={**self.auth("auditor", district=self.district), **PURPOSE},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def listed(self, **query: str) -> list[str]:
        """The office's open-case list (``GET /cases``), judged at the clock: the case ids."""
        assert self.caught_up is not None, "the walk follows no coordinator projection"
        self.caught_up()
        response = self.client.get("/api/v1/cases", params=query, headers=self.headers())
        assert response.status_code == 200, response.text
        assert moment(response.json()["now"]) == self.clock.now
        return [str(item["case_id"]) for item in response.json()["items"]]

    @staticmethod
    def _one(steps: list[dict[str, Any]], code: str, referral_id: str | None) -> dict[str, Any]:
        found = [
            s
            for s in steps
            if s["code"] == code and (referral_id is None or s["referral_id"] == referral_id)
        ]
        assert len(found) == 1, (code, referral_id, steps)
        return found[0]

    def step(self, code: str, referral_id: str | None = None, **reading: Any) -> dict[str, Any]:
        """The step as the timeline shows it (at now, or ``as_of``)."""
        return self._one(self.timeline(**reading)["steps"], code, referral_id)

    def boundary(
        self,
        code: str,
        limit: timedelta,
        *,
        due_from: timedelta | None = None,
        referral_id: str | None = None,
    ) -> datetime:
        """``code``'s time standard is ``limit`` (a range: upcoming until ``due_from``, then
        due); at its end the step is due, one second later overdue. Leaves the clock at the
        end."""
        due = self._one(self.due_steps()["steps"], code, referral_id)
        started, due_at = moment(due["started_at"]), moment(due["due_at"])
        assert due["limit_minutes"] == limit // timedelta(minutes=1), (code, due)
        assert due_at - started == limit, (code, due)
        if due_from is None:
            assert due["due_from"] is None, (code, due)
        else:
            assert moment(due["due_from"]) - started == due_from, (code, due)
            # Not due before the range starts, due from its first moment.
            falls_due = started + due_from
            before = self.step(code, referral_id, as_of=falls_due - ONE_SECOND)
            assert before["state"] == "upcoming", (code, before)
            assert self.step(code, referral_id, as_of=falls_due)["state"] == "due", code
        assert self.clock.now <= due_at, f"{code}: the walk is already past its due time"
        self.clock.now = due_at
        at_end = self.due_steps()
        assert self._one(at_end["steps"], code, referral_id)["state"] == "due", code
        assert code not in at_end["overdue"], code
        assert self.step(code, referral_id, as_of=due_at)["state"] == "due", code
        assert self.step(code, referral_id, as_of=due_at + ONE_SECOND)["state"] == "overdue", code
        return due_at

    def met(self, code: str, referral_id: str | None = None) -> dict[str, Any]:
        """The step was done at the clock's time and met its standard."""
        check = self.step(code, referral_id)
        assert check["state"] == "met", (code, check)
        assert moment(check["done_at"]) == self.clock.now, (code, check)
        return check


@contextmanager
def following_the_coordinator_views(
    cases: Cases, settings: Settings
) -> Iterator[Callable[[], int]]:
    """A coordinator projector following the case store in a thread, as `simpul project
    --coordinator` does beside the API; yields a wait until it has caught up."""
    store = coordinator_store(cases)
    runner = coordinator_runner(cases, settings, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield lambda: wait_until_caught_up(cases, store, timeout=30)
    finally:
        stop.set()
        thread.join(timeout=10)


# ---- What a topic may carry ---------------------------------------------------------------


def case_facts(cases: Cases, matrix: SharingMatrix, case_id: str) -> dict[str, dict[str, Any]]:
    """Everything the case knows that a row of the matrix may name, from its stored events."""
    events = [e for e in cases.events.get(UUID(case_id)) if isinstance(e, Case.Event)]
    return SharingPolicy(matrix).replay(case_id, events).facts


def expected_snapshot(
    matrix: SharingMatrix, agency: str, facts: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``facts`` cut to the paths ``agency``'s row allows (after consent: nothing is gated)."""
    row = matrix.rows[agency]
    cut = {
        group: {key: value for key, value in values.items() if row.allows(group, key)}
        for group, values in facts.items()
    }
    return {group: values for group, values in cut.items() if values}


def shape(facts: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    """Which keys of which groups a snapshot holds."""
    return {group: set(values) for group, values in facts.items()}
