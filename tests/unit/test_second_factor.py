"""TOTP (RFC 6238) as authenticator apps compute it, and a code never accepted twice."""

from datetime import UTC, datetime

from services.second_factor import code_at, matching_step, new_secret, provisioning_uri, step_at

# RFC 6238 appendix B's key, "12345678901234567890", in base32.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_codes_are_the_rfc_6238_test_vectors_cut_to_six_digits():
    assert code_at(RFC_SECRET, step_at(at(59))) == "287082"
    assert code_at(RFC_SECRET, step_at(at(1111111109))) == "081804"
    assert code_at(RFC_SECRET, step_at(at(2000000000))) == "279037"


def test_a_code_of_the_step_before_or_after_is_accepted_for_clock_drift():
    now = at(1111111109)
    earlier = code_at(RFC_SECRET, step_at(now) - 1)
    later = code_at(RFC_SECRET, step_at(now) + 1)

    assert matching_step(RFC_SECRET, earlier, now, after=None) == step_at(now) - 1
    assert matching_step(RFC_SECRET, later, now, after=None) == step_at(now) + 1
    assert matching_step(RFC_SECRET, code_at(RFC_SECRET, step_at(now) + 2), now, after=None) is None


def test_a_code_once_used_cannot_be_replayed():
    now = at(1111111109)
    code = code_at(RFC_SECRET, step_at(now))
    used = matching_step(RFC_SECRET, code, now, after=None)

    assert used == step_at(now)
    assert matching_step(RFC_SECRET, code, now, after=used) is None


def test_malformed_codes_match_nothing():
    now = at(59)
    for code in ("", "28708", "2870821", "28708a", "------"):
        assert matching_step(RFC_SECRET, code, now, after=None) is None
    assert matching_step(RFC_SECRET, "287 082", now, after=None) == step_at(now)


def test_new_secrets_differ_and_the_uri_names_the_issuer_and_the_key():
    first, second = new_secret(), new_secret()

    assert first != second and len(first) == 32
    uri = provisioning_uri(first, "rina@uptd.example")
    assert uri.startswith("otpauth://totp/Simpul%3Arina%40uptd.example?")
    assert f"secret={first}" in uri and "issuer=Simpul" in uri
