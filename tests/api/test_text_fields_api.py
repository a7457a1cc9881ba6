"""No text field accepts a control character: a NUL anywhere is a 422 naming the field.

A single NUL in a case worker's id once stopped the coordinator's views of every
district (PostgreSQL refuses NUL in text), and one in a victim's name kept a
referral from the police. Every text field the API accepts, nested, in lists,
in paths and queries, refuses control characters before anything is recorded,
and the OpenAPI document publishes each rule as the pattern the server applies.
"""

import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from services.case_commands import (
    MULTI_LINE,
    REQUIRED_LINE,
    REQUIRED_MULTI_LINE,
    SINGLE_LINE,
    TextRule,
)
from tests.support.lifecycle import Headers, a_report_body

POISON = "rina\x00pendamping"
RULES = [
    SINGLE_LINE,
    REQUIRED_LINE,
    MULTI_LINE,
    REQUIRED_MULTI_LINE,
    TextRule(multiline=True, required=True, strip=True),
]
# Every control character, every blank str.strip() removes, and ordinary letters.
EDGE_CHARACTERS = "".join(chr(code) for code in range(0x3100)) + "\U0001f600"
KNOWN_STRINGS = {
    "nik": "7322011201140001",
    "phone": "+62 812 3456 789",
    "sop_step": "B4",
    "overdue_step": "L1.5",
}


def _accepts(rule: TextRule, value: str) -> bool:
    try:
        rule.check(value)
    except ValueError:
        return False
    return True


def _published_accepts(rule: TextRule, value: str) -> bool:
    return re.fullmatch(rule.pattern, value) is not None


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_each_published_text_pattern_is_exactly_the_rule_the_server_applies(rule: TextRule):
    for character in EDGE_CHARACTERS:
        for value in (character, f"a{character}", f"{character}a", character * 3):
            assert _published_accepts(rule, value) == _accepts(rule, value), (rule, value)


@given(value=st.text(alphabet=st.sampled_from(EDGE_CHARACTERS[:0x40] + " \xa0\u3000ab")))
def test_random_text_is_accepted_by_the_pattern_exactly_when_the_server_accepts_it(value: str):
    for rule in RULES:
        assert _published_accepts(rule, value) == _accepts(rule, value), (rule, value)


# ---- Every text field, over HTTP --------------------------------------------------------


class Document:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = self.document["components"]["schemas"][name]
        return schema

    def example(self, schema: dict[str, Any], name: str = "", variant: int = 0) -> Any:
        """A valid value with every optional field present, so that every field can be poisoned."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            branch = next(b for b in schema["anyOf"] if b.get("type") != "null")
            return self.example(branch, name, variant)
        if "enum" in schema:
            return schema["enum"][variant % len(schema["enum"])]
        kind = schema.get("type")
        if kind == "object":
            return {key: self.example(value, key) for key, value in schema["properties"].items()}
        if kind == "array":
            count = max(schema.get("minItems", 0), 1)
            return [self.example(schema["items"], name, index) for index in range(count)]
        if kind == "boolean":
            return False
        if kind == "integer":
            return schema.get("minimum", 1)
        assert kind == "string", schema
        if schema.get("format") == "date":
            return "2026-03-02"
        if schema.get("format") == "date-time":
            return (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        if schema.get("format") == "uuid":
            return str(uuid4())  # another case's id (a link between cases)
        return KNOWN_STRINGS.get(name, f"{name} {string.ascii_lowercase[variant]}")

    def strings(self, value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Where the example holds a string: every field, nested and in lists."""
        if isinstance(value, str):
            return [path]
        if isinstance(value, dict):
            return [p for key, item in value.items() for p in self.strings(item, (*path, key))]
        if isinstance(value, list):
            return [p for i, item in enumerate(value) for p in self.strings(item, (*path, i))]
        return []


def _poisoned(body: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return POISON
    head, *rest = path
    copy = list(body) if isinstance(body, list) else dict(body)
    copy[head] = _poisoned(body[head], tuple(rest))
    return copy


def _command_bodies(client: TestClient) -> list[tuple[str, dict[str, Any]]]:
    document = Document(client.get("/api/v1/openapi.json").json())
    bodies = []
    for path, operations in document.document["paths"].items():
        post = operations.get("post")
        # A document upload's body is the file itself, not JSON text fields.
        if post and "application/json" in post.get("requestBody", {}).get("content", {}):
            schema = post["requestBody"]["content"]["application/json"]["schema"]
            bodies.append((path, document.example(schema)))
    return bodies


def test_a_control_character_in_any_text_field_of_any_command_is_refused_naming_that_field(
    client: TestClient, auth: Headers, pg_cases
):
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]
    head = pg_cases.recorder.max_notification_id()
    document = Document(client.get("/api/v1/openapi.json").json())
    checked = 0
    for index, (path, body) in enumerate(_command_bodies(client)):
        url = (
            path.replace("{case_id}", case_id)
            .replace("{referral_id}", str(uuid4()))
            .replace("{outreach_id}", str(uuid4()))
            .replace("{user_id}", str(uuid4()))
            .replace("{account_id}", str(uuid4()))
        )
        # A caller per route: all of them together are more than one user's burst of requests.
        caller = auth("coordinator", user=f"coordinator.route-{index}")
        for where in document.strings(body):
            response = client.post(url, json=_poisoned(body, where), headers=caller)

            field = ".".join(str(part) for part in ("body", *where))
            assert response.status_code == 422, (path, field, response.text)
            assert [error["field"] for error in response.json()["errors"]] == [field]
            assert "rina" not in response.text and "pendamping" not in response.text
            checked += 1

    assert checked > 100  # every string of every command body, nested and in lists
    assert pg_cases.recorder.max_notification_id() == head


def test_a_case_worker_id_with_a_nul_is_refused_and_the_case_is_unchanged(
    client: TestClient, auth: Headers
):
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]

    response = client.post(
        f"/api/v1/cases/{case_id}/case-worker",
        json={"case_worker_id": POISON},
        headers=auth("coordinator"),
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.case_worker_id",
            "message": "must not contain control characters or line breaks",
            "type": "control_character",
        }
    ]
    case = client.get(f"/api/v1/cases/{case_id}", headers=auth("coordinator")).json()
    assert case["version"] == 1


def test_a_name_with_a_line_break_is_refused_but_notes_keep_theirs(
    client: TestClient, auth: Headers
):
    named = client.post(
        "/api/v1/cases",
        json=a_report_body(victim={"name": "Mawar\nMelati"}),
        headers=auth("intake_officer"),
    )
    noted = client.post(
        "/api/v1/cases",
        json=a_report_body(chronology="First line.\r\n\tSecond line."),
        headers=auth("intake_officer"),
    )

    assert named.status_code == 422
    assert named.json()["errors"][0]["field"] == "body.victim.name"
    assert noted.status_code == 201


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/cases?case_worker=rina%00pendamping", "query.case_worker"),
        ("/api/v1/access-log?user_id=rina%00pendamping", "query.user_id"),
        ("/api/v1/agencies/police/referrals/ref%00erral", "path.referral_id"),
        ("/api/v1/profiles/luwu%00utara", "path.district"),
    ],
)
def test_a_control_character_in_a_query_or_path_is_refused_naming_it_not_a_500(
    client: TestClient, auth: Headers, url: str, field: str
):
    callers = {
        "query.user_id": auth("auditor", agency="province"),
        "path.referral_id": auth("agency_officer", agency="police"),
    }
    headers = callers.get(field) or auth("coordinator")

    response = client.get(url, headers=headers)

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_whitespace_only_text_is_refused_where_text_is_required_and_the_document_says_so(
    client: TestClient, auth: Headers
):
    case_id = client.post(
        "/api/v1/cases", json=a_report_body(), headers=auth("intake_officer")
    ).json()["case_id"]
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]

    response = client.post(
        f"/api/v1/cases/{case_id}/case-worker",
        json={"case_worker_id": " \u3000 "},
        headers=auth("coordinator"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "blank"
    pattern = schemas["AssignCaseWorker"]["properties"]["case_worker_id"]["pattern"]
    assert re.fullmatch(pattern, " \u3000 ") is None
    assert re.fullmatch(pattern, " rina ") is not None
