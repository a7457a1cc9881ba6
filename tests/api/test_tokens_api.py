"""`simpul token` mints with the private key only, within the maximum lifetime, and revokes
tokens (one, or every one of a user) so that the API refuses them within seconds."""

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways import runtime
from gateways.api.app import create_app
from gateways.cli import main
from gateways.eventstore.environment import memory_env
from gateways.tokens import (
    CachedRevocations,
    RevocationSet,
    TokenService,
    private_key_pem,
    public_key_pem,
)
from services.cases import Cases
from services.settings import Settings

REFRESH_SECONDS = 0.2
# Far beyond the refresh interval: a revocation not honoured by then never will be,
# and a slow machine does not fail the test.
HONOURED_WITHIN_SECONDS = 30.0
KEY = Ed25519PrivateKey.generate()
SITI = Actor("siti.intake", Role.INTAKE_OFFICER, Agency.UPTD_PPA, "luwu-utara")
RINA = Actor("rina.pendamping", Role.CASE_WORKER, Agency.UPTD_PPA, "luwu-utara")


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> dict[str, str]:
    """Where `simpul token` runs: the private key, the database, no other development state."""
    values = {
        "SIMPUL_DATABASE_URL": database_url,
        "SIMPUL_DATA_DIR": str(tmp_path),
        "SIMPUL_TOKEN_PRIVATE_KEY": private_key_pem(KEY),
        "SIMPUL_TOKEN_PUBLIC_KEY": public_key_pem(KEY.public_key()),
        "SIMPUL_TOKEN_REVOCATION_REFRESH_SECONDS": str(REFRESH_SECONDS),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def api_client(pg_cases: Cases, environment: dict[str, str]) -> Iterator[TestClient]:
    """The API as `simpul serve` builds it: the public key, revocations from the store."""
    settings = Settings(_env_file=None, token_private_key=None)  # type: ignore[call-arg]
    tokens = runtime.token_service(settings, pg_cases)
    assert not tokens.can_mint
    with TestClient(runtime.api(pg_cases, tokens)) as client:
        yield client


def simpul_token(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["token", *args])
    out, err = capsys.readouterr()
    return code, out.strip(), err


def me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def eventually_refused(client: TestClient, token: str) -> float:
    started = time.monotonic()
    while me(client, token) != 401:
        assert time.monotonic() - started < HONOURED_WITHIN_SECONDS, (
            "the revocation was not honoured"
        )
        time.sleep(REFRESH_SECONDS / 4)
    return time.monotonic() - started


def test_simpul_token_mints_a_token_the_api_accepts_with_the_public_key_alone(
    api_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code, token, err = simpul_token(
        capsys, "--user", "siti.intake", "--role", "intake_officer", "--agency", "uptd_ppa"
    )

    assert code == 0
    assert me(api_client, token) == 200
    claims = TokenService(KEY.public_key()).inspect(token)
    assert claims.expires_at - claims.issued_at == timedelta(hours=12)
    assert f"simpul token --revoke {claims.token_id}" in err


def test_simpul_token_refuses_a_lifetime_beyond_the_maximum(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = simpul_token(
        capsys,
        *("--user", "siti.intake", "--role", "coordinator", "--agency", "uptd_ppa"),
        *("--hours", "876000"),
    )

    assert code == 2
    assert out == ""
    assert "SIMPUL_TOKEN_MAX_HOURS" in err


def test_a_revoked_token_is_refused_within_seconds_and_the_users_other_tokens_are_not(
    api_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = TokenService.minting(KEY)
    leaked, other = tokens.mint(SITI), tokens.mint(SITI)
    by_id = tokens.mint(SITI)
    assert me(api_client, leaked) == me(api_client, by_id) == 200

    revoked_token = simpul_token(capsys, "--revoke", leaked)
    revoked_id = simpul_token(capsys, "--revoke", tokens.inspect(by_id).token_id)

    assert revoked_token[0] == revoked_id[0] == 0
    assert eventually_refused(api_client, leaked) < HONOURED_WITHIN_SECONDS
    assert eventually_refused(api_client, by_id) < HONOURED_WITHIN_SECONDS
    refused = api_client.get("/api/v1/me", headers={"Authorization": f"Bearer {leaked}"})
    assert "revoked" in refused.json()["detail"]
    assert me(api_client, other) == 200


def test_revoking_a_user_refuses_every_token_they_hold_and_no_one_elses(
    api_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = TokenService.minting(KEY)
    sitis = [tokens.mint(SITI), tokens.mint(SITI, ttl=timedelta(hours=1))]
    rinas = tokens.mint(RINA)

    code, out, _ = simpul_token(capsys, "--revoke-user", "siti.intake")

    assert code == 0
    assert "every token of siti.intake" in out
    for token in sitis:
        eventually_refused(api_client, token)
    assert me(api_client, rinas) == 200


def test_a_token_of_another_deployment_cannot_be_revoked_by_mistake(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = TokenService.minting(Ed25519PrivateKey.generate()).mint(SITI)

    code, _, err = simpul_token(capsys, "--revoke", foreign)

    assert code == 2
    assert "not valid for this deployment" in err


def test_in_production_the_api_needs_the_public_key_and_minting_needs_the_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="production",
        database_url="postgresql://simpul@db/simpul",
        database_sslmode="verify-full",
        kafka_bootstrap_servers="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        data_dir=tmp_path,
    )

    with pytest.raises(runtime.NotConfigured):
        runtime.token_service(production)
    with pytest.raises(runtime.NotConfigured):
        runtime.minting_token_service(production)
    assert "SIMPUL_TOKEN_PUBLIC_KEY" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no development key made in production


class UnreachableRevocations:
    def live_revocations(self) -> RevocationSet:
        raise OperationalError("connection refused")


def test_when_revocations_cannot_be_read_a_token_is_not_accepted_on_trust() -> None:
    tokens = TokenService.minting(
        KEY, revocations=CachedRevocations(UnreachableRevocations(), timedelta(seconds=2))
    )
    app = create_app(cases=Cases(env=memory_env()), tokens=tokens)

    with TestClient(app) as client:
        response = client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {tokens.mint(SITI)}"}
        )

    assert response.status_code == 503
