BODIES = {
    "catalog.create_permission": lambda world: {"name": "matrix:new", "description": "Made by the matrix."},
    "catalog.update_permission": lambda world: {"description": "Changed by the matrix."},
}
