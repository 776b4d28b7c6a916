"""The Flask application class: flask-openapi3's, with a document completed from the policy
registry and the routes' declarations (app.openapi_document)."""

from __future__ import annotations

from flask_openapi3 import OpenAPI

from app.auth.schemas import document_login_tenant
from app.openapi_document import BEARER_SCHEME, complete_document
from app.security import settings
from policies import route_policies

__all__ = ["BEARER_SCHEME", "AuthzAPI"]


class AuthzAPI(OpenAPI):
    def generate_spec_json(self) -> None:
        """Complete the document from the same registry that enforces each policy, so the
        document cannot drift from what is enforced."""
        super().generate_spec_json()  # type: ignore[no-untyped-call]  # unannotated in flask-openapi3
        view_names = {
            endpoint: getattr(view, "__name__", endpoint.rsplit(".", 1)[-1])
            for endpoint, view in self.view_functions.items()
        }
        complete_document(self.spec_json, route_policies(self), view_names)
        with self.app_context():
            default_tenant = settings().default_tenant
        document_login_tenant(self.spec_json["components"]["schemas"], default_tenant)
