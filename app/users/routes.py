"""`/tenants/{tid}/users`."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

bp = APIBlueprint("users", __name__, url_prefix="/tenants/<uuid:tid>/users", abp_tags=[Tag(name="users")])
