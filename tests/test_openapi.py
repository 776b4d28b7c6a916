"""The API document shows every operation's policy, from the registry that enforces it."""

from __future__ import annotations

import re

from policies import route_policies


def test_document_is_openapi_3_1(client):
    document = client.get("/openapi.json").get_json()

    assert document["openapi"].startswith("3.1")


def test_every_api_operation_carries_its_permissions(app, client):
    paths = client.get("/openapi.json").get_json()["paths"]

    for entry in route_policies(app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", entry.rule)
        if path not in paths:
            assert entry.endpoint.startswith("docs."), f"{entry.rule} is missing from the document"
            continue
        for method in entry.methods:
            operation = paths[path][method.lower()]
            assert operation["x-permissions"] == sorted(entry.policy.permissions)
            assert operation["x-policy"] == entry.policy.describe()
            assert operation["security"] == ([] if entry.policy.is_public else [{"bearerAuth": []}])


def test_docs_page_uses_no_cdn(client):
    page = client.get("/docs")
    script = client.get("/docs/assets/js/swagger-ui-bundle.js")

    assert page.status_code == 200
    assert "http://" not in page.get_data(as_text=True)
    assert "https://" not in page.get_data(as_text=True)
    assert script.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_docs_assets_cannot_escape_their_folder(client):
    assert client.get("/docs/assets/../../__init__.py").status_code == 404
