BODIES = {
    "clients.create_client": lambda world: {"name": "Deploy bot", "scopes": ["projects:read"]},
    "clients.update_client": lambda world: {"name": "Renamed bot"},
    # client_secret_post as JSON. Needs the world's client to have a known secret
    # (`world["client_secret"]`, see tests/matrix_world.py) and the matrix to send a sample
    # body to a view that reads its own body (the token endpoint annotates none).
    "oauth.token": lambda world: {
        "grant_type": "client_credentials",
        "client_id": world["client"].client_id,
        "client_secret": world["client_secret"],
    },
    # RFC 7662 with client_secret_post: every actor's request authenticates as the client.
    "oauth.introspect": lambda world: {
        "token": "not-a-token",
        "client_id": world["client"].client_id,
        "client_secret": world["client_secret"],
    },
}
