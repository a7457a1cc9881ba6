"""The login's identity seam: the directory's password and code prove a person, as the
login route does, and refuse alike whatever was wrong."""

import pytest
from fastapi.testclient import TestClient

from domain.vocabulary import Agency, Role
from services.accounts import Accounts, LoginRefused
from services.identity import PasswordAndCode, PasswordProof
from tests.api.test_accounts_api import accept, an_email, code_now

pytestmark = pytest.mark.integration

PASSWORD = "Gunung Bromo pagi hari"


def test_the_password_and_the_code_prove_the_directorys_account_and_nothing_else(
    client: TestClient,
):
    accounts: Accounts = client.app.state.accounts  # type: ignore[attr-defined]
    email = an_email("admin")
    invitation = accounts.create_first_administrator(
        email=email, display_name="Admin", district="luwu-utara", agency=Agency.UPTD_PPA
    )
    secret = accept(client, invitation.code)["secret"]
    provider = PasswordAndCode(accounts)

    actor = provider.authenticate(PasswordProof(email, PASSWORD, code_now(secret)))
    with pytest.raises(LoginRefused) as wrong:
        provider.authenticate(PasswordProof(email, "not the password at all"))

    assert (actor.user_id, actor.role, actor.district) == (
        invitation.user_id,
        Role.OFFICE_ADMINISTRATOR,
        "luwu-utara",
    )
    assert wrong.value.reason == "bad_credentials"
