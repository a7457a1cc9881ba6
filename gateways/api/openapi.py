"""The OpenAPI document says what the server accepts and answers, errors included.

FastAPI documents error bodies as ``application/json`` and its own validation
error shape; Simpul answers every error with a problem document
(``application/problem+json``), and any route may also answer 429 (rate limits),
500, and, with a body, 408 and 413 (gateways/api/limits.py). FastAPI also
documents an optional parameter as "a string or null", but a header or query
value is never null on the wire: absent is how it is left out. This module makes
the generated document say what the server does, including which operations an
agency system's API key may call, and with which scope (``x-simpul-key-scope``).
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from gateways.api.problems import MEDIA_TYPE
from services.service_accounts import required_scope

PROBLEM_REF = "#/components/schemas/Problem"
API_PREFIX = "/api/v1"
# Which scope an agency system's API key needs for the operation; absent: closed to keys.
KEY_SCOPE = "x-simpul-key-scope"
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
EVERY_ROUTE: dict[str, dict[str, Any]] = {
    "429": {
        "description": "Too many requests from this address or user, or this address is locked "
        "out after failed authentications",
        "headers": {"Retry-After": {**RETRY_AFTER, "required": True}},
    },
    "500": {"description": "An unexpected error; nothing is said about it but its kind"},
}
WITH_BODY: dict[str, dict[str, Any]] = {
    "408": {"description": "The request body did not arrive in time"},
    "413": {"description": "The request body is larger than the limit"},
}


def _problem(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        **extra,
    }


def _never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without its "or null" branch."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [branch for branch in branches if branch != {"type": "null"}]
    rest = {name: value for name, value in schema.items() if name != "anyOf"}
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


def describe_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Error answers as problem documents, the answers every route may give,
    parameters as they travel, and the scope an API key needs where one may call."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            scope = required_scope(method.upper(), path.removeprefix(API_PREFIX))
            if path.startswith(API_PREFIX + "/") and scope is not None:
                operation[KEY_SCOPE] = scope.value
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _never_null(parameter["schema"])
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                if int(status) >= 400:
                    extra = {"headers": response["headers"]} if "headers" in response else {}
                    if status == "503":
                        extra = {"headers": {"Retry-After": {**RETRY_AFTER, "required": False}}}
                    responses[status] = _problem(response["description"], **extra)
            added = {**EVERY_ROUTE, **(WITH_BODY if "requestBody" in operation else {})}
            for status, response in added.items():
                responses.setdefault(
                    status, _problem(response["description"], **_without(response, "description"))
                )
    schemas = document.get("components", {}).get("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in mapping.items() if name != key}


def install_contract(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
