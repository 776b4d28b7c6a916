"""The app under benchmark: the real app plus two routes that do nothing but answer JSON,
one public (the bare baseline) and one behind the whole tenant policy."""

from __future__ import annotations

from flask import Flask
from flask_openapi3 import APIBlueprint

from app import create_app
from app.schemas import TenantPath
from policies import Permission, public, tenant_scoped

bench = APIBlueprint("bench", __name__)


@bench.get("/bench/bare")
@public("benchmark baseline")
def bare() -> dict[str, bool]:
    return {"ok": True}


@bench.get("/tenants/<uuid:tid>/bench")
@tenant_scoped(Permission.PROJECTS_READ)
def protected(path: TenantPath) -> dict[str, bool]:
    return {"ok": True}


def create_bench_app() -> Flask:
    return create_app(blueprints=[bench])
