BODIES = {
    "resources.put_resource": lambda world: {"properties": {"status": "active"}},
}
