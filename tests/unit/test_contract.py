"""The published message contract: schemas, the AsyncAPI document, and what is produced."""

import copy
import json
from pathlib import Path

import pytest

from gateways.eventstore.environment import memory_env
from gateways.kafka.contract import (
    MessageValidator,
    asyncapi_document,
    incompatibilities,
    load_schemas,
    written_files,
)
from gateways.kafka.publication import Publication
from gateways.kafka.signing import KEY_ID_ATTRIBUTE, SIGNATURE_ATTRIBUTE, MessageSigner
from services.cases import Cases
from services.sharing import SharingPolicy, load_matrix
from tests.support.referred_case import busy_case, consented_case, handed_over_case, refer

FROZEN = Path(__file__).parent / "published_schemas"
SIGNER = MessageSigner.generate("contract-test")


@pytest.fixture
def cases() -> Cases:
    return Cases(env=memory_env())


def produced(cases: Cases) -> list:
    publication = Publication(cases, SharingPolicy(load_matrix()), "simpul")
    notifications = cases.recorder.select_notifications(
        start=0, limit=10_000, inclusive_of_start=False
    )
    return [
        message
        for n in notifications
        for message in publication.messages(n.id, cases.mapper.to_domain_event(n))
    ]


def test_the_checked_in_schemas_and_asyncapi_document_are_up_to_date():
    stale = [
        str(path) for path, text in written_files() if not path.exists() or path.read_text() != text
    ]

    assert stale == [], "run: .venv/bin/python -m gateways.kafka.contract"


def test_every_published_schema_version_stays_compatible_with_its_frozen_copy():
    current = load_schemas()
    frozen = {
        path.name.removesuffix(".json"): json.loads(path.read_text())
        for path in FROZEN.glob("*.json")
    }

    assert set(frozen) == set(current), "freeze new types by copying them to published_schemas/"
    for name, published in frozen.items():
        assert incompatibilities(published, current[name]) == [], name


def test_the_compatibility_check_refuses_incompatible_changes_of_a_version():
    published = load_schemas()["id.simpul.agency.referral.received.v1"]

    def changed(edit) -> list[str]:
        schema = copy.deepcopy(published)
        edit(schema["properties"]["data"])
        return incompatibilities(published, schema)

    assert changed(lambda d: d["required"].remove("due_at"))
    assert changed(lambda d: d["properties"].pop("notes"))
    assert changed(lambda d: d["properties"]["emergency"].update(type="string"))
    assert changed(lambda d: d["properties"]["service_type"]["enum"].append("massage"))
    assert changed(lambda d: d["properties"].update(extra={"type": "string"}))  # closed object
    assert changed(lambda d: d["properties"]["notes"].update(description="why")) == []


def test_every_message_produced_for_a_busy_case_validates_against_its_schema(cases: Cases):
    busy_case(cases)
    handed_over_case(cases)
    validator = MessageValidator()

    messages = produced(cases)

    kinds = {m.cloud_event["type"] for m in messages}
    assert {
        f"id.simpul.agency.{kind}.v1"
        for kind in (
            "case.opened",
            "case.updated",
            "referral.received",
            "referral.updated",
            "case.handed_over",
            "case.closed",
        )
    } <= kinds
    for message in messages:
        assert validator.errors(message.cloud_event) == [], message.cloud_event["type"]
        assert validator.errors(SIGNER.sign(message.cloud_event)) == [], "signed, too"


def test_every_envelope_declares_the_signature_attributes_without_requiring_them():
    """The v1 envelope is open to extension attributes (no additionalProperties: false),
    so declaring the two keeps every frozen v1 schema compatible (checked above); they stay
    optional so a v1 consumer validating by the published schema is not broken by them."""
    for name, schema in load_schemas().items():
        assert schema.get("additionalProperties") is not False, name
        assert {KEY_ID_ATTRIBUTE, SIGNATURE_ATTRIBUTE} <= set(schema["properties"]), name
        assert not {KEY_ID_ATTRIBUTE, SIGNATURE_ATTRIBUTE} & set(schema["required"]), name


def test_withheld_texts_still_validate_against_the_frozen_v1_schemas(cases: Cases):
    # A consumer written against v1 as first published must accept what is sent now.
    handed_over_case(cases)  # before consent: the handover's texts are withheld
    busy_case(cases)  # the school's cancellation reason and pre-consent texts withheld
    frozen = MessageValidator(
        {
            path.name.removesuffix(".json"): json.loads(path.read_text())
            for path in FROZEN.glob("*.json")
        }
    )

    messages = [m.cloud_event for m in produced(cases) if ".agency." in m.cloud_event["type"]]

    handed_over = [m for m in messages if m["type"].endswith("case.handed_over.v1")]
    assert handed_over[0]["data"]["receiving_unit"] == "" and handed_over[0]["data"]["notes"] == ""
    for message in messages:
        assert frozen.errors(message) == [], message["type"]


def test_every_free_text_field_of_an_agency_message_says_it_may_be_withheld():
    schemas = load_schemas()
    texts = {
        "referral.received": ("notes", "referral_record_ref"),
        "referral.updated": ("notes", "reason", "summary"),
        "case.handed_over": ("notes", "receiving_unit"),
    }

    for kind, fields in texts.items():
        data = schemas[f"id.simpul.agency.{kind}.v1"]["properties"]["data"]
        for field in fields:
            assert "empty string" in data["properties"][field]["description"], (kind, field)


def test_the_closing_messages_and_the_asyncapi_document_say_how_long_data_is_kept():
    from services.profiles import load_profiles

    schemas = load_schemas()
    document = asyncapi_document(profiles=load_profiles(agency_retention_days=30))

    for kind in ("case.closed", "case.handed_over"):
        assert (
            "Retention"
            in schemas[f"id.simpul.agency.{kind}.v1"]["properties"]["data"]["description"]
        )
    assert document["info"]["x-simpul-retention"]["districts"] == {
        "kota-batu": 30,
        "kutai-timur": 30,
        "luwu-utara": 30,
        "purwakarta": 30,
        "tanjungpinang": 30,
    }
    assert document["info"]["x-simpul-retention"]["default_days"] == 30
    assert asyncapi_document()["info"]["x-simpul-retention"]["districts"]["luwu-utara"] == 90
    assert "x-simpul-retention" in document["info"]["description"]


def test_messages_are_deterministic_and_their_ids_unique(cases: Cases):
    case_id = consented_case(cases)
    refer(cases, case_id, "police", "legal_process")
    busy_case(cases)

    first, second = produced(cases), produced(cases)

    def sent(messages: list) -> list:
        return [(m.topic, m.key, SIGNER.signed_value(m.cloud_event)) for m in messages]

    assert sent(first) == sent(second), "signed and sent twice, byte for byte the same"
    ids = [(m.topic, m.cloud_event["id"]) for m in first]
    assert len(ids) == len(set(ids))
    assert all(m.key == m.cloud_event["subject"].encode() for m in first)


def test_the_asyncapi_document_describes_each_agency_topic_and_the_reference_subscriber():
    document = asyncapi_document()

    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {"simpul.cases.v1", "simpul.agency.police.v1", "simpul.agency.education.v1"} <= addresses
    assert "examples/agency_subscriber.py" in document["info"]["description"]
    assert document["operations"]["receive_police"]["action"] == "receive"
    education = document["channels"]["agency_education"]["description"]
    assert "assessments" not in education.split("withheld")[0]


def test_the_api_serves_the_asyncapi_document():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from fastapi.testclient import TestClient

    from gateways.api.app import create_app
    from gateways.tokens import TokenService

    app = create_app(
        cases=Cases(env=memory_env()), tokens=TokenService.minting(Ed25519PrivateKey.generate())
    )
    with TestClient(app) as client:
        response = client.get("/asyncapi.json")

    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(asyncapi_document()))


def test_the_api_publishes_the_deployments_signing_keys_in_its_asyncapi_document():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from fastapi.testclient import TestClient

    from gateways.api.app import create_app
    from gateways.kafka.signing import MessageVerifier
    from gateways.tokens import TokenService

    old, new = MessageSigner.generate("2026-01"), MessageSigner.generate("2026-07")
    verifier = MessageVerifier({"2026-01": old.public_key(), "2026-07": new.public_key()})
    app = create_app(
        cases=Cases(env=memory_env()),
        tokens=TokenService(Ed25519PrivateKey.generate().public_key()),
        message_verifier=verifier,
    )
    with TestClient(app) as client:
        keys = client.get("/asyncapi.json").json()["info"]["x-simpul-signing-keys"]["keys"]

    assert keys == [
        {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x}
        for kid, x in (("2026-01", old.public_key()), ("2026-07", new.public_key()))
    ]
    checked_in = asyncapi_document()["info"]["x-simpul-signing-keys"]
    assert checked_in["keys"] == [], "the repository's copy names no deployment's keys"
    assert "simpulsignature" in asyncapi_document()["info"]["description"]


def test_a_schema_violation_is_described_without_quoting_the_message_data():
    message = {
        "type": "id.simpul.agency.case.opened.v1",
        "data": {"case_id": "x", "district": 7, "facts": {"victim": "Mawar, 12, Baebunta"}},
    }

    errors = MessageValidator().errors(message)

    assert errors
    assert "Mawar" not in str(errors)
    assert "data: 'register_number' is a required property" in errors


def test_any_json_at_all_gets_a_reason_rather_than_an_exception():
    validator = MessageValidator()

    for message in (
        [1, 2],
        "text",
        7,
        None,
        {},
        {"type": ["id.simpul.agency.case.opened.v1"]},
        {"type": {"nested": 1}},
        {"type": 3},
    ):
        assert validator.errors(message), message


def test_formats_are_checked_so_a_time_that_is_no_date_is_refused(cases: Cases):
    consented_case(cases)
    message = produced(cases)[0].cloud_event
    validator = MessageValidator()

    assert validator.errors(message) == []
    assert validator.errors({**message, "time": "yesterday"}) == ["time: violates 'format'"]
    assert validator.errors({**message, "time": "2026-03-02T08:00:00"}) == [
        "time: violates 'format'"
    ]  # no offset
    assert validator.errors({**message, "subject": "nope"}) == ["subject: violates 'format'"]


def test_a_nul_anywhere_in_a_message_is_refused_before_the_database_can_quote_it(cases: Cases):
    consented_case(cases)
    message = produced(cases)[0].cloud_event
    poisoned = {**message, "data": {**message["data"], "register_number": "Mawar\x00Baebunta"}}

    errors = MessageValidator().errors(poisoned)

    assert errors == ["data/register_number: holds a NUL character"]
    assert "Mawar" not in str(errors)
