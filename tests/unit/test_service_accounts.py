"""Service accounts' pure parts: the key's format, what a key's scopes open, the history."""

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.routing import APIRoute, iter_route_contexts

from domain.actors import Actor, acting_as
from domain.errors import InvalidValue, RuleViolated
from domain.service_accounts import Scope, ServiceAccount
from domain.vocabulary import Agency, Role
from gateways.api.app import API_PREFIX, create_app
from gateways.tokens import TokenService
from services.access import AccessDenied
from services.cases import Cases
from services.service_accounts import (
    KEY_PREFIX,
    ApiKey,
    ServiceCaller,
    is_api_key,
    parse_key,
    require_scope,
    required_scope,
    secret_hash,
)

ADMIN = Actor("admin.luwu", Role.OFFICE_ADMINISTRATOR, Agency.UPTD_PPA, "luwu-utara")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_key_is_prefixed_names_its_id_and_carries_256_random_bits():
    key = ApiKey.generate()

    assert key.text.startswith(KEY_PREFIX + key.key_id + "_")
    assert len(key.key_id) == 16 and int(key.key_id, 16) >= 0
    assert len(key.secret) == 43  # 32 bytes, base64url without padding
    assert parse_key(key.text) == key
    assert ApiKey.generate() != key


def test_a_key_is_told_from_a_jwt_by_its_prefix():
    key = ApiKey.generate()

    assert is_api_key(key.text)
    assert not is_api_key("eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.e30.sig")


@pytest.mark.parametrize(
    "text",
    [
        "simpul_sk_",
        "simpul_sk_0123456789abcdef",
        "simpul_sk_0123456789ABCDEF_" + "a" * 43,
        "simpul_sk_0123456789abcdef_" + "a" * 42,
        "simpul_sk_0123456789abcdef_" + "a" * 44,
        "simpul_sk_0123456789abcdef_" + "a" * 42 + "=",
        "simpul_sk_0123456789abcdef_" + "a" * 42 + "\x00",
    ],
)
def test_a_credential_not_of_the_keys_shape_is_no_key(text: str):
    assert parse_key(text) is None


def test_only_the_secrets_hash_is_kept_and_the_key_never_shows_in_its_repr():
    key = ApiKey.generate()

    assert key.secret_hash == secret_hash(key.secret) != key.secret
    assert len(key.secret_hash) == 64
    assert key.secret not in repr(key) and key.text not in repr(key)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/agencies/{agency}/referrals", Scope.INBOX_READ),
        ("GET", "/agencies/{agency}/referrals/{referral_id}", Scope.INBOX_READ),
        ("GET", "/agencies/{agency}/handovers", Scope.INBOX_READ),
        ("GET", "/agencies/{agency}/cases/{case_id}/documents", Scope.INBOX_READ),
        (
            "GET",
            "/agencies/{agency}/cases/{case_id}/documents/{document_id}",
            Scope.INBOX_READ,
        ),
        (
            "POST",
            "/cases/{case_id}/referrals/{referral_id}/acceptance",
            Scope.REFERRALS_ANSWER,
        ),
        ("POST", "/cases/{case_id}/referrals/{referral_id}/decline", Scope.REFERRALS_ANSWER),
        (
            "POST",
            "/cases/{case_id}/referrals/{referral_id}/deliveries",
            Scope.REFERRALS_ANSWER,
        ),
        (
            "POST",
            "/cases/{case_id}/referrals/{referral_id}/progress-notes",
            Scope.REFERRALS_ANSWER,
        ),
        ("POST", "/cases/{case_id}/handover-acknowledgement", Scope.REFERRALS_ANSWER),
        # Office steps, the office's reads and the accounts are closed to every key.
        ("POST", "/cases/{case_id}/referrals/{referral_id}/cancellation", None),
        ("POST", "/cases/{case_id}/referrals", None),
        ("POST", "/cases", None),
        ("GET", "/cases/{case_id}", None),
        ("GET", "/cases", None),
        ("POST", "/service-accounts", None),
        ("POST", "/staff", None),
        ("POST", "/agencies/{agency}/referrals", None),
    ],
)
def test_each_route_needs_the_scope_it_maps_to(method: str, path: str, scope: Scope | None):
    assert required_scope(method, path) == scope


def _api_routes() -> list[tuple[str, APIRoute]]:
    """Each API route with its path under /api/v1, as deps.current_actor finds it."""
    app = create_app(cases=Cases(), tokens=TokenService.minting(Ed25519PrivateKey.generate()))
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path.startswith(API_PREFIX + "/"):
            # The route as a request's scope names it: its path without the API's prefix.
            assert context.path == API_PREFIX + route.path.removeprefix(API_PREFIX)
            found.append((route.path.removeprefix(API_PREFIX), route))
    return found


def test_keys_open_only_the_inbox_reads_and_the_agencys_answers_of_the_whole_api():
    routes = _api_routes()
    opened = {
        (method, path)
        for path, route in routes
        for method in route.methods
        if required_scope(method, path) is not None
    }

    assert len(routes) > 50

    # Every route a key may call, so that a route added later is closed until listed.
    assert opened == {
        ("GET", "/agencies/{agency}/referrals"),
        ("GET", "/agencies/{agency}/referrals/{referral_id}"),
        ("GET", "/agencies/{agency}/handovers"),
        ("GET", "/agencies/{agency}/cases/{case_id}/documents"),
        ("GET", "/agencies/{agency}/cases/{case_id}/documents/{document_id}"),
        ("POST", "/cases/{case_id}/referrals/{referral_id}/acceptance"),
        ("POST", "/cases/{case_id}/referrals/{referral_id}/decline"),
        ("POST", "/cases/{case_id}/referrals/{referral_id}/deliveries"),
        ("POST", "/cases/{case_id}/referrals/{referral_id}/progress-notes"),
        ("POST", "/cases/{case_id}/handover-acknowledgement"),
        ("POST", "/cases/{case_id}/handback"),
    }


def test_a_key_without_the_scope_is_refused_naming_it_and_an_unmapped_route_is_closed():
    police = Actor("service:x", Role.AGENCY_OFFICER, Agency.POLICE, "luwu-utara")
    reader = ServiceCaller(police, frozenset({Scope.INBOX_READ}), "0123456789abcdef")

    require_scope(reader, "GET", "/agencies/{agency}/referrals")
    with pytest.raises(AccessDenied) as lacking:
        require_scope(reader, "POST", "/cases/{case_id}/referrals/{referral_id}/acceptance")
    with pytest.raises(AccessDenied) as closed:
        require_scope(reader, "POST", "/cases/{case_id}/classification")

    assert lacking.value.rule == "scope_required" and "referrals:answer" in lacking.value.message
    assert closed.value.rule == "not_for_service_accounts"


def created() -> ServiceAccount:
    with acting_as(ADMIN, NOW):
        account = ServiceAccount.create(
            name=" Sistem  Polres ",
            agency=Agency.POLICE,
            district="luwu-utara",
            scopes=[Scope.REFERRALS_ANSWER, Scope.INBOX_READ],
        )
        account.issue_key("0123456789abcdef")
    return account


def test_creation_records_who_created_which_system_with_which_scopes():
    account = created()

    first, issued = account.collect_events()
    assert isinstance(first, ServiceAccount.Created) and first.actor["user_id"] == "admin.luwu"
    assert (first.name, first.agency, first.scopes) == (
        "Sistem Polres",
        "police",
        ["inbox:read", "referrals:answer"],
    )
    assert isinstance(issued, ServiceAccount.KeyIssued) and issued.key_id == "0123456789abcdef"
    assert account.user_id == f"service:{account.id}"


def test_a_service_account_needs_a_scope_and_a_name():
    with acting_as(ADMIN, NOW), pytest.raises(InvalidValue) as no_scope:
        ServiceAccount.create(name="x", agency=Agency.POLICE, district="luwu-utara", scopes=[])
    with acting_as(ADMIN, NOW), pytest.raises(InvalidValue) as no_name:
        ServiceAccount.create(
            name=" ", agency=Agency.POLICE, district="luwu-utara", scopes=[Scope.INBOX_READ]
        )

    assert (no_scope.value.field, no_name.value.field) == ("scopes", "name")


def test_a_revoked_key_cannot_be_revoked_again_and_deactivation_ends_every_key():
    account = created()
    with acting_as(ADMIN, NOW):
        account.issue_key("fedcba9876543210")
        account.revoke_key("0123456789abcdef")
        with pytest.raises(RuleViolated) as again:
            account.revoke_key("0123456789abcdef")
        account.deactivate(reason="  the police replaced\nthe system ")
        with pytest.raises(RuleViolated) as inactive:
            account.issue_key("0000000000000000")

    assert again.value.rule == "key_not_live" and inactive.value.rule == "account_inactive"
    assert account.live_keys == set() and not account.active
    assert account.collect_events()[-1].reason == "the police replaced the system"
