"""The API's OpenAPI description, generated rather than written: paths and path parameters
from the blueprint's routes, bodies and query parameters from the pydantic models in
`api_schema`, and a short declaration next to each view (`described`).
"""

import re
from dataclasses import dataclass

from pydantic import BaseModel, TypeAdapter

from .. import idempotency
from .api_schema import Error

REF = "#/components/schemas/{model}"
_PLACEHOLDER = re.compile(r"<(?:(\w+):)?(\w+)>")  # '<int:agreement_id>': converter, name
_CONVERTER_SCHEMAS = {"int": {"type": "integer", "minimum": 0}, "float": {"type": "number"}}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": (
        "Samma nyckel igen ger samma svar utan att något görs två gånger; "
        "samma nyckel med en annan förfrågan ger 422, medan den första pågår 409."
    ),
}


@dataclass(frozen=True)
class Operation:
    """What the routes cannot tell: `ok` maps a status to the model answered (or a media type)."""

    summary: str
    ok: dict
    errors: tuple[int, ...]
    body: object = None
    query: type[BaseModel] | None = None
    description: str = ""


def described(summary, *, ok, errors, body=None, query=None, description=""):
    """Declare a view's operation for the description; put it right under the route decorator."""

    def decorator(view):
        view.openapi = Operation(summary, ok, tuple(errors), body, query, description)
        return view

    return decorator


def not_described(view):
    """Leave a view of the blueprint out of the description (the description itself)."""
    view.openapi = None
    return view


def document(app, blueprint) -> dict:
    """The OpenAPI 3.1 description of every route of `blueprint` in `app`.

    Each view of the blueprint must be marked `described` or `not_described` (LookupError if not).
    """
    operations = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] != blueprint:
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "openapi"):
            raise LookupError(f"{rule.endpoint} has no OpenAPI declaration")
        if view.openapi is not None:
            operations += [(rule.rule, method, view.openapi) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    schemas, components = _schemas(operations)
    paths: dict[str, dict] = {}
    for rule, method, operation in operations:
        path = _PLACEHOLDER.sub(r"{\2}", rule)
        paths.setdefault(path, {})[method.lower()] = _operation(rule, method, operation, schemas, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Avtalstjänsten API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _schemas(operations):
    """The JSON Schema of each body, answer and query model, their shared definitions as components."""
    wanted = [(Error, "serialization")]
    for _, _, operation in operations:
        wanted += [(kind, "validation") for kind in (operation.body, operation.query) if kind is not None]
        wanted += [(kind, "serialization") for kind in operation.ok.values() if not isinstance(kind, str)]
    found, definitions = TypeAdapter.json_schemas(
        [(kind, mode, TypeAdapter(kind)) for kind, mode in dict.fromkeys(wanted)],
        ref_template=REF,
        union_format="primitive_type_array",
    )
    return {kind: schema for (kind, _), schema in found.items()}, definitions.get("$defs", {})


def _operation(rule, method, operation, schemas, components) -> dict:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _CONVERTER_SCHEMAS.get(converter, {"type": "string"})}
        for converter, name in _PLACEHOLDER.findall(rule)
    ]
    if operation.query is not None:
        parameters += _query_parameters(components[_name(schemas[operation.query])])
    if method == "POST":  # token_required runs every POST once per Idempotency-Key
        parameters.append(IDEMPOTENCY_KEY)
    spec = {"summary": operation.summary, "parameters": parameters}
    if operation.description:
        spec["description"] = operation.description
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[operation.body]}},
        }
    error = {"description": "Fel", "content": {"application/json": {"schema": schemas[Error]}}}
    spec["responses"] = {
        **{str(status): _answer(answer, schemas) for status, answer in operation.ok.items()},
        **{str(status): error for status in operation.errors},
    }
    return spec


def _answer(answer, schemas) -> dict:
    if isinstance(answer, str):
        return {"description": "OK", "content": {answer: {}}}
    return {"description": "OK", "content": {"application/json": {"schema": schemas[answer]}}}


def _name(reference) -> str:
    return reference["$ref"].rpartition("/")[2]


def _query_parameters(model_schema) -> list[dict]:
    """One optional query parameter per property; a property's 'or null' is the parameter left out."""
    parameters = []
    for name, prop in model_schema["properties"].items():
        schema = {key: value for key, value in prop.items() if key not in ("title", "description")}
        if "anyOf" in schema:
            (schema,) = [option for option in schema.pop("anyOf") if option != {"type": "null"}]
        elif isinstance(schema.get("type"), list):
            schema["type"] = next(kind for kind in schema["type"] if kind != "null")
        if schema.get("default", "") is None:
            del schema["default"]
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": schema,
                "description": prop.get("description", ""),
            }
        )
    return parameters
