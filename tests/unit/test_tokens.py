"""Bearer tokens: Ed25519-signed access tokens with a capped lifetime, a type, an audience,
and revocation per token and per user."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.tokens import (
    CLOCK_SKEW,
    CachedRevocations,
    CannotMint,
    InvalidToken,
    RevocationSet,
    TokenClaims,
    TokenLifetimeTooLong,
    TokenService,
    UnusableKey,
    development_key_files,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from services.settings import Settings

SITI = Actor("siti.intake", Role.INTAKE_OFFICER, Agency.UPTD_PPA, "luwu-utara")
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def minting(**options: object) -> TokenService:
    return TokenService.minting(KEY, clock=lambda: NOW, **options)  # type: ignore[arg-type]


def claims_of(actor: Actor = SITI, **overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": actor.user_id,
        "role": actor.role.value,
        "agency": actor.agency.value,
        "district": actor.district,
        "iss": "simpul",
        "aud": "simpul-api",
        "iat": int(datetime.now(UTC).timestamp()),
        "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp()),
        "jti": "token-1",
    }
    claims.update(overrides)
    return claims


def signed(claims: dict[str, object], *, typ: str | None = "at+jwt") -> str:
    headers = {"typ": typ} if typ is not None else {}
    return jwt.encode(claims, KEY, algorithm="EdDSA", headers=headers)


def test_a_minted_token_names_the_caller_to_a_verifier_holding_only_the_public_key():
    token = TokenService.minting(KEY).mint(SITI)

    assert TokenService(KEY.public_key()).verify(token) == SITI


def test_a_verifier_without_the_private_key_cannot_mint():
    with pytest.raises(CannotMint):
        TokenService(KEY.public_key()).mint(SITI)


def test_a_correctly_signed_hundred_year_token_is_refused():
    now = datetime.now(UTC)
    century = signed(claims_of(exp=int((now + timedelta(days=36_500)).timestamp())))

    with pytest.raises(InvalidToken) as caught:
        TokenService(KEY.public_key()).verify(century)

    assert caught.value.reason == "token_lifetime_exceeded"


def test_a_token_within_a_longer_configured_maximum_is_accepted():
    now = datetime.now(UTC)
    day = signed(claims_of(exp=int((now + timedelta(hours=24)).timestamp())))

    assert TokenService(KEY.public_key(), max_lifetime=timedelta(hours=24)).verify(day) == SITI


def test_minting_a_token_longer_than_the_maximum_is_refused():
    with pytest.raises(TokenLifetimeTooLong):
        minting().mint(SITI, ttl=timedelta(hours=876_000))


def test_a_default_lifetime_beyond_the_maximum_is_refused():
    with pytest.raises(TokenLifetimeTooLong):
        TokenService(KEY.public_key(), ttl=timedelta(hours=24), max_lifetime=timedelta(hours=8))


def test_the_settings_refuse_a_default_lifetime_beyond_the_maximum():
    with pytest.raises(ValueError, match="SIMPUL_TOKEN_MAX_HOURS"):
        Settings(_env_file=None, token_ttl_hours=24, token_max_hours=12)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (signed(claims_of(), typ=None), "token_wrong_type"),
        (signed(claims_of(), typ="JWT"), "token_wrong_type"),
        (signed(claims_of(), typ="refresh+jwt"), "token_wrong_type"),
        (signed(claims_of(aud="another-api")), "token_invalid"),
        (signed(claims_of(iss="another-deployment")), "token_invalid"),
        (signed({k: v for k, v in claims_of().items() if k != "aud"}), "token_invalid"),
        (signed({k: v for k, v in claims_of().items() if k != "jti"}), "token_invalid"),
        (signed(claims_of(district=["luwu-utara"])), "token_invalid"),
        (signed(claims_of(role="superuser")), "token_invalid"),
    ],
    ids=[
        "no type",
        "a bare JWT",
        "a refresh token",
        "another audience",
        "another issuer",
        "no audience",
        "no token id",
        "a district that is not text",
        "an unknown role",
    ],
)
def test_a_token_of_the_wrong_type_audience_issuer_or_shape_is_refused(token: str, reason: str):
    with pytest.raises(InvalidToken) as caught:
        TokenService(KEY.public_key()).verify(token)

    assert caught.value.reason == reason


def _encoded(header: dict[str, object], signature: bytes, secret: bytes | None = None) -> str:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head_and_body = ".".join(
        part(json.dumps(value, separators=(",", ":")).encode()) for value in (header, claims_of())
    )
    if secret is not None:
        signature = hmac.new(secret, head_and_body.encode(), hashlib.sha256).digest()
    return f"{head_and_body}.{part(signature)}"


@pytest.mark.parametrize(
    "forged",
    [
        _encoded({"alg": "none", "typ": "at+jwt"}, b""),
        _encoded(
            {"alg": "HS256", "typ": "at+jwt"}, b"", secret=public_key_pem(KEY.public_key()).encode()
        ),
    ],
    ids=["unsigned", "HMAC keyed with the public key"],
)
def test_a_token_signed_another_way_than_ed25519_is_refused(forged: str):
    with pytest.raises(InvalidToken):
        TokenService(KEY.public_key()).verify(forged)


def test_a_token_issued_in_the_future_is_refused():
    later = datetime.now(UTC) + timedelta(hours=2)
    token = signed(
        claims_of(iat=int(later.timestamp()), exp=int((later + timedelta(hours=1)).timestamp()))
    )

    with pytest.raises(InvalidToken) as caught:
        TokenService(KEY.public_key()).verify(token)

    assert caught.value.reason == "token_not_yet_valid"


def test_an_expired_token_is_refused_but_can_still_be_inspected_for_revocation():
    tokens = TokenService.minting(KEY)
    expired = tokens.mint(SITI, ttl=timedelta(seconds=-1))

    with pytest.raises(InvalidToken) as caught:
        tokens.verify(expired)

    assert caught.value.reason == "token_expired"
    assert tokens.inspect(expired, check_expiry=False).actor == SITI


class FixedRevocations:
    def __init__(self, revocations: RevocationSet) -> None:
        self.revocations = revocations
        self.loads = 0

    def live_revocations(self) -> RevocationSet:
        self.loads += 1
        return self.revocations


def test_a_revoked_token_is_refused_and_another_of_the_same_user_is_not():
    tokens = TokenService.minting(KEY)
    first, second = tokens.mint(SITI), tokens.mint(SITI)
    revoked = RevocationSet(token_ids=frozenset({tokens.inspect(first).token_id}))
    checking = TokenService.minting(
        KEY, revocations=CachedRevocations(FixedRevocations(revoked), timedelta(seconds=2))
    )

    with pytest.raises(InvalidToken) as caught:
        checking.verify(first)

    assert caught.value.reason == "token_revoked"
    assert checking.verify(second) == SITI


def test_revoking_a_user_refuses_their_tokens_issued_until_then_and_not_later_ones():
    revoked_at = NOW
    revocations = RevocationSet(users_revoked_at={SITI.user_id: revoked_at})

    def claims(issued_at: datetime, actor: Actor = SITI) -> TokenClaims:
        return TokenClaims(actor, "t", issued_at, issued_at + timedelta(hours=1))

    other = Actor("rina", Role.CASE_WORKER, Agency.UPTD_PPA, "luwu-utara")
    assert revocations.revokes(claims(revoked_at - timedelta(hours=3)))
    assert revocations.revokes(claims(revoked_at + CLOCK_SKEW))  # a minting clock running ahead
    assert not revocations.revokes(claims(revoked_at + CLOCK_SKEW + timedelta(seconds=1)))
    assert not revocations.revokes(claims(revoked_at - timedelta(hours=3), other))


def test_revocations_are_read_from_their_store_at_most_once_per_refresh_interval():
    tokens = TokenService.minting(KEY)
    token = tokens.mint(SITI)
    source = FixedRevocations(RevocationSet())
    clock = [100.0]
    checking = TokenService.minting(
        KEY, revocations=CachedRevocations(source, timedelta(seconds=2), lambda: clock[0])
    )

    for _ in range(50):
        checking.verify(token)
    source.revocations = RevocationSet(token_ids=frozenset({tokens.inspect(token).token_id}))
    clock[0] += 1.9
    checking.verify(token)
    clock[0] += 0.1

    with pytest.raises(InvalidToken):
        checking.verify(token)
    assert source.loads == 2


def test_keys_round_trip_through_pem_and_only_ed25519_keys_are_accepted(tmp_path):
    assert load_private_key(private_key_pem(KEY)).public_key() == KEY.public_key()
    one_line = public_key_pem(KEY.public_key()).replace("\n", "\\n")
    assert load_public_key(one_line) == KEY.public_key()
    other_curve = ec.generate_private_key(ec.SECP256R1())
    other_pem = other_curve.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(UnusableKey):
        load_private_key(other_pem)
    with pytest.raises(UnusableKey):
        load_public_key("not a key")
    with pytest.raises(UnusableKey):
        TokenService(Ed25519PrivateKey.generate().public_key(), signing_key=KEY)


def test_development_keys_are_made_once_with_the_private_key_readable_by_its_owner_only(
    tmp_path,
):
    private_file, public_file = development_key_files(tmp_path)
    again = development_key_files(tmp_path)

    assert again == (private_file, public_file)
    assert private_file.stat().st_mode & 0o077 == 0
    key = load_private_key(private_file.read_text())
    assert key.public_key() == load_public_key(public_file.read_text())
