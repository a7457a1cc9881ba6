"""Checks the property-based contract test adds to schemathesis (loaded as its hooks module).

A request the OpenAPI document allows may still break a rule no JSON Schema can say
(a report cannot arrive in the future; an agreed termination's reason is "recovered"):
the domain refuses those with 422 ``invalid-value``, documented per operation. What
must never happen is that such a request fails the request validation itself
(``invalid-request``): then the document promised more than the server accepts.
"""

import json

import schemathesis

SCHEMA_LEVEL_REFUSAL = "urn:simpul:problem:invalid-request"


@schemathesis.check
def schema_valid_requests_pass_request_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        kind = json.loads(response.content).get("type")
    except ValueError:
        kind = None
    if kind == SCHEMA_LEVEL_REFUSAL:
        raise AssertionError(
            "a request the OpenAPI document allows was refused by request validation"
        )
    return None
