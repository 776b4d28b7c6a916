"""`/tenants/{tid}/roles`."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

bp = APIBlueprint("roles", __name__, url_prefix="/tenants/<uuid:tid>/roles", abp_tags=[Tag(name="roles")])
