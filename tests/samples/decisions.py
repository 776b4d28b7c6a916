EVALUATION = {
    "subject": {"type": "user", "id": "owner"},
    "action": {"name": "read"},
    "resource": {"type": "projects", "id": "any"},
}

BODIES = {
    "decisions.evaluation": lambda world: EVALUATION,
    "decisions.evaluations": lambda world: {"evaluations": [EVALUATION, EVALUATION]},
    "decisions.search_subject": lambda world: {**EVALUATION, "subject": {"type": "user"}},
    "decisions.search_resource": lambda world: {**EVALUATION, "resource": {"type": "projects"}},
    "decisions.search_action": lambda world: {
        "subject": EVALUATION["subject"],
        "resource": EVALUATION["resource"],
    },
}
