"""`simpul projections rebuild --coordinator` and `simpul project` from the command line."""

import pytest

from gateways.cli import main
from gateways.runtime import coordinator_store
from services.cases import Cases
from tests.support.coordinator import record_mix


def test_rebuild_shows_progress_and_counts_what_it_rebuilt(
    pg_cases: Cases,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    record_mix(pg_cases, 4)
    head = pg_cases.recorder.max_notification_id()
    monkeypatch.setenv("SIMPUL_DATABASE_URL", database_url)
    monkeypatch.setenv("SIMPUL_DATABASE_POOL_SIZE", "2")

    assert main(["projections", "rebuild", "--coordinator"]) == 0

    output = capsys.readouterr()
    assert f"rebuilt coordinator: {head} events, 4 cases" in output.out
    assert "coordinator" in output.err and f"{head}/{head}" in output.err  # the progress bar
    assert coordinator_store(pg_cases).position(pg_cases.name) == head


def test_project_and_rebuild_need_to_be_told_which_projections(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("SIMPUL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")

    assert main(["project"]) == 2
    assert main(["projections", "rebuild"]) == 2
    assert "--coordinator" in capsys.readouterr().out
