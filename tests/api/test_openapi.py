"""The served OpenAPI document: a valid 3.1 document that describes every route there is."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator, ValidationError
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.api.conftest import PREFIX


def test_the_document_is_a_valid_openapi_3_1_document(api):
    spec = api.spec
    assert spec["openapi"] == "3.1.0"
    assert spec["servers"] == [{"url": PREFIX}]
    validate(spec, cls=OpenAPIV31SpecValidator)
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def _flask_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def test_every_route_is_described_and_every_description_is_a_route(app, api):
    described = {(method, path) for path, item in api.spec["paths"].items() for method in item}
    assert _flask_routes(app) == described


def test_every_response_body_has_a_named_schema_and_errors_share_one(api):
    names = set(api.spec["components"]["schemas"])
    for path, item in api.spec["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), (method, path)
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if path == "/openapi.json":
                    continue
                assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path, status)
                assert schema["$ref"].rsplit("/", 1)[1] in names
                if int(status) >= 400:
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_the_vote_operation_needs_a_bearer_token(api):
    vote = api.spec["paths"]["/entries/{entry_id}/votes"]["post"]
    assert vote["security"] == [{"bearer": []}]
    assert api.spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "a token from POST /auth/token"}


def test_objects_are_closed_so_an_undeclared_field_is_drift(api):
    validator = Draft202012Validator({"$ref": "#/components/schemas/Error", **{"components": api.spec["components"]}})
    validator.validate({"error": {"code": "x", "message": "y"}})
    with pytest.raises(ValidationError):
        validator.validate({"error": {"code": "x", "message": "y"}, "detail": "undeclared"})
    with pytest.raises(ValidationError):
        validator.validate({"error": {"code": "x"}})


def test_unknown_api_paths_and_methods_answer_in_the_error_shape(client):
    missing = client.get(PREFIX + "/nothing-here")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    wrong_method = client.delete(PREFIX + "/contests")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"]["code"] == "method_not_allowed"


def test_every_operation_documents_the_statuses_it_can_answer(api):
    for path, item in api.spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            # a control character in the URL is refused app-wide, before any operation
            assert "invalid_parameter" in responses["400"]["description"], (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (method, path)
                assert list(operation["requestBody"]["content"]) == ["application/json"]
            if operation.get("security"):
                assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
            if "503" in responses:
                assert responses["503"]["headers"]["Retry-After"]["required"] is True


def test_request_objects_are_closed_and_strings_carry_no_control_characters(api):
    schemas = api.spec["components"]["schemas"]
    for name in ("TokenRequest", "VoteRequest"):
        assert schemas[name]["additionalProperties"] is False
        for field in schemas[name]["properties"].values():
            assert re.fullmatch(field["pattern"], "普通的文字\t\r\n")
            assert not re.fullmatch(field["pattern"], "a\x00b") and not re.fullmatch(field["pattern"], "\x1f")


def test_the_document_declares_who_an_entry_is_credited_to(api):
    schemas = api.spec["components"]["schemas"]
    for name in ("EntrySummary", "Entry"):
        properties, required = schemas[name]["properties"], schemas[name]["required"]
        assert {"author", "nominee_name"} <= set(required)
        assert properties["author"]["type"] == properties["nominee_name"]["type"] == ["string", "null"]
