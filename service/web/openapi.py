"""The API's OpenAPI description, generated rather than written: paths and path parameters
from the blueprint's routes, bodies and query parameters from the pydantic models in
`api_schema`, a short declaration next to each view (`described`), and the webhook events
from their catalogue in `webhooks`.

Written for client generators (openapi-python-client, openapi-typescript, openapi-generator):
an ASCII title, an operationId and a tag per operation, ASCII names for enum values
(`x-enum-varnames`), binary answers as `type: string, format: binary`, errors as problem
documents (`application/problem+json`).
"""

import re
import unicodedata
from dataclasses import dataclass

from pydantic import BaseModel, TypeAdapter

from .. import webhooks
from . import idempotency
from .api_schema import Problem
from .problems import MEDIA_TYPE as PROBLEM

REF = "#/components/schemas/{model}"
# '<int:agreement_id>', '<any(pdf, csv):ending>': converter, its arguments, name
_PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
_CONVERTER_SCHEMAS: dict[str, dict] = {"int": {"type": "integer", "minimum": 0}, "float": {"type": "number"}}

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


# The areas of the API; generators make one module per tag.
TAGS = {
    "agreements": "Avtal: skapa, skicka, lista och läsa",
    "parties": "Parter som ansluter till en överenskommelse",
    "documents": "Den slutliga PDF:en",
    "webhooks": "Händelser som skickas till en registrerad mottagare",
}
RETRY_AFTER = {"description": "Sekunder att vänta innan nästa försök", "schema": {"type": "integer"}}


@dataclass(frozen=True)
class Operation:
    """What the routes cannot tell: `ok` maps a status to the model answered (or a media type);
    `operation_id` is the stable name generators give the operation's function."""

    operation_id: str
    tag: str
    summary: str
    ok: dict
    errors: tuple[int, ...]
    body: object = None
    query: type[BaseModel] | None = None
    description: str = ""


def described(operation_id, tag, summary, *, ok, errors, body=None, query=None, description=""):
    """Declare a view's operation for the description; put it right under the route decorator."""
    if tag not in TAGS:
        raise LookupError(f"unknown tag {tag}")

    def decorator(view):
        view.openapi = Operation(operation_id, tag, summary, ok, tuple(errors), body, query, description)
        return view

    return decorator


def _body_required(body) -> bool:
    """A body may be left out when it is a model none of whose fields is required (sending's)."""
    if isinstance(body, type) and issubclass(body, BaseModel):
        return any(field.is_required() for field in body.model_fields.values())
    return True


def not_described(view):
    """Leave a view of the blueprint out of the description (the description itself)."""
    view.openapi = None
    return view


def document(app, blueprint) -> dict:
    """The OpenAPI 3.1 description of every route of `blueprint` in `app`.

    Each view of the blueprint must be marked `described` or `not_described` (LookupError if not).
    """
    operations: list[tuple[str, str, Operation]] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] != blueprint:
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "openapi"):
            raise LookupError(f"{rule.endpoint} has no OpenAPI declaration")
        if view.openapi is not None:
            operations += [(rule.rule, method, view.openapi) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    ids = [operation.operation_id for _, _, operation in operations]
    if len(set(ids)) != len(ids):
        raise LookupError(f"operationIds are not unique: {sorted(ids)}")
    schemas, components = _schemas(operations)
    paths: dict[str, dict] = {}
    for rule, method, operation in operations:
        path = _PLACEHOLDER.sub(r"{\3}", rule)
        paths.setdefault(path, {})[method.lower()] = _operation(rule, method, operation, schemas, components)
    for schema in components.values():
        _name_enum_values(schema)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Avtalstjansten API",
            "version": "1",
            "description": "Avtalstjänstens API för integrationer: skapa, skicka och följ avtal.",
            "x-package-name": "avtalstjansten_api_client",
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API-nyckel som en administratör skapar för en användare (Authorization: Bearer …).",
                },
                "webhookSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "webhook-signature",
                    "description": "Webhooks signeras enligt Standard Webhooks (HMAC-SHA256 över "
                    "webhook-id.webhook-timestamp.body med endpointens whsec_-hemlighet).",
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "webhooks": _webhooks(),
    }


def _schemas(operations):
    """The JSON Schema of each body, answer and query model, their shared definitions as components."""
    wanted: list[tuple[object, str]] = [(Problem, "serialization")]
    for _, _, operation in operations:
        wanted += [(kind, "validation") for kind in (operation.body, operation.query) if kind is not None]
        wanted += [(kind, "serialization") for kind in operation.ok.values() if not isinstance(kind, str | tuple)]
    found, definitions = TypeAdapter.json_schemas(
        [(kind, mode, TypeAdapter(kind)) for kind, mode in dict.fromkeys(wanted)],
        ref_template=REF,
        union_format="primitive_type_array",
    )
    return {kind: schema for (kind, _), schema in found.items()}, definitions.get("$defs", {})


def _path_schema(converter, arguments) -> dict:
    if converter == "any":  # one of the words listed
        return {"type": "string", "enum": [word.strip() for word in arguments.split(",")]}
    return _CONVERTER_SCHEMAS.get(converter, {"type": "string"})


def _operation(rule, method, operation, schemas, components) -> dict:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(converter, arguments)}
        for converter, arguments, name in _PLACEHOLDER.findall(rule)
    ]
    if operation.query is not None:
        parameters += _query_parameters(components[_name(schemas[operation.query])])
    if method == "POST":  # token_required runs every POST once per Idempotency-Key
        parameters.append(IDEMPOTENCY_KEY)
    spec = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "parameters": parameters,
    }
    if operation.description:
        spec["description"] = operation.description
    if operation.body is not None:
        spec["requestBody"] = {
            "required": _body_required(operation.body),
            "content": {"application/json": {"schema": schemas[operation.body]}},
        }
    spec["responses"] = {
        **{str(status): _answer(answer, schemas) for status, answer in operation.ok.items()},
        **{str(status): _problem(status, schemas) for status in operation.errors},
    }
    return spec


def _answer(answer, schemas) -> dict:
    if isinstance(answer, str):  # a file
        answer = (answer,)
    if isinstance(answer, tuple):  # a file of one of these types
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": "OK", "content": {content_type: binary for content_type in answer}}
    return {"description": "OK", "content": {"application/json": {"schema": schemas[answer]}}}


def _problem(status, schemas) -> dict:
    answer = {"description": "Fel (RFC 9457)", "content": {PROBLEM: {"schema": schemas[Problem]}}}
    if status == 401:
        answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    elif status in (409, 503):
        answer["headers"] = {"Retry-After": RETRY_AFTER}
    return answer


def _name_enum_values(schema):
    """Give every string enum ASCII member names (`x-enum-varnames`), so that a generated
    client's names are identifiers while the values stay as they are ('idéburen': IDEBUREN)."""
    if isinstance(schema, dict):
        values = schema.get("enum")
        if values and all(isinstance(value, str) for value in values):
            schema["x-enum-varnames"] = [_identifier(value) for value in values]
        for value in schema.values():
            _name_enum_values(value)
    elif isinstance(schema, list):
        for value in schema:
            _name_enum_values(value)


def _identifier(value: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    name = re.sub(r"\W+", "_", ascii_).strip("_").upper()
    return name if name and not name[0].isdigit() else f"V_{name}"


def _webhooks() -> dict:
    """Each webhook event as an OpenAPI 3.1 webhook: the POST a receiver gets, with an example body."""
    return {kind.name: _webhook(kind) for kind in webhooks.EVENTS}


def _webhook(kind) -> dict:
    example = webhooks.example_body(kind)
    return {
        "post": {
            "operationId": "on_" + kind.name.replace(".", "_"),
            "tags": ["webhooks"],
            "summary": kind.label,
            "security": [{"webhookSignature": []}],
            "parameters": [
                {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _schema_of(example, const_type=kind.name), "example": example}
                },
            },
            "responses": {"2XX": {"description": "Mottaget; annat svar gör att leveransen försöks igen"}},
        }
    }


def _schema_of(value, const_type=None) -> dict:
    """The JSON Schema of an example body: every property it shows is there and required."""
    if isinstance(value, dict):
        properties = {key: _schema_of(item) for key, item in value.items()}
        if const_type:
            properties["type"] = {"type": "string", "const": const_type}
        return {"type": "object", "properties": properties, "required": list(value)}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    return {"type": "string"}


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
