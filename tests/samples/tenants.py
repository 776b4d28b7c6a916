BODIES = {
    "tenants.create_tenant": lambda world: {"slug": "brand-new-tenant", "name": "Brand New Tenant"},
    # Only `name`: a tenant admin may rename, and `status` needs platform:write.
    "tenants.update_tenant": lambda world: {"name": "Acme Renamed"},
}
