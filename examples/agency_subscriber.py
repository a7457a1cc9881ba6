"""Reference subscriber: how an agency's own system follows its Simpul topic.

Needs nothing but a Kafka client (kafka-python) and the standard library; no
Simpul code. It keeps a small local inbox in SQLite:

- ``applied``: the CloudEvent ids already applied. Delivery is at least once,
  so a repeated id is skipped.
- ``cases``: what this agency may know of each case (``case.opened`` and
  ``case.updated`` carry a full snapshot: replace it), and whether the case is
  still open to the agency (``case.closed`` / ``case.handed_over`` end it).
- ``referrals``: the agency's referrals and their status.

Kafka offsets are committed only after the message is stored, so a crash
re-reads, never skips. The message contract (one JSON Schema per type) is the
AsyncAPI document Simpul serves at ``/asyncapi.json``.

    pip install kafka-python
    python examples/agency_subscriber.py --bootstrap kafka:9092 --agency police
"""

import argparse
import json
import sqlite3
import time

from kafka import KafkaConsumer

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, register_number TEXT, facts TEXT, open INTEGER, closing_reason TEXT
);
CREATE TABLE IF NOT EXISTS referrals (
    referral_id TEXT PRIMARY KEY, case_id TEXT, service_type TEXT, status TEXT, due_at TEXT
);
"""


def apply(db: sqlite3.Connection, event: dict) -> None:
    kind, data = event["type"], event["data"]
    if kind.endswith((".case.opened.v1", ".case.updated.v1")):
        db.execute(
            "INSERT INTO cases VALUES (?, ?, ?, 1, NULL) ON CONFLICT (case_id) DO UPDATE SET "
            "facts = excluded.facts, open = 1, closing_reason = NULL",
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
            "UPDATE cases SET open = 0, closing_reason = ? WHERE case_id = ?",
            (reason, data["case_id"]),
        )
    # Any other (newer) type: ignore it; the contract only ever adds new versions.


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--agency", required=True, help="police, health, social, ...")
    parser.add_argument("--topic-prefix", default="simpul")
    parser.add_argument("--group", default=None, help="consumer group (default: <agency>-inbox)")
    parser.add_argument("--db", default="inbox.sqlite3", help="the local SQLite inbox")
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        default=None,
        help="stop after this many seconds without a message",
    )
    args = parser.parse_args()

    topic = f"{args.topic_prefix}.agency.{args.agency}.v1"
    db = sqlite3.connect(args.db)
    db.executescript(SCHEMA)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group or f"{args.agency}-inbox",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    applied = skipped = 0
    last_message = time.monotonic()
    try:
        while args.exit_when_idle is None or time.monotonic() - last_message < args.exit_when_idle:
            batches = consumer.poll(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    with db:  # one SQLite transaction: the id and its effect together
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
    finally:
        consumer.close()
        db.close()
    print(f"applied {applied}, skipped {skipped} repeats")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
