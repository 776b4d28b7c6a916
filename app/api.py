"""The Flask application class: flask-openapi3's, with the policy registry in its document."""

from __future__ import annotations

import re
from typing import Any

from flask_openapi3 import OpenAPI

from policies import route_policies

BEARER_SCHEME = "bearerAuth"
_PATH_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


class AuthzAPI(OpenAPI):
    def generate_spec_json(self) -> None:  # type: ignore[override]
        """Add each operation's policy (`x-permissions`, security) from the same registry
        that enforces it, so the document cannot drift from what is enforced."""
        super().generate_spec_json()
        paths: dict[str, Any] = self.spec_json.get("paths", {})
        for entry in route_policies(self):
            operations = paths.get(_PATH_PARAM.sub(r"{\1}", entry.rule))
            if operations is None:
                continue
            for method in entry.methods:
                operation = operations.get(method.lower())
                if operation is None:
                    continue
                operation.update(entry.policy.openapi_extensions())
                operation["security"] = [] if entry.policy.is_public else [{BEARER_SCHEME: []}]
