"""How a login proves who someone is: the seam an office's own identity provider plugs into.

Today a person proves themself with their password and, where due, a one-time code
(``PasswordAndCode``, over services/accounts.py). An office that runs its own identity
provider (an OpenID Connect one: a provincial single sign-on, Keycloak, Google
Workspace) would add a second ``IdentityProvider``, not change the first:

1. Authorization code flow with PKCE: the login page sends the browser to the
   provider's authorization endpoint (``response_type=code``, ``scope=openid email``, a
   ``state`` and a ``nonce`` kept in the pre-login cookie); the provider sends it back
   with a code, which the API exchanges at the token endpoint, as a confidential
   client, for an ID token.
2. The ID token is checked as an access token is here (gateways/tokens.py): signature
   against the provider's published keys (JWKS, cached), ``iss`` the configured
   provider, ``aud`` this deployment's client id, ``exp``/``iat`` with the same skew,
   and the ``nonce`` the one sent.
3. The ``sub`` claim (stable, unlike an address) names the person at the provider; the
   first login links it to a directory account by the ``email`` claim, only where the
   provider asserts ``email_verified`` and the address is an active account's, and
   every later login finds the account by the linked ``sub`` alone.
4. The directory still decides: the Actor is the account's role, agency and district
   (``StaffRecord.actor``), never a claim or group the provider sends, and a
   deactivated account is refused whatever the provider says. Offboarding stays in
   Simpul (deactivation revokes the tokens); the provider only proves identity.
   Whether the provider's login satisfies the second factor the role needs
   (domain/staff.py SECOND_FACTOR_ROLES) is its ``amr``/``acr`` claim's to say, checked
   against the deployment's setting; if not, the person still gives Simpul's code.

Whatever proves the person, the answer is the same: the Actor a token or a browser
session is issued for, or LoginRefused with a rule that names no one.
"""

from dataclasses import dataclass
from typing import Protocol, TypeVar

from domain.actors import Actor
from services.accounts import Accounts


@dataclass(frozen=True)
class PasswordProof:
    """What a person types at the login form."""

    email: str
    password: str
    one_time_code: str | None = None


# What the provider is shown: a form, an authorization code; it only takes one in.
Proof_contra = TypeVar("Proof_contra", contravariant=True)


class IdentityProvider(Protocol[Proof_contra]):
    """Proves who someone is from what they present; refuses with
    services.accounts.LoginRefused."""

    def authenticate(self, proof: Proof_contra) -> Actor: ...


class PasswordAndCode(IdentityProvider[PasswordProof]):
    """The directory's own proof: the password, then the one-time code where due."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def authenticate(self, proof: PasswordProof) -> Actor:
        return self.accounts.login(proof.email, proof.password, proof.one_time_code)
