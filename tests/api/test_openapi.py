"""The OpenAPI document is complete: every route is described and lists its errors."""

from fastapi.testclient import TestClient


def test_every_api_operation_has_a_summary_and_documents_401(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 25
    for path, method, operation in operations:
        assert operation.get("summary"), (path, method)
        if path not in WITHOUT_TOKEN:
            assert "401" in operation["responses"], (path, method)


# Accepting an invitation is how a person gets credentials at all: it takes no token.
WITHOUT_TOKEN = {"/api/v1/invitations/acceptance"}
# Entry points of accounts: no case or record to be missing or in conflict.
ACCOUNT_ENTRY_POINTS = {"/api/v1/login", "/api/v1/invitations/acceptance"}


# Reads posted rather than got, so that personal data stays out of URLs: no case in the
# path to be missing (404), no state to conflict with (409).
POSTED_READS = {"/api/v1/case-search"}


def test_every_command_documents_its_problem_responses(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    for path, methods in document["paths"].items():
        if "post" not in methods or path in POSTED_READS or path in ACCOUNT_ENTRY_POINTS:
            continue
        responses = methods["post"]["responses"]
        for status in ("403", "404", "409", "422", "503"):
            assert status in responses, (path, status)


def test_posted_reads_document_the_problems_they_can_give(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    for path in POSTED_READS:
        assert {"401", "403", "422", "503"} <= set(document["paths"][path]["post"]["responses"])


def test_account_entry_points_document_refusals_without_naming_anyone(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    assert {"401", "422", "503"} <= set(document["paths"]["/api/v1/login"]["post"]["responses"])
    acceptance = document["paths"]["/api/v1/invitations/acceptance"]["post"]["responses"]
    assert {"422", "503"} <= set(acceptance)


def test_vocabulary_fields_list_their_allowed_values(client: TestClient):
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]

    assert "KTA" in schemas["CaseType"]["enum"]
    assert "legal_process" in schemas["ServiceType"]["enum"]


def _operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_error_answer_is_documented_as_a_problem_document(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (path, method, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_operation_documents_the_limits_answers(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert responses["429"]["headers"]["Retry-After"]["required"] is True, (path, method)
        assert "500" in responses, (path, method)
        if "requestBody" in operation:
            assert {"408", "413"} <= set(responses), (path, method)


def test_optional_parameters_are_never_documented_as_null(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    for path, method, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            assert {"type": "null"} not in parameter["schema"].get("anyOf", []), (path, method)


def test_if_match_and_idempotency_key_are_documented_as_the_server_reads_them(
    client: TestClient,
):
    operation = client.get("/api/v1/openapi.json").json()["paths"][
        "/api/v1/cases/{case_id}/consent"
    ]["post"]
    headers = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "header"}

    assert headers["If-Match"]["pattern"] == '^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$'
    assert headers["Idempotency-Key"]["pattern"].startswith("^[\\x21-\\x7e]")


def test_lists_that_refuse_repeats_say_so_with_unique_items(client: TestClient):
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]

    for model, field in [
        ("Classify", "forms_of_violence"),
        ("Classify", "ampk_categories"),
        ("RecordAssessment", "recommended_services"),
        ("ConcludeCaseReport", "needs"),
        ("HoldCaseConference", "participating_agencies"),
        ("AgreeInterventionPlan", "agreed_with"),
    ]:
        assert schemas[model]["properties"][field]["uniqueItems"] is True, (model, field)


PYDANTIC_SPELLINGS = {"ge", "gt", "le", "lt", "min_length", "max_length", "multiple_of"}


def _keys(value: object):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_every_constraint_is_published_as_a_json_schema_keyword(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    misspelt = {
        key
        for key, value in _keys(document)
        if key in PYDANTIC_SPELLINGS and isinstance(value, (int, float))
    }
    assert misspelt == set()
    age = document["components"]["schemas"]["Person"]["properties"]["age"]["anyOf"][0]
    assert (age["minimum"], age["maximum"]) == (0, 130)


def test_a_step_of_an_optional_process_says_where_it_is_refused(client: TestClient):
    paths = client.get("/api/v1/openapi.json").json()["paths"]

    mediation = paths["/api/v1/cases/{case_id}/mediations"]["post"]["description"]
    consent = paths["/api/v1/cases/{case_id}/consent"]["post"]["description"]

    assert "optional mediation process" in mediation
    assert "process_not_run" in mediation
    assert "process_not_run" not in consent
