"""Signed messages: what the relay signs verifies; anything else is refused, by Simpul's
projector and by the reference subscriber alike."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from gateways.eventstore.environment import memory_env
from gateways.kafka.contract import MessageValidator, asyncapi_document
from gateways.kafka.messages import encode
from gateways.kafka.projector import parse
from gateways.kafka.publication import Publication
from gateways.kafka.signing import (
    KEY_ID_ATTRIBUTE,
    SIGNATURE_ATTRIBUTE,
    MessageSigner,
    MessageVerifier,
)
from services.cases import Cases
from services.sharing import SharingPolicy, load_matrix
from tests.support.referred_case import consented_case, refer

REPOSITORY = Path(__file__).resolve().parents[2]
RELAY = MessageSigner.generate("2026-12")
VERIFIER = MessageVerifier({RELAY.key_id: RELAY.public_key()})


def subscriber() -> ModuleType:
    """examples/agency_subscriber.py, which is no package module: loaded from its path."""
    spec = importlib.util.spec_from_file_location(
        "agency_subscriber", REPOSITORY / "examples" / "agency_subscriber.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def referral() -> dict[str, Any]:
    """A real referral.received for the police, as the relay derives it from the store."""
    cases = Cases(env=memory_env())
    case_id = consented_case(cases)
    refer(cases, case_id, "police", "legal_process")
    publication = Publication(cases, SharingPolicy(load_matrix()), "simpul")
    for notification in cases.recorder.select_notifications(0, 1000, inclusive_of_start=False):
        for message in publication.messages(
            notification.id, cases.mapper.to_domain_event(notification)
        ):
            if message.cloud_event["type"] == "id.simpul.agency.referral.received.v1":
                return message.cloud_event
    raise AssertionError("no referral.received derived")


def forged(genuine: dict[str, Any]) -> dict[str, Any]:
    """The review's forgery: the same referral, its notes rewritten."""
    return {**genuine, "data": {**genuine["data"], "notes": "arrest the reporter"}}


def record(value: bytes) -> SimpleNamespace:
    return SimpleNamespace(value=value, topic="simpul.agency.police.v1", partition=0, offset=0)


def test_a_message_the_relay_signed_verifies_and_signing_again_gives_the_same_bytes(referral):
    value = RELAY.signed_value(referral)

    assert VERIFIER.refusal(value, json.loads(value)) is None
    assert RELAY.signed_value(referral) == value, "a republished message is byte-identical"
    signed = json.loads(value)
    assert signed[KEY_ID_ATTRIBUTE] == "2026-12"
    assert len(signed[SIGNATURE_ATTRIBUTE]) == 86


def test_a_signed_message_changed_afterwards_is_refused(referral):
    signed = json.loads(RELAY.signed_value(referral))
    changed = [
        forged(signed),
        {**signed, "type": "id.simpul.agency.case.closed.v1"},
        {**signed, "subject": "00000000-0000-0000-0000-000000000000"},
        {**signed, "simpulsequence": signed["simpulsequence"] + 1},
        {key: value for key, value in signed.items() if key != "time"},
    ]

    for message in changed:
        assert VERIFIER.refusal(encode(message), message) == "the signature does not verify"


def test_unsigned_messages_and_messages_signed_with_a_key_not_given_are_refused(referral):
    unsigned = forged(referral)
    attacker = MessageSigner.generate("2026-12")  # claims the relay's key id
    impostor = MessageSigner.generate("attacker")
    with_stolen_id = json.loads(attacker.signed_value(forged(referral)))
    with_own_id = json.loads(impostor.signed_value(forged(referral)))

    assert "not signed" in (VERIFIER.refusal(encode(unsigned), unsigned) or "")
    assert VERIFIER.refusal(encode(with_stolen_id), with_stolen_id) == (
        "the signature does not verify"
    )
    assert "unknown key id" in (VERIFIER.refusal(encode(with_own_id), with_own_id) or "")


def test_a_signed_message_sent_in_another_encoding_is_refused(referral):
    """What was verified must be what is parsed: no extra whitespace, no duplicate keys
    (a parser keeping the first of two "data" keys would see another message)."""
    value = RELAY.signed_value(referral)
    signed = json.loads(value)
    spaced = json.dumps(signed, sort_keys=True).encode()
    duplicate = b'{"data":{"notes":"arrest the reporter"},' + value[1:]

    for variant in (spaced, duplicate, json.dumps(signed, ensure_ascii=True).encode()):
        if variant == value:
            continue
        assert VERIFIER.refusal(variant, json.loads(variant)) == (
            "not in canonical form: the bytes differ from what was signed"
        )


def test_during_a_key_rotation_messages_signed_with_either_key_verify(referral):
    old, new = MessageSigner.generate("2026-06"), MessageSigner.generate("2026-12")
    both = MessageVerifier({old.key_id: old.public_key(), new.key_id: new.public_key()})
    only_new = MessageVerifier({new.key_id: new.public_key()})

    for signer in (old, new):
        value = signer.signed_value(referral)
        assert both.refusal(value, json.loads(value)) is None
    retired = old.signed_value(referral)
    assert "unknown key id" in (only_new.refusal(retired, json.loads(retired)) or "")


def test_the_projector_refuses_a_forged_referral_before_it_believes_anything_else(referral):
    validator = MessageValidator()
    genuine = RELAY.signed_value(referral)
    forgeries = {
        "unsigned": encode(forged(referral)),
        "re-signed by another key": MessageSigner.generate("x").signed_value(forged(referral)),
        "changed after signing": encode(forged(json.loads(genuine))),
    }

    assert parse(record(genuine), validator, VERIFIER) == (json.loads(genuine), None)
    for name, value in forgeries.items():
        cloud_event, reason = parse(record(value), validator, VERIFIER)
        assert cloud_event is None, name
        assert reason, name
        assert "arrest" not in reason and referral["data"]["register_number"] not in reason


def test_the_reference_subscriber_accepts_and_refuses_exactly_what_simpul_does(referral):
    example = subscriber()
    document = asyncapi_document(verifier=VERIFIER)
    keys_file = REPOSITORY / "docs" / "asyncapi.json"  # holds no key: the deployment's does
    genuine = RELAY.signed_value(referral)
    cases = [
        genuine,
        encode(forged(referral)),
        MessageSigner.generate("2026-12").signed_value(forged(referral)),
        encode(forged(json.loads(genuine))),
        json.dumps(json.loads(genuine)).encode(),
        b"not json",
        b"[1, 2]",
    ]

    keys = {
        key["kid"]: example.Ed25519PublicKey.from_public_bytes(example.from_b64url(key["x"]))
        for key in document["info"]["x-simpul-signing-keys"]["keys"]
    }
    for value in cases:
        message, _ = example.refusal(value, keys)
        parsed, _ = parse(record(value), MessageValidator(), VERIFIER)
        assert (message is None) == (parsed is None), value[:60]
    with pytest.raises(SystemExit):
        example.load_keys(str(keys_file))


def test_a_verifier_refuses_to_start_without_a_well_formed_key():
    with pytest.raises(ValueError, match="no key"):
        MessageVerifier({})
    with pytest.raises(ValueError, match="32 bytes"):
        MessageVerifier({"k": "c2hvcnQ"})
    with pytest.raises(ValueError, match="key id"):
        MessageSigner.generate("not a key id!")
    with pytest.raises(ValueError, match="32 bytes"):
        MessageSigner.from_text("k", "too-short")
