"""Reference subscriber: how an agency's own system follows its Simpul topic.

Needs a Kafka client (kafka-python), `cryptography` (to verify signatures) and
the standard library; no Simpul code. It keeps a small local inbox in SQLite:

- ``applied``: the CloudEvent ids already applied. Delivery is at least once,
  so a repeated id is skipped.
- ``cases``: what this agency may know of each case (``case.opened`` and
  ``case.updated`` carry a full snapshot: replace it), and whether the case is
  still open to the agency (``case.closed`` / ``case.handed_over`` end it).
- ``referrals``: the agency's referrals and their status.
- ``refused``: messages whose signature did not verify (where, and why), set
  aside and never applied: a broker credential can leak, and a forged message
  must not reach the agency's officers.

Every message is signed by Simpul's relay with Ed25519 (``simpulkeyid``,
``simpulsignature``); the public keys are in the deployment's AsyncAPI
document (``/asyncapi.json``, ``info.x-simpul-signing-keys``), which also
describes each message type. Kafka offsets are committed only after the
message is stored, so a crash re-reads, never skips.

Retention: once ``--retention-days`` (your district's number, ``x-simpul-retention``
in that document; 90 by default) have passed since a case was closed to the
agency, its personal facts are removed and only what is not personal is kept.
This inbox stores no free text of the messages, so there is none to remove.

    pip install kafka-python cryptography
    python examples/agency_subscriber.py --bootstrap kafka:9093 --agency police \\
        --username agency-police --password-file police.password --cafile ca.crt \\
        --keys https://simpul.example.go.id/asyncapi.json
"""

import argparse
import base64
import binascii
import json
import re
import sqlite3
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from kafka import KafkaConsumer

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, register_number TEXT, facts TEXT, open INTEGER, closing_reason TEXT
);
CREATE TABLE IF NOT EXISTS referrals (
    referral_id TEXT PRIMARY KEY, case_id TEXT, service_type TEXT, status TEXT, due_at TEXT
);
CREATE TABLE IF NOT EXISTS refused (
    topic TEXT, partition INTEGER, "offset" INTEGER, reason TEXT,
    PRIMARY KEY (topic, partition, "offset")
);
"""
# Added later: when the case was closed to the agency, and whether its personal data went.
RETENTION_COLUMNS = {"closed_at": "TEXT", "personal_data_removed": "INTEGER NOT NULL DEFAULT 0"}
# What stays of a case's facts once its retention passed: the facts the bundled sharing
# matrix does not gate (None: the whole group). Anything else goes, unknown groups too.
NOT_PERSONAL = {
    "report": {"channel", "arrived_at", "psychological_first_aid_needed"},
    "classification": None,
    "consent": None,
    "case_worker": None,
}
PURGE_EVERY_SECONDS = 60


def open_inbox(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    known = {row[1] for row in db.execute("PRAGMA table_info(cases)")}
    for name, definition in RETENTION_COLUMNS.items():
        if name not in known:
            db.execute(f"ALTER TABLE cases ADD COLUMN {name} {definition}")
    db.commit()
    return db


def not_personal(facts: dict) -> dict:
    kept = {}
    for group, values in facts.items():
        if group in NOT_PERSONAL and isinstance(values, dict):
            keys = NOT_PERSONAL[group]
            remaining = {k: v for k, v in values.items() if keys is None or k in keys}
            if remaining:
                kept[group] = remaining
    return kept


def purge(db: sqlite3.Connection, retention_days: int, now: datetime) -> int:
    """Remove the personal facts of cases closed to the agency ``retention_days`` ago."""
    due = [
        (case_id, facts)
        for case_id, facts, closed_at in db.execute(
            "SELECT case_id, facts, closed_at FROM cases "
            "WHERE open = 0 AND personal_data_removed = 0 AND closed_at IS NOT NULL"
        ).fetchall()
        if datetime.fromisoformat(closed_at) + timedelta(days=retention_days) <= now
    ]
    with db:
        for case_id, facts in due:
            db.execute(
                "UPDATE cases SET facts = ?, personal_data_removed = 1 WHERE case_id = ?",
                (json.dumps(not_personal(json.loads(facts))), case_id),
            )
    return len(due)


# ---- Signatures ----------------------------------------------------------------------------


def canonical(message: dict[str, Any]) -> bytes:
    """Keys sorted, no whitespace, UTF-8 unescaped: the form Simpul signs and sends."""
    return json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def from_b64url(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None


def load_keys(source: str) -> dict[str, Ed25519PublicKey]:
    """The signing keys by key id, from an AsyncAPI document or a JSON Web Key Set
    (a file, or an https:// URL such as the deployment's /asyncapi.json)."""
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=30) as response:
            document = json.load(response)
    else:
        document = json.loads(Path(source).read_text())
    key_set = document.get("info", {}).get("x-simpul-signing-keys", document)
    keys = {}
    for key in key_set.get("keys", []):
        if key.get("kty") == "OKP" and key.get("crv") == "Ed25519":
            keys[key["kid"]] = Ed25519PublicKey.from_public_bytes(from_b64url(key["x"]))
    if not keys:
        raise SystemExit(f"no Ed25519 signing keys in {source}")
    return keys


def refusal(value: bytes, keys: dict[str, Ed25519PublicKey]) -> tuple[dict[str, Any] | None, str]:
    """The message if Simpul signed it, else why it is refused."""
    try:
        message = json.loads(value)
    except (TypeError, ValueError):
        return None, "not JSON"
    if not isinstance(message, dict):
        return None, "not a JSON object"
    key = keys.get(message.get("simpulkeyid"))  # type: ignore[arg-type]
    signature = message.get("simpulsignature")
    if key is None or not isinstance(signature, str):
        return None, "unsigned, or signed with a key not in the deployment's key set"
    if canonical(message) != value:
        return None, "not in canonical form"
    unsigned = {name: item for name, item in message.items() if name != "simpulsignature"}
    try:
        key.verify(from_b64url(signature), canonical(unsigned))
    except (InvalidSignature, ValueError):
        return None, "the signature does not verify"
    return message, ""


# ---- The inbox -----------------------------------------------------------------------------


def apply(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    kind, data = event["type"], event["data"]
    if kind.endswith((".case.opened.v1", ".case.updated.v1")):
        db.execute(
            "INSERT INTO cases (case_id, register_number, facts, open) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (case_id) DO UPDATE SET facts = excluded.facts, open = 1, "
            "closing_reason = NULL, closed_at = NULL, personal_data_removed = 0",
            (data["case_id"], data["register_number"], json.dumps(data["facts"])),
        )
    elif kind.endswith(".referral.received.v1"):
        db.execute(
            "INSERT OR REPLACE INTO referrals VALUES (?, ?, ?, 'pending', ?)",
            (data["referral_id"], data["case_id"], data["service_type"], data["due_at"]),
        )
    elif kind.endswith(".referral.updated.v1"):
        db.execute(
            "UPDATE referrals SET status = ? WHERE referral_id = ?",
            (data["status"], data["referral_id"]),
        )
    elif kind.endswith((".case.closed.v1", ".case.handed_over.v1")):
        for referral in data["referrals"]:
            db.execute(
                "UPDATE referrals SET status = ? WHERE referral_id = ?",
                (referral["status"], referral["referral_id"]),
            )
        reason = data.get("reason") or f"handed_over:{data.get('target')}"
        db.execute(
            "UPDATE cases SET open = 0, closing_reason = ?, closed_at = ? WHERE case_id = ?",
            (reason, data["at"], data["case_id"]),
        )
    # Any other (newer) type: ignore it; the contract only ever adds new versions.


def consumer_for(args: argparse.Namespace, topic: str) -> KafkaConsumer:
    security: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol.startswith("SASL_"):
        if not (args.username and args.password_file):
            raise SystemExit("SASL needs --username and --password-file")
        security.update(
            sasl_mechanism=args.sasl_mechanism,
            sasl_plain_username=args.username,
            sasl_plain_password=Path(args.password_file).read_text().strip(),
        )
    if args.security_protocol.endswith("SSL"):
        security.update(ssl_check_hostname=True, ssl_cafile=args.cafile)
    return KafkaConsumer(
        topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group or f"{args.agency}-inbox",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        **security,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--agency", required=True, help="police, baznas, ... (a matrix row)")
    parser.add_argument("--topic-prefix", default="simpul")
    parser.add_argument("--group", default=None, help="consumer group (default: <agency>-inbox)")
    parser.add_argument("--db", default="inbox.sqlite3", help="the local SQLite inbox")
    parser.add_argument(
        "--retention-days",
        type=int,
        default=90,
        help="days to keep a closed case's personal facts (x-simpul-retention of /asyncapi.json)",
    )
    parser.add_argument(
        "--keys",
        required=True,
        help="the deployment's AsyncAPI document or a JSON Web Key Set: file or https:// URL",
    )
    parser.add_argument(
        "--security-protocol",
        default="SASL_SSL",
        choices=["SASL_SSL", "SSL", "SASL_PLAINTEXT", "PLAINTEXT"],
    )
    parser.add_argument(
        "--sasl-mechanism", default="SCRAM-SHA-512", choices=["SCRAM-SHA-512", "SCRAM-SHA-256"]
    )
    parser.add_argument("--username", default=None, help="your agency's principal")
    parser.add_argument("--password-file", default=None, help="a file holding its password")
    parser.add_argument("--cafile", default=None, help="CA certificate of the brokers (PEM)")
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        default=None,
        help="stop after this many seconds without a message",
    )
    args = parser.parse_args()

    keys = load_keys(args.keys)
    topic = f"{args.topic_prefix}.agency.{args.agency}.v1"
    db = open_inbox(args.db)
    consumer = consumer_for(args, topic)
    applied = skipped = refused = purged = 0
    last_message = time.monotonic()
    next_purge = 0.0
    try:
        while args.exit_when_idle is None or time.monotonic() - last_message < args.exit_when_idle:
            if time.monotonic() >= next_purge:
                purged += purge(db, args.retention_days, datetime.now(UTC))
                next_purge = time.monotonic() + PURGE_EVERY_SECONDS
            batches = consumer.poll(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event, reason = refusal(record.value, keys)
                    with db:  # one SQLite transaction: the id and its effect together
                        if event is None:
                            refused += 1
                            db.execute(
                                "INSERT OR IGNORE INTO refused VALUES (?, ?, ?, ?)",
                                (record.topic, record.partition, record.offset, reason),
                            )
                            continue
                        seen = db.execute("SELECT 1 FROM applied WHERE id = ?", (event["id"],))
                        if seen.fetchone():
                            skipped += 1
                            continue
                        db.execute("INSERT INTO applied VALUES (?)", (event["id"],))
                        apply(db, event)
                        applied += 1
                last_message = time.monotonic()
            if batches:
                consumer.commit()
        purged += purge(db, args.retention_days, datetime.now(UTC))
    finally:
        consumer.close()
        db.close()
    print(f"applied {applied}, skipped {skipped} repeats, refused {refused} unsigned or forged")
    print(f"removed the personal data of {purged} closed cases past retention")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
