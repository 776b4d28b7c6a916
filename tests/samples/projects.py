BODIES = {
    "projects.create_project": lambda world: {"name": "Brand new project"},
    "projects.rename_project": lambda world: {"name": "Renamed project"},
}
