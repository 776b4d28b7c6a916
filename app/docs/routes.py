"""`/openapi.json` and `/docs`: the API document and Swagger UI, served with no CDN."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, cast

import flask_openapi3_swagger
from flask import Blueprint, Response, current_app, send_from_directory
from flask_openapi3 import OpenAPI

from app.errors import PROBLEM_TYPES_PATH
from policies import public
from policies.problems import PROBLEM_CODES

SWAGGER_ASSETS = Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"
# Every asset is ours; Swagger UI needs inline styles only.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)

DOCS_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Authorization API</title>
  <link rel="stylesheet" href="/docs/assets/css/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/js/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT_JS = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    persistAuthorization: false
  });
};
"""

PROBLEMS_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Problem types of the authorization API</title>
</head>
<body>
  <h1>Problem types</h1>
  <p>Every error is an RFC 9457 <code>application/problem+json</code> object whose
  <code>type</code> points to one entry below and whose <code>code</code> names it.
  The token endpoint answers in RFC 6749 &sect;5.2 form instead.</p>
  <dl>
{entries}
  </dl>
</body>
</html>
"""

bp = Blueprint("docs", __name__)


def problems_page() -> str:
    entries = "\n".join(
        f'    <dt id="{escape(code)}"><code>{escape(code)}</code></dt><dd>{escape(meaning)}</dd>'
        for code, meaning in sorted(PROBLEM_CODES.items())
    )
    return PROBLEMS_HTML.replace("{entries}", entries)


@bp.get("/openapi.json")
@public("the API document")
def openapi_document() -> dict[str, Any]:
    return cast(OpenAPI, current_app).api_doc  # the app is an AuthzAPI (create_app)


@bp.get("/docs")
@public("interactive API documentation")
def docs_page() -> Response:
    return Response(DOCS_HTML, mimetype="text/html", headers={"Content-Security-Policy": DOCS_CSP})


@bp.get(PROBLEM_TYPES_PATH)
@public("what each problem type means (the `type` URI of every error)")
def problem_types() -> Response:
    return Response(problems_page(), mimetype="text/html", headers={"Content-Security-Policy": DOCS_CSP})


@bp.get("/docs/init.js")
@public("interactive API documentation")
def docs_init() -> Response:
    return Response(DOCS_INIT_JS, mimetype="text/javascript")


@bp.get("/docs/assets/<path:filename>")
@public("interactive API documentation assets")
def docs_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_ASSETS, filename, max_age=3600)
