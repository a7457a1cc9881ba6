"""Retention on the real path: the agency projector process purges personal data past the
district's period while it runs, and the reference subscriber does the same in its own inbox."""

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from gateways import runtime
from gateways.kafka.contract import asyncapi_document
from gateways.kafka.security import KafkaSecurity
from services.settings import Settings
from tests.e2e.conftest import ServiceProcess, subscriber_security, wait_until
from tests.e2e.test_agency_views import a_consented_case, post, refer

Headers = Callable[..., dict[str, str]]
REPOSITORY = Path(__file__).resolve().parents[2]


def a_school_referral_delivered(client: TestClient, auth: Headers) -> str:
    case_id = a_consented_case(client, auth)
    referral_id = refer(client, auth, case_id, "education", "return_to_school")
    school = {"agency": "education"}
    base = f"/cases/{case_id}/referrals/{referral_id}"
    post(
        client,
        auth,
        f"{base}/acceptance",
        {"notes": "Mawar starts Monday"},
        "agency_officer",
        **school,
    )
    post(
        client,
        auth,
        f"{base}/deliveries",
        {"outcome": "completed", "delivered_on": "2026-03-02", "summary": "Mawar is in class 7B"},
        "agency_officer",
        **school,
    )
    return case_id


def education_tables(database_url: str) -> list[dict[str, Any]]:
    """The school's tables as one JSON object in a list; empty before its projector made them."""
    with psycopg.connect(database_url) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = 'agency_education'"
        ).fetchone():
            return []
        row = conn.execute(
            "SELECT json_build_object('cases', (SELECT json_agg(c) FROM agency_education.cases c),"
            " 'referrals', (SELECT json_agg(r) FROM agency_education.referrals r))"
        ).fetchone()
    return [row[0]] if row else []


def test_the_projector_and_the_reference_subscriber_remove_personal_data_past_retention(
    client: TestClient,
    auth: Headers,
    kafka_settings: Settings,
    services: Callable[..., ServiceProcess],
    tmp_path: Path,
):
    # Given a district whose agencies keep personal data no longer than their part lasts
    a_school_referral_delivered(client, auth)
    database_url = str(kafka_settings.database_url)

    # When the relay and the school's projector run
    services("relay")
    projector = services(
        "project",
        "--agency",
        "education",
        env={"SIMPUL_AGENCY_RETENTION_DAYS": "0", "SIMPUL_AGENCY_PURGE_INTERVAL_SECONDS": "0.2"},
    )

    # Then the projector removes the closed case's personal data from its tables by itself
    tables = wait_until(
        lambda: (
            (found := education_tables(database_url))
            and found[0]["cases"]
            and all(c["personal_data_removed"] for c in found[0]["cases"])
            and found
        ),
        what="the projector to purge the closed case",
    )
    assert "Mawar" not in json.dumps(tables)
    (case,) = tables[0]["cases"]
    assert case["facts"]["classification"]["case_type"] == "KTA"
    (referral,) = tables[0]["referrals"]
    assert referral["status"] == "completed" and referral["details"] == {
        "outcome": "completed",
        "delivered_on": "2026-03-02",
    }
    assert "retention passed" in projector.output()

    # and the reference subscriber, told the same retention, keeps no name either
    inbox = tmp_path / "education.sqlite3"
    keys = tmp_path / "asyncapi.json"  # as the deployment serves it, with the relay's key
    keys.write_text(
        json.dumps(asyncapi_document(verifier=runtime.message_verifier(kafka_settings)))
    )
    run = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "examples" / "agency_subscriber.py"),
            "--bootstrap",
            str(kafka_settings.kafka_bootstrap_servers),
            "--agency",
            "education",
            "--topic-prefix",
            kafka_settings.kafka_topic_prefix,
            "--db",
            str(inbox),
            "--retention-days",
            "0",
            "--keys",
            str(keys),
            *subscriber_security(KafkaSecurity.from_settings(kafka_settings), tmp_path),
            "--exit-when-idle",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "applied 5," in run.stdout
    assert "personal data of 1 closed cases" in run.stdout
    with sqlite3.connect(inbox) as db:
        ((facts, removed),) = db.execute(
            "SELECT facts, personal_data_removed FROM cases"
        ).fetchall()
    assert removed == 1
    assert json.loads(facts)["classification"]["case_type"] == "KTA"
    assert "Mawar" not in facts
