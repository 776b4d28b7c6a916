BODIES = {
    "roles.create_role": lambda world: {"name": "auditor", "permissions": ["projects:read"]},
    "roles.update_role": lambda world: {"description": "Reads projects.", "permissions": ["projects:read"]},
}
