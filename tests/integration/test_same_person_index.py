"""The same-person index on the real PostgreSQL: digests only, caught up from the store on
any path a case was opened by, each report indexed once however many processes catch up."""

from threading import Thread

import psycopg

from gateways.runtime import same_person
from projections.same_person import INDEXED_TOPICS
from services.access_log import CaseRead
from services.case_commands import AddBeneficiary
from services.cases import Cases
from services.same_person import SamePerson
from services.settings import Settings
from tests.support.builders import CASE_WORKER, COORDINATOR, report_a_case

NIK = "7322011201140001"
NAME = "Soetjipto Moehammad"
READ = CaseRead(view="test", purpose=None, request_id="same-person-index")


def _service(cases: Cases) -> SamePerson:
    """As the API process composes it, with the development key."""
    service = same_person(cases, Settings(_env_file=None))  # type: ignore[call-arg]
    assert service is not None
    return service


def test_the_index_holds_digests_and_register_numbers_never_the_person(
    pg_cases: Cases, database_url: str
) -> None:
    reported = report_a_case(
        pg_cases, victim={"name": NAME, "birth_date": "2013-05-14", "nik": NIK}
    )
    _service(pg_cases).catch_up()

    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT * FROM same_person.fingerprints").fetchall()

    assert len(rows) == 2
    stored = repr(rows)
    assert NIK not in stored and "soetjipto" not in stored.lower() and "2013" not in stored
    assert reported.register_number in stored


def test_cases_reported_through_the_service_are_found_by_catching_up(pg_cases: Cases) -> None:
    first = report_a_case(pg_cases, victim={"name": "Mawar", "nik": NIK})
    report_a_case(pg_cases, victim={"name": "Melati", "nik": "6403011201140002"})
    second = report_a_case(pg_cases, victim={"name": "Mawar", "nik": NIK})

    found = _service(pg_cases).earlier_cases(COORDINATOR, second.case_id, READ)

    assert [(c.case_id, c.bases) for c in found.earlier_cases] == [(first.case_id, ["nik"])]


def test_processes_catching_up_together_index_each_report_once(
    pg_cases: Cases, database_url: str
) -> None:
    for _ in range(5):
        report_a_case(pg_cases, victim={"name": NAME, "birth_date": "2013-05-14", "nik": NIK})
    services = [_service(pg_cases) for _ in range(3)]

    threads = [Thread(target=service.catch_up) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM same_person.fingerprints").fetchone()
    assert count == (10,)
    reports = pg_cases.recorder.select_notifications(None, 100, topics=INDEXED_TOPICS)
    assert services[0].index.position() == reports[-1].id


def test_a_sibling_added_to_one_case_and_reported_again_as_a_victim_is_matched(
    pg_cases: Cases,
) -> None:
    first = report_a_case(pg_cases, victim={"name": "Mawar"})
    pg_cases.execute(
        CASE_WORKER,
        first.case_id,
        AddBeneficiary(person={"name": "Sari", "nik": NIK}, relationship="sibling", child=True),
    )
    second = report_a_case(pg_cases, victim={"name": "Sari", "nik": NIK})

    found = _service(pg_cases).earlier_cases(COORDINATOR, second.case_id, READ)

    assert [(c.case_id, c.bases) for c in found.earlier_cases] == [(first.case_id, ["nik"])]
