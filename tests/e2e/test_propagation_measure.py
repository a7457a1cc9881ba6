"""The propagation measurement runs against configured services and reports what it measured."""

from pathlib import Path

from benchmarks.propagation import measure_propagation
from services.settings import Settings
from tests.support.infrastructure import PostgresServer


def test_measuring_propagation_times_every_referral_from_commit_to_the_agency_projection(
    pg_server: PostgresServer, plain_kafka_servers: str, tmp_path: Path
):
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=pg_server.admin_url,
        kafka_bootstrap_servers=plain_kafka_servers,
        data_dir=tmp_path,
        database_pool_size=4,
    )

    result = measure_propagation(settings, events=12, rate=40, agency="health")

    assert len(result.from_commit) == 12
    assert all(seconds > 0 for seconds in result.from_commit)
    summary = result.summary()
    assert summary["median_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert "12 referrals to health" in result.report()
