"""The OpenAPI document is valid OpenAPI 3.1 and names exactly the app's JSON endpoints.

Validity is checked against the OpenAPI 3.1 meta-schema that schemathesis ships (no separate
validator is installed), and each component schema against JSON Schema 2020-12. Which
responses the server really gives is the job of ``test_schemathesis.py``.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.routing import Mount, Route

from authserver.app import create_app
from authserver.openapi import openapi_document
from shared.settings import Settings

# The browser endpoints: HTML pages and redirects, deliberately not in the document.
HTML_PATHS = {"/authorize", "/login", "/consent", "/account", "/account/revoke", "/account/password", "/logout"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def document() -> dict[str, Any]:
    return openapi_document(Settings(issuer_url="https://auth.example.com"))


def openapi_errors(document: dict[str, Any]) -> list[str]:
    return [error.message for error in jsonschema.Draft202012Validator(OPENAPI_31).iter_errors(document)]


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert openapi_errors(document) == []
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_validity_check_catches_a_broken_document(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["paths"]["/token"]["post"]["responses"]["200"] = {"content": {}}  # a response needs a description
    assert openapi_errors(broken) != []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for value in node.values() for r in refs(value)]
        return [r for value in node for r in refs(value)] if isinstance(node, list) else []

    names = set(document["components"]["schemas"])
    for ref in refs(document["paths"]) + refs(document["components"]):
        assert ref.removeprefix("#/components/schemas/") in names, ref


def test_server_url_is_the_issuer(document: dict[str, Any]) -> None:
    assert document["servers"] == [{"url": "https://auth.example.com"}]


def test_documented_operations_are_exactly_the_apps_json_routes(document: dict[str, Any]) -> None:
    app = create_app(Settings(issuer_url="https://auth.example.com"))
    in_app: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route) or route.path in HTML_PATHS:
            continue
        assert route.methods is not None
        in_app |= {(route.path, method.lower()) for method in route.methods if method.lower() in HTTP_METHODS}
    documented = {
        (path, method) for path, item in document["paths"].items() for method in item if method != "parameters"
    }
    assert documented == in_app


def test_every_endpoint_that_checks_credentials_documents_its_failures(document: dict[str, Any]) -> None:
    for path in ("/token", "/revoke", "/introspect"):
        responses = document["paths"][path]["post"]["responses"]
        assert {"200", "400", "401", "413"} <= set(responses), path
    for method in ("get", "put", "delete"):
        assert "401" in document["paths"]["/register/{client_id}"][method]["responses"]
