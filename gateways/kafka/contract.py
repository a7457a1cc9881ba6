"""The message contract: one JSON Schema per message type and version, and the AsyncAPI 3 document.

The schemas in ``gateways/kafka/schemas/`` and the document in
``docs/asyncapi.json`` are generated from the code (the agency message models
in ``messages.py``, the case event classes of ``domain/case.py``) and checked
in; tests fail when they are out of date, and when a published schema version
changed incompatibly (see ``incompatibilities``). Regenerate with::

    .venv/bin/python -m gateways.kafka.contract
"""

import dataclasses
import inspect
import json
import sys
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import BaseModel, create_model

from domain.case import CASE_EVENT_TYPES, Case
from domain.events import STAMP_FIELDS
from domain.sharing_matrix import MESSAGE_KINDS, SharingMatrix
from gateways.kafka import signing
from gateways.kafka.messages import (
    AGENCY_DATA_MODELS,
    AGENCY_DESCRIPTIONS,
    CONTENT_TYPE,
    agency_message_type,
    agency_topic,
    case_event_type,
    cases_topic,
)
from services.profiles import ProfileBook, load_profiles
from services.settings import KEY_ID_PATTERN
from services.sharing import load_matrix

SCHEMA_DIR = Path(__file__).parent / "schemas"
REPOSITORY = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = REPOSITORY / "docs" / "asyncapi.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def case_event_classes() -> list[type[Case.Event]]:
    return sorted(CASE_EVENT_TYPES, key=lambda cls: cls.__name__)


def event_description(event_class: type) -> str:
    """The docstring the event was declared with (not the one dataclasses generate)."""
    for klass in event_class.__mro__:
        doc = klass.__dict__.get("__doc__")
        if isinstance(doc, str) and not doc.startswith(f"{klass.__name__}("):
            return inspect.cleandoc(doc)
    return ""


# ---- JSON Schemas ----------------------------------------------------------------------------


def _inline_refs(schema: Any, definitions: dict[str, Any]) -> Any:
    # AsyncAPI resolves "#/..." against its own document, so schemas carry no $defs.
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _inline_refs(definitions[name], definitions)
        return {
            key: _inline_refs(value, definitions) for key, value in schema.items() if key != "$defs"
        }
    if isinstance(schema, list):
        return [_inline_refs(item, definitions) for item in schema]
    return schema


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    inlined: dict[str, Any] = _inline_refs(schema, schema.get("$defs", {}))
    return inlined


def _case_event_model(event_class: type[Case.Event]) -> type[BaseModel]:
    hints = typing.get_type_hints(event_class)
    fields: dict[str, Any] = {"actor": (dict[str, str], ...)}
    for field in dataclasses.fields(event_class):
        if field.name not in STAMP_FIELDS:
            fields[field.name] = (hints[field.name], ...)
    return create_model(event_class.__name__, **fields)


def _envelope(type_name: str, title: str, description: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:simpul:schema:{type_name}",
        "title": title,
        "description": description,
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "simpulsequence",
            "simpulversion",
            "data",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {
                "type": "string",
                "minLength": 1,
                "description": "Deterministic: a republished message keeps its id.",
            },
            "source": {"type": "string", "minLength": 1},
            "type": {"const": type_name},
            "subject": {"type": "string", "format": "uuid", "description": "The case id."},
            "time": {
                "type": "string",
                "format": "date-time",
                "description": "When the case event was recorded.",
            },
            "datacontenttype": {"const": "application/json"},
            "simpulsequence": {
                "type": "integer",
                "minimum": 1,
                "description": "The event store's notification id.",
            },
            "simpulversion": {
                "type": "integer",
                "minimum": 1,
                "description": "The case version of the stored event.",
            },
            # Declared, not required: the envelope was always open to extension attributes,
            # so v1 consumers that ignore them are unaffected. Verifiers require them.
            signing.KEY_ID_ATTRIBUTE: {
                "type": "string",
                "pattern": KEY_ID_PATTERN,
                "description": "Which of the keys in this document's info.x-simpul-signing-keys "
                "signed the message. Always set by Simpul; refuse a message without it.",
            },
            signing.SIGNATURE_ATTRIBUTE: {
                "type": "string",
                "pattern": signing.SIGNATURE_PATTERN,
                "description": "Ed25519 signature (base64url, no padding) over the message's "
                "canonical JSON without this attribute. Always set by Simpul; refuse a message "
                "whose signature does not verify.",
            },
            "data": data,
        },
    }


def generated_schemas() -> dict[str, dict[str, Any]]:
    """Every published message type's schema, by type name."""
    schemas = {}
    for event_class in case_event_classes():
        name = case_event_type(event_class.__name__)
        data = _model_schema(_case_event_model(event_class))
        data["description"] = f"The stored {event_class.__name__} event, whole, with its actor."
        doc = event_description(event_class)
        schemas[name] = _envelope(name, event_class.__name__, doc or data["description"], data)
    for kind in MESSAGE_KINDS:
        name = agency_message_type(kind)
        data = _model_schema(AGENCY_DATA_MODELS[kind])
        schemas[name] = _envelope(name, kind, AGENCY_DESCRIPTIONS[kind], data)
    return schemas


def schema_path(type_name: str, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{type_name}.json"


def load_schemas(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text())
        for path in sorted(directory.glob("*.json"))
    }


FORMATS = jsonschema.FormatChecker(["uuid", "date"])


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # RFC 3339: a date, a time and an offset. (jsonschema checks this format only when
    # an extra package is installed; consumers must not depend on that.)
    if not isinstance(value, str):
        return True  # the "type" keyword judges non-strings
    return "T" in value.upper() and datetime.fromisoformat(value).tzinfo is not None


class MessageValidator:
    """Validates a published message against the checked-in schema of its type, formats too
    (a "time" that is no date would otherwise pass, and fail only in the consumer's database)."""

    def __init__(self, schemas: dict[str, dict[str, Any]] | None = None) -> None:
        schemas = schemas if schemas is not None else load_schemas()
        self._validators = {
            name: jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
            for name, schema in schemas.items()
        }

    def knows(self, type_name: str) -> bool:
        return type_name in self._validators

    def errors(self, message: Any) -> list[str]:
        if not isinstance(message, dict):
            return ["the message is not a JSON object"]
        type_name = message.get("type")
        # Any JSON may arrive: a list or object as "type" must not reach the dict lookup.
        validator = self._validators.get(type_name) if isinstance(type_name, str) else None
        if validator is None:
            return [f"unknown message type {str(message.get('type'))[:100]!r}"]
        described = [_describe(error) for error in validator.iter_errors(message)]
        return described + [f"{where}: holds a NUL character" for where in _nul_paths(message)]


def _nul_paths(value: Any, where: str = "") -> list[str]:
    """Where a string holds a NUL, which PostgreSQL cannot store: refused before the
    database sees it, since the database's error would quote the value into its log."""
    if isinstance(value, str):
        return [where or "(root)"] if "\x00" in value else []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found: list[str] = []
    for key, item in items:
        label = f"{where}/{key}" if where else str(key)
        if isinstance(key, str) and "\x00" in key:
            label = f"{where}/(a key)" if where else "(a key)"
            found.append(label)
        found.extend(_nul_paths(item, label))
    return found


def _describe(error: jsonschema.ValidationError) -> str:
    # Never the offending value: messages carry personal data, and this ends up in logs.
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    if error.validator == "required":
        return f"{where}: {error.message}"  # names a property of the schema
    return f"{where}: violates '{error.validator}'"


# ---- Compatibility of a published version ------------------------------------------------------


def incompatibilities(published: Any, current: Any, where: str = "") -> list[str]:
    """How ``current`` breaks a consumer written against ``published`` (same type and version).

    A consumer may rely on: every property it knows keeping its type and format,
    every required property staying required, no value outside a known enum or
    const, and no property appearing where ``additionalProperties`` was false.
    Descriptions and new optional properties in open objects are fine.
    """
    if not isinstance(published, dict) or not isinstance(current, dict):
        return [] if published == current else [f"{where or '(root)'}: changed"]
    problems = []
    for keyword in ("type", "format", "pattern", "minimum", "minLength"):
        if published.get(keyword) != current.get(keyword):
            problems.append(f"{where or '(root)'}: {keyword} changed")
    if "const" in published and published["const"] != current.get("const"):
        problems.append(f"{where or '(root)'}: const changed")
    if "enum" in published:
        added = set(map(str, current.get("enum", []))) - set(map(str, published["enum"]))
        if added or "enum" not in current:
            problems.append(f"{where or '(root)'}: enum gained {sorted(added) or 'any value'}")
    for keyword in ("anyOf", "oneOf"):
        if keyword in published:
            old, new = published[keyword], current.get(keyword, [])
            if len(old) != len(new):
                problems.append(f"{where or '(root)'}: {keyword} changed")
            else:
                for index, (a, b) in enumerate(zip(old, new, strict=True)):
                    problems += incompatibilities(a, b, f"{where}/{keyword}/{index}")
    missing_required = set(published.get("required", [])) - set(current.get("required", []))
    if missing_required:
        problems.append(f"{where or '(root)'}: no longer requires {sorted(missing_required)}")
    old_properties = published.get("properties", {})
    new_properties = current.get("properties", {})
    for name, schema in old_properties.items():
        if name not in new_properties:
            problems.append(f"{where}/{name}: removed")
        else:
            problems += incompatibilities(schema, new_properties[name], f"{where}/{name}")
    if published.get("additionalProperties") is False:
        added = set(new_properties) - set(old_properties)
        if added:
            problems.append(f"{where or '(root)'}: closed object gained {sorted(added)}")
    for keyword in ("items", "additionalProperties"):
        if isinstance(published.get(keyword), dict):
            problems += incompatibilities(
                published[keyword], current.get(keyword), f"{where}/{keyword}"
            )
    return problems


# ---- The AsyncAPI 3 document -------------------------------------------------------------------

SUBSCRIBER_GUIDE = """\
Each agency's system subscribes to its own topic `simpul.agency.<agency>.v1` with any
Kafka client; it needs no Simpul code. Messages are CloudEvents 1.0 in structured mode
(`content-type: application/cloudevents+json`), keyed by case id, so one case's messages
arrive in order within one partition. Delivery is at least once: a message may arrive
again after a restart of Simpul's relay, with the same `id` -- keep the ids you applied
and skip repeats. Apply `case.opened`/`case.updated` by replacing the case facts you hold,
`referral.*` by updating the referral, and stop expecting messages for a case after
`case.closed` or `case.handed_over` (a new referral opens it again with `case.opened`).

Free text is personal data until proven otherwise. A referral's `notes` and
`referral_record_ref`, the `notes`, `reason` and `summary` of `referral.updated`, and the
`notes` and `receiving_unit` of `case.handed_over` carry text only where your channel's
row of the data-sharing matrix lists it (`referral.*`, `handover.*`; see the channel's
description) and personal data may reach you: after the beneficiary's informed consent,
or while you hold an open emergency referral on the case. Otherwise the field is an empty
string (the schemas require it): store it as "nothing for you", and ask the coordinating
office if you need more. A withheld text is never sent later.

Retention: your part in a case ends with `case.closed` or `case.handed_over`. Once the
district's retention period (in days, `x-simpul-retention` in this document's `info`, by
district) has passed since that message's `at`, remove the case's personal data from
your system: its facts under the consent-gated paths and every free text of its
messages. Keep, if you need them for your own accounting, the case and referral ids,
statuses, due times and the facts that are not personal. Simpul's own inbox of your
agency does exactly this. A new referral sends what you need again (`case.opened`).

A complete reference subscriber (kafka-python and the standard library only) is
`examples/agency_subscriber.py` in the Simpul repository:

    pip install kafka-python
    python examples/agency_subscriber.py --bootstrap kafka:9092 --agency police

It keeps the applied ids and each case's facts and referrals in a local SQLite file,
committing Kafka offsets only after the message is stored, and removes a case's personal
data once its retention period has passed (`--retention-days`).

Connect with the credentials the deployment gave your agency (TLS and SASL/SCRAM: the
brokers let your principal read your topic and your consumer group only).

Every message is signed by Simpul's relay (Ed25519). Verify each one before you believe
it, and set aside any that fails: a broker credential can leak, and a forged message
("arrest the reporter") must not reach your officers.

1. Take the raw message value (bytes) and parse it as JSON.
2. Refuse it unless `simpulkeyid` names a key in `info.x-simpul-signing-keys` of this
   document (a JSON Web Key Set: `kid` is the key id, `x` the Ed25519 public key in
   base64url) and `simpulsignature` is present.
3. Refuse it unless the raw bytes equal its canonical form: JSON with keys sorted, no
   whitespace, UTF-8 not escaped (Python:
   `json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()`).
4. Remove `simpulsignature`, encode the rest the same way, and verify the signature
   (base64url decoded, 64 bytes) over those bytes with the key. Refuse it if it fails.

Keys rotate: the set may hold several keys while messages signed with an older one are
still on the topic. Take the keys from the deployment's `/asyncapi.json` (or from the
deployment's operators), not from the copy in Simpul's repository, which holds none.
The reference subscriber verifies signatures this way (it needs `cryptography`).
"""

RETENTION_DESCRIPTION = (
    "Days an agency keeps a case's personal data (its facts under the consent-gated paths "
    "and every free text of its messages) after its part in the case closed (`at` of "
    "case.closed or case.handed_over), by the district of the case; `default_days` for a "
    "district not listed."
)


def _channel_description(agency: str, matrix: SharingMatrix) -> str:
    row = matrix.rows[agency]
    facts = ", ".join(f"{p.group}.{p.key or '*'}" for p in row.facts) or "none"
    gated = ", ".join(str(p) for p in matrix.consent_gated)
    return (
        f"Cases referred or handed over to {agency}, and only those. Facts and texts shared: "
        f"{facts}. Before informed consent these are withheld unless {agency} holds an open "
        f"emergency referral: {gated}. A text withheld is an empty string."
    )


def retention_extension(profiles: ProfileBook) -> dict[str, Any]:
    """``x-simpul-retention``: how long agencies keep personal data, by district."""
    return {
        "description": RETENTION_DESCRIPTION,
        "default_days": profiles.default_retention_days,
        "districts": {
            district: profiles.profile(district).agency_personal_data_retention_days
            for district in profiles.districts()
        },
    }


def signing_keys_description(verifier: signing.MessageVerifier | None) -> dict[str, Any]:
    """``info.x-simpul-signing-keys``: the deployment's public keys, a JSON Web Key Set."""
    keys = verifier.jwks()["keys"] if verifier is not None else []
    return {
        "description": "The Ed25519 public keys messages are signed with (JSON Web Key Set, "
        "RFC 7517/8037). The copy of this document in Simpul's repository holds none: take "
        "the keys from your deployment's /asyncapi.json.",
        "keys": keys,
    }


def asyncapi_document(
    schemas: dict[str, dict[str, Any]] | None = None,
    matrix: SharingMatrix | None = None,
    prefix: str = "simpul",
    profiles: ProfileBook | None = None,
    verifier: signing.MessageVerifier | None = None,
) -> dict[str, Any]:
    schemas = schemas if schemas is not None else load_schemas()
    matrix = matrix or load_matrix()
    profiles = profiles or load_profiles()
    components_messages = {}
    for name, schema in schemas.items():
        components_messages[name] = {
            "name": name,
            "title": schema["title"],
            "summary": schema["description"].splitlines()[0] if schema["description"] else name,
            "contentType": CONTENT_TYPE,
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "format": "uuid", "description": "The case id."}
                }
            },
        }
    case_messages = sorted(name for name in schemas if ".case." in name and ".agency." not in name)
    agency_messages = sorted(name for name in schemas if ".agency." in name)
    channels: dict[str, Any] = {
        "cases": {
            "address": cases_topic(prefix),
            "title": "Every case event, whole (internal)",
            "description": "Every stored case event with all its data, for Simpul's own "
            "services only. Agencies are never granted this topic.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in case_messages},
        }
    }
    operations: dict[str, Any] = {
        "publishCaseEvents": {
            "action": "send",
            "channel": {"$ref": "#/channels/cases"},
            "summary": "The relay publishes every stored case event, in store order.",
        }
    }
    for agency in matrix.agencies:
        channel = f"agency_{agency}"
        channels[channel] = {
            "address": agency_topic(prefix, agency),
            "title": f"Cases referred to {agency}",
            "description": _channel_description(agency, matrix),
            "messages": {
                name: {"$ref": f"#/components/messages/{name}"} for name in agency_messages
            },
        }
        operations[f"receive_{agency}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{agency}'s own system keeps its view of the cases referred to it.",
            "description": "See the reference subscriber in this document's description.",
            "bindings": {
                "kafka": {"groupId": {"type": "string", "description": "Your own consumer group."}}
            },
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Simpul case events",
            "version": "1.0.0",
            "description": SUBSCRIBER_GUIDE,
            "license": {"name": "Apache-2.0"},
            "x-simpul-retention": retention_extension(profiles),
            "x-simpul-signing-keys": signing_keys_description(verifier),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "deployment": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "The deployment's Kafka cluster, over TLS with SASL/SCRAM; "
                "topic ACLs grant each agency read on its own topic only.",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": components_messages,
            "schemas": schemas,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "SASL/SCRAM-SHA-512 over TLS, one principal per agency system.",
                }
            },
        },
    }


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def written_files() -> Iterator[tuple[Path, str]]:
    """Every generated contract file with the text it should have."""
    schemas = generated_schemas()
    for name, schema in schemas.items():
        yield schema_path(name), _dump(schema)
    yield ASYNCAPI_PATH, _dump(asyncapi_document(schemas))


def write_contract() -> list[Path]:
    changed = []
    for path, text in written_files():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for changed_path in write_contract():
        print(f"wrote {changed_path.relative_to(REPOSITORY)}")
    sys.exit(0)
