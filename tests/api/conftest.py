from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.api.main import create_app
from gateways.tokens import TokenService
from services.cases import Cases

DISTRICT = "luwu-utara"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(secret="test-secret-" + "x" * 40)


@pytest.fixture
def client(pg_cases: Cases, tokens: TokenService) -> Iterator[TestClient]:
    with TestClient(create_app(cases=pg_cases, tokens=tokens)) as test_client:
        yield test_client


@pytest.fixture
def auth(tokens: TokenService) -> Headers:
    """Headers for a caller: auth("intake_officer"), auth("agency_officer", agency="police")."""

    def headers(
        role: str,
        *,
        agency: str = "uptd_ppa",
        user: str | None = None,
        district: str = DISTRICT,
        **extra: str,
    ) -> dict[str, str]:
        actor = Actor(user or f"{role}.{agency}", Role(role), Agency(agency), district)
        return {"Authorization": f"Bearer {tokens.mint(actor)}", **extra}

    return headers
