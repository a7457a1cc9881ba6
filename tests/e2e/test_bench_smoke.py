"""`make bench` keeps working: every figure measured at tiny sizes, results written with machine."""

import json
import os
from pathlib import Path

from benchmarks.run import Sizes, run_all
from services.settings import Settings
from tests.support.infrastructure import PostgresServer

TINY = Sizes(
    commands=40,
    http_seconds=1.0,
    propagation_events=20,
    rebuild_events=400,
    timeline_events=50,
    growth_small=400,
    growth_large=2_000,
    growth_commands=40,
    search_cases=300,
    uploads=10,
)


def test_every_benchmark_figure_is_measured_against_its_baseline_and_written(
    pg_server: PostgresServer, plain_kafka_servers: str, tmp_path: Path
):
    settings = Settings(
        database_url=pg_server.admin_url,
        kafka_bootstrap_servers=plain_kafka_servers,
        _env_file=None,
    )  # type: ignore[call-arg]
    results = tmp_path / "bench-results.json"

    figures = run_all(settings, TINY, results)

    written = json.loads(results.read_text())
    assert written["machine"]["cpu_count"] == os.cpu_count()
    assert [f["name"] for f in written["figures"]] == [f.name for f in figures]
    assert len(figures) == 12
    for figure in figures:
        assert figure.ours > 0, figure.name
        if figure.baseline is not None:
            assert figure.baseline > 0 and figure.ratio is not None, figure.name
