"""Password rules (ASVS 5.0 V6.2: length, no composition rules, no common passwords) and
argon2id hashes that check only the password they were made from."""

import pytest

from domain.errors import InvalidValue
from services.passwords import hash_password, password_matches, require_acceptable


@pytest.mark.parametrize(
    "password", ["Gunung Bromo pagi hari", "kopi-tubruk-dan-pisang", "8888 7777 1234"]
)
def test_long_enough_passwords_of_any_composition_are_accepted(password: str):
    require_acceptable(password)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("pendek", "at least 12"),
        ("a" * 129, "at most 128"),
        ("passwordpassword", "too common"),
        ("Indonesia1945", "too common"),
        ("aaaaaaaaaaaaaa", "too common"),
    ],
)
def test_short_long_and_common_passwords_are_refused_without_repeating_them(
    password: str, message: str
):
    with pytest.raises(InvalidValue) as refused:
        require_acceptable(password)

    assert refused.value.field == "password"
    assert message in str(refused.value) and password not in str(refused.value)


def test_a_hash_checks_its_own_password_only_and_never_holds_it():
    stored = hash_password("Gunung Bromo pagi hari")

    assert stored.startswith("$argon2id$") and "Bromo" not in stored
    assert password_matches(stored, "Gunung Bromo pagi hari")
    assert not password_matches(stored, "gunung bromo pagi hari")


def test_no_hash_matches_no_password():
    assert not password_matches(None, "simpul-decoy-password-never-matches")
    assert not password_matches("not a hash", "anything at all")
