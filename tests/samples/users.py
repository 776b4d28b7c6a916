BODIES = {
    "users.create_user": lambda world: {
        "username": "brand-new-user",
        "password": "a-fresh-long-password",
        "email": "new@example.com",
        "roles": ["member"],
    },
    "users.update_user": lambda world: {"email": "target@example.com"},
    "users.replace_roles": lambda world: {"roles": ["member", "reviewer"]},
}
