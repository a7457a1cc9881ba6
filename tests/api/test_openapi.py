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
        assert "401" in operation["responses"], (path, method)


def test_every_command_documents_its_problem_responses(client: TestClient):
    document = client.get("/api/v1/openapi.json").json()

    for path, methods in document["paths"].items():
        if "post" not in methods:
            continue
        responses = methods["post"]["responses"]
        for status in ("403", "404", "409", "422", "503"):
            assert status in responses, (path, status)


def test_vocabulary_fields_list_their_allowed_values(client: TestClient):
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]

    assert "KTA" in schemas["CaseType"]["enum"]
    assert "legal_process" in schemas["ServiceType"]["enum"]
