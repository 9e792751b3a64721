"""The OpenAPI document says every answer an operation gives, its problem+json refusals included.

FastAPI documents the success and a 422 shaped like its own validation error; this API answers
every error as RFC 9457 problem+json (``daiyun.core.errors``). So the document is finished here:

* the refusals that follow from an operation's shape are added by rule: 401 and 403 where it needs
  a signed-in caller, 404 where its path names something, 400 for a cursor or a datetime filter,
  400 and 413 where it takes a body (unreadable, too large), 422 where it takes any input, 400
  and 409 with an ``Idempotency-Key``; 409 on a write to a tenant (a suspended one is read-only);
* refusals that follow from a business rule are declared on the route, ``responses=problems(409)``;
* every refusal's body is the ``Problem`` schema, under ``application/problem+json``.

The schemathesis run in the suite holds the document to what the app really answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from daiyun.core.errors import PROBLEM_JSON

_REASONS = {
    400: "The request cannot be read (a malformed cursor, datetime or key)",
    401: "Not signed in, or the token or API key is not valid",
    403: "The caller's role does not allow this",
    404: "No such resource in this tenant",
    405: "The path does not allow this method",
    409: "The request conflicts with the resource's state",
    413: "The request body is larger than the limit",
    415: "The request body is not JSON",
    422: "The request breaks the schema or a business rule (named in the answer)",
    429: "Too many requests; retry after the time in Retry-After",
    503: "A dependency (database, broker) is not available",
}

_PROBLEM = {
    "title": "Problem",
    "description": "An RFC 9457 problem: `type` names the problem, `detail` says what to fix.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For validation problems: each field that is wrong, and why",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Problem"}
# What the API reads as a UUID: 32 hex digits, bare or hyphenated 8-4-4-4-12, any case. The
# "uuid" format means the hyphenated form only and is an annotation validators may skip, so the
# pattern says the rule instead.
_HEX = "[0-9a-fA-F]"
_UUID = f"^({_HEX}{{32}}|{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})$"


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the refusals its business rules give, beyond those by rule."""
    return {code: _problem(code) for code in codes}


def _problem(code: int) -> dict[str, Any]:
    return {
        "description": _REASONS.get(code, "Refused"),
        "content": {PROBLEM_JSON: {"schema": _REF}},
    }


def _by_rule(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    codes: set[int] = set()
    if "{tenant}" in path and method in {"post", "put", "patch", "delete"}:
        codes.add(409)  # a suspended tenant is read-only (tenant-suspended)
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        codes |= {401, 403}
    if any(p["in"] == "path" for p in parameters):
        codes.add(404)
    names = {p["name"].lower() for p in parameters}
    if "cursor" in names or any(_is_datetime(p) for p in parameters):
        codes.add(400)
    if "idempotency-key" in names:
        codes |= {400, 409}
    if "requestBody" in operation:
        codes |= {400, 413}  # a body that is not JSON (or UTF-8) at all; one past the limit
    if parameters or "requestBody" in operation:
        codes.add(422)
    return codes


def _is_datetime(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    options = schema.get("anyOf", [schema])
    return any(option.get("format") == "date-time" for option in options)


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Add the refusals by rule and make every refusal a problem+json (idempotent)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _by_rule(path, method, operation):
                responses.setdefault(str(code), _problem(code))
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": _REF}}
                    response["description"] = _REASONS.get(int(code), response["description"])
    _pin_uuids(document)
    _name_bounds(document)
    # FastAPI's own validation shape is never answered: every 422 is a Problem.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _pin_uuids(node: Any) -> None:
    """Give every string schema of format uuid the pattern the API reads it by, in its stead."""
    if isinstance(node, dict):
        if node.get("format") == "uuid" and node.get("type") == "string":
            del node["format"]
            node["pattern"] = _UUID
        for value in node.values():
            _pin_uuids(value)
    elif isinstance(node, list):
        for value in node:
            _pin_uuids(value)


# Pydantic writes a bound set on a validated type (``Annotated[WholeNumber, Field(ge=0)]``) under
# its Python name, which JSON Schema does not know: fuzzers then send -1 and call the 422 a bug.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _name_bounds(node: Any) -> None:
    """Rename ``ge``/``le``/``gt``/``lt`` on number schemas to their JSON Schema keywords."""
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for python, json_schema in _BOUNDS.items():
                if python in node:
                    node[json_schema] = node.pop(python)
        for value in node.values():
            _name_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _name_bounds(value)


def install(app: FastAPI) -> None:
    """Make ``app.openapi`` serve the finished document (built once, like FastAPI's own)."""
    build = app.openapi
    finished: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not finished:
            finished.append(finish(build()))
        return finished[0]

    app.openapi = openapi  # type: ignore[method-assign]
