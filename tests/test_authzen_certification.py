"""Every case of the AuthZEN 1.0 certification's Basic, Batch, Search (Core) and Discovery
levels, against the fixture made through our own API (tests/authzen_fixture.py).

Case ids follow the newest scenario (openid/authzen `certification/`, commit db50373):
c-4-3-2 is resource search with context there, c-4-3-3 the ignored resource id, c-3-4-1
pins `execute_all`, and c-4-6 and c-4-7-2 name all three search endpoints."""

from __future__ import annotations

import pytest

from tests.authzen_fixture import Fixture, build

ALICE = {"type": "user", "id": "alice"}
BOB = {"type": "user", "id": "bob"}
RECORD_1 = {"type": "record", "id": "record-1"}
RECORD_2 = {"type": "record", "id": "record-2"}
READ = {"name": "read"}
WRITE = {"name": "write"}


@pytest.fixture
def cert(client, login) -> Fixture:
    return build(client, login)


@pytest.fixture
def post(client, cert):
    def send(path: str, body=None, **kwargs):
        headers = {**cert.pep, **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return client.post(f"/access/v1{path}", headers=headers, **kwargs)

    return send


def decision_of(response) -> bool:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["decision"], bool)
    assert isinstance(body.get("context", {}), dict)
    return body["decision"]


# ------------------------------------------------------------------- Basic Core (c-2)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"subject": ALICE, "action": READ, "resource": RECORD_1}, True, id="c-2-2-1 permit"),
        pytest.param({"subject": BOB, "action": WRITE, "resource": RECORD_1}, False, id="c-2-2-2 deny"),
        pytest.param(
            {
                "subject": ALICE,
                "action": READ,
                "resource": RECORD_1,
                "context": {"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"},
            },
            True,
            id="c-2-2-3 context",
        ),
        pytest.param(
            {
                "subject": {**ALICE, "properties": {"department": "Sales", "role": "manager"}},
                "action": {"name": "read", "properties": {"method": "GET"}},
                "resource": {**RECORD_1, "properties": {"status": "active", "owner": "bob"}},
            },
            True,
            id="c-2-2-8 additional properties",
        ),
        pytest.param(
            {
                "subject": ALICE,
                "action": READ,
                "resource": RECORD_1,
                "foo": "bar",
                "futureField": {"nested": True},
            },
            True,
            id="c-2-2-9 unknown fields",
        ),
        pytest.param({"subject": ALICE, "action": WRITE, "resource": RECORD_1}, True, id="c-1-4 rule 2"),
        pytest.param({"subject": BOB, "action": READ, "resource": RECORD_1}, True, id="c-1-4 rule 3"),
    ],
)
def test_basic_core_decisions(post, body, expected):
    assert decision_of(post("/evaluation", body)) is expected


def test_a_denial_says_why_in_its_context(post):
    body = post("/evaluation", {"subject": BOB, "action": WRITE, "resource": RECORD_1}).get_json()

    assert body["context"]["reason_code"] == "missing_permission"
    assert body["context"]["missing_permissions"] == ["record:write"]
    assert isinstance(body["context"]["reason_admin"]["en"], str)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"action": READ, "resource": RECORD_1}, id="missing subject"),
        pytest.param({"subject": ALICE, "resource": RECORD_1}, id="missing action"),
        pytest.param({"subject": ALICE, "action": READ}, id="missing resource"),
        pytest.param(
            {"subject": {"id": "alice"}, "action": READ, "resource": RECORD_1}, id="subject without type"
        ),
        pytest.param(
            {"subject": {"type": "user"}, "action": READ, "resource": RECORD_1}, id="subject without id"
        ),
        pytest.param({"subject": ALICE, "action": {}, "resource": RECORD_1}, id="action without name"),
        pytest.param(
            {"subject": ALICE, "action": READ, "resource": {"id": "record-1"}}, id="resource without type"
        ),
        pytest.param(
            {"subject": ALICE, "action": READ, "resource": {"type": "record"}}, id="resource without id"
        ),
        pytest.param({"subject": "alice", "action": READ, "resource": RECORD_1}, id="subject a string"),
        pytest.param(
            {"subject": ALICE, "action": {"name": 123}, "resource": RECORD_1}, id="action.name a number"
        ),
        pytest.param([], id="not an object"),
    ],
)
def test_basic_core_malformed_requests_are_400(post, body):
    response = post("/evaluation", body)

    assert response.status_code == 400
    assert response.get_json()["status"] == 400


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"data": '{"subject": {}}', "content_type": "text/plain"}, id="c-2-4-3 content type"),
        pytest.param({"data": "{not json", "content_type": "application/json"}, id="c-2-4-4 malformed JSON"),
        pytest.param({"data": "", "content_type": "application/json"}, id="c-2-4-5 empty body"),
    ],
)
def test_basic_core_transport_errors_are_400(post, kwargs):
    assert post("/evaluation", **kwargs).status_code == 400


def test_basic_core_request_id_is_echoed_or_made(post):
    body = {"subject": ALICE, "action": READ, "resource": RECORD_1}

    echoed = post("/evaluation", body, headers={"X-Request-ID": "cert-2-5-1"})
    made = post("/evaluation", body)

    assert echoed.headers["X-Request-ID"] == "cert-2-5-1"
    assert made.status_code == 200
    assert made.headers.get("X-Request-ID")


def test_basic_core_is_idempotent(post):
    body = {"subject": ALICE, "action": READ, "resource": RECORD_1}

    assert [decision_of(post("/evaluation", body)) for _ in range(3)] == [True, True, True]


# ------------------------------------------------------------------- Batch Core (c-3)


def decisions_of(response) -> list[bool]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert "decision" not in body  # c-3-3-4: omitted when `evaluations` is present
    for item in body["evaluations"]:
        assert isinstance(item["decision"], bool)
        assert isinstance(item.get("context", {}), dict)
    return [item["decision"] for item in body["evaluations"]]


def test_batch_core_with_a_default_subject_and_action(post):  # c-3-2-1
    body = {"subject": ALICE, "action": READ, "evaluations": [{"resource": RECORD_1}, {"resource": RECORD_2}]}

    assert decisions_of(post("/evaluations", body)) == [True, True]


def test_batch_core_fixture_decisions_in_order(post):  # c-3-2-2, c-3-3-2
    body = {"subject": BOB, "resource": RECORD_1, "evaluations": [{"action": READ}, {"action": WRITE}]}

    assert decisions_of(post("/evaluations", body)) == [True, False]


def test_batch_core_without_defaults(post):  # c-3-2-5
    body = {
        "evaluations": [
            {"subject": ALICE, "action": READ, "resource": RECORD_1},
            {"subject": BOB, "action": WRITE, "resource": RECORD_1},
        ]
    }

    assert decisions_of(post("/evaluations", body)) == [True, False]


def test_batch_core_context_inheritance_is_accepted(post):  # c-3-2-6
    body = {
        "subject": ALICE,
        "action": READ,
        "context": {"time": "2025-06-27T18:03-07:00"},
        "evaluations": [
            {"resource": RECORD_1},
            {"resource": RECORD_2, "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}},
        ],
    }

    assert len(decisions_of(post("/evaluations", body))) == 2


@pytest.mark.parametrize(
    "options", [None, {"evaluations_semantic": "execute_all"}], ids=["default", "pinned"]
)
def test_batch_core_an_invalid_item_is_a_false_decision(post, options):  # c-3-4-1, c-3-3-1
    body = {"subject": ALICE, "action": READ, "evaluations": [{"resource": RECORD_1}, {}]}
    if options is not None:
        body["options"] = options

    response = post("/evaluations", body)

    assert decisions_of(response) == [True, False]
    assert response.get_json()["evaluations"][1]["context"]["reason_code"] == "invalid_request"


@pytest.mark.parametrize("evaluations", [None, []], ids=["c-3-4-2 missing", "c-3-4-3 empty"])
def test_batch_core_without_evaluations_is_a_single_evaluation(post, evaluations):
    body = {"subject": ALICE, "action": READ, "resource": RECORD_1}
    if evaluations is not None:
        body["evaluations"] = evaluations

    assert post("/evaluations", body).get_json() == {"decision": True}


def test_batch_malformed_payload_is_400(post):
    assert post("/evaluations", data="{", content_type="application/json").status_code == 400
    assert post("/evaluations", {"evaluations": "no"}).status_code == 400


# ------------------------------------------------------------------- Search Core (c-4)


def results_of(response) -> list[dict]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert isinstance(body["results"], list)
    assert isinstance(body["page"], dict)
    assert isinstance(body["page"]["next_token"], str)
    return body["results"]


@pytest.mark.parametrize(
    "context", [None, {"time": "2025-06-27T18:03-07:00"}], ids=["c-4-2-1", "c-4-2-2 context"]
)
def test_subject_search_finds_alice_and_bob(post, context):
    body = {"subject": {"type": "user"}, "action": READ, "resource": RECORD_1}
    if context:
        body["context"] = context

    results = results_of(post("/search/subject", body))

    assert all(r["type"] == "user" for r in results)
    assert {"alice", "bob"} <= {r["id"] for r in results}


def test_subject_search_with_a_subject_id_gives_the_same_results(post):  # c-4-2-3 (newest scenario)
    without = {"subject": {"type": "user"}, "action": READ, "resource": RECORD_1}
    with_id = {**without, "subject": ALICE}

    assert results_of(post("/search/subject", with_id)) == results_of(post("/search/subject", without))
    assert {"alice", "bob"} <= {r["id"] for r in results_of(post("/search/subject", with_id))}


def test_subject_search_ignores_a_subject_id(post):  # c-4-2-3
    body = {"subject": {"type": "user", "id": "ignored"}, "action": WRITE, "resource": RECORD_1}

    assert [r["id"] for r in results_of(post("/search/subject", body))] == ["alice"]


@pytest.mark.parametrize(
    ("resource", "context"),
    [
        ({"type": "record"}, None),
        ({"type": "record"}, {"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"}),
        (RECORD_1, None),
        (RECORD_2, None),
    ],
    ids=["c-4-3-1", "c-4-3-2 context", "c-4-3-3 id ignored", "c-4-3-3 another id ignored"],
)
def test_resource_search_finds_record_1(post, resource, context):
    body = {"subject": ALICE, "action": READ, "resource": resource}
    if context:
        body["context"] = context

    results = results_of(post("/search/resource", body))

    assert all(r["type"] == "record" for r in results)
    assert {"record-1", "record-2"} == {r["id"] for r in results}


@pytest.mark.parametrize(
    "context", [None, {"time": "2025-06-27T18:03-07:00"}], ids=["c-4-4-1", "c-4-4-2 context"]
)
def test_action_search_finds_read_and_write(post, context):
    body = {"subject": ALICE, "resource": RECORD_1}
    if context:
        body["context"] = context

    results = results_of(post("/search/action", body))

    assert {"read", "write"} <= {r["name"] for r in results}
    assert "delete" not in {r["name"] for r in results}


def test_search_pagination_walks_every_page(post):  # c-4-5-1, c-4-5-2, c-4-5-3
    body = {"subject": {"type": "user"}, "action": READ, "resource": RECORD_1, "page": {"limit": 1}}

    first = post("/search/subject", body).get_json()
    second = post("/search/subject", {**body, "page": {"token": first["page"]["next_token"]}}).get_json()

    assert len(first["results"]) == 1
    assert first["page"]["next_token"] != ""
    assert [r["id"] for r in first["results"] + second["results"]] == ["alice", "bob"]
    assert second["page"]["next_token"] == ""


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(
            "/search/action",
            {"subject": {"type": "user", "id": "nonexistent-user"}, "resource": RECORD_1},
            id="c-4-6-1",
        ),
        pytest.param(
            "/search/subject",
            {"subject": {"type": "spaceship"}, "action": READ, "resource": RECORD_1},
            id="c-4-6-2",
        ),
        pytest.param(
            "/search/resource",
            {"subject": ALICE, "action": READ, "resource": {"type": "spaceship"}},
            id="c-4-6-2 resource search",
        ),
        pytest.param(
            "/search/resource",
            {
                "subject": {"type": "user", "id": "nonexistent-user"},
                "action": READ,
                "resource": {"type": "record"},
            },
            id="c-4-6-1 resource search",
        ),
        pytest.param(
            "/search/subject",
            {"subject": {"type": "user"}, "action": READ, "resource": {"type": "spaceship", "id": "s-1"}},
            id="c-4-6-2 subject search, resource type",
        ),
        pytest.param(
            "/search/action",
            {"subject": ALICE, "resource": {"type": "spaceship", "id": "s-1"}},
            id="c-4-6-2 action search",
        ),
        pytest.param(
            "/search/action",
            {"subject": {"type": "spaceship", "id": "alice"}, "resource": RECORD_1},
            id="c-4-6-2 action search, subject type",
        ),
    ],
)
def test_search_unknown_ids_and_types_give_empty_results(post, path, body):
    assert results_of(post(path, body)) == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(
            "/search/subject", {"subject": {"type": "user"}, "resource": RECORD_1}, id="c-4-7-1 subject"
        ),
        pytest.param(
            "/search/resource", {"action": READ, "resource": {"type": "record"}}, id="c-4-7-1 resource"
        ),
        pytest.param("/search/action", {"subject": ALICE}, id="c-4-7-1 action"),
        pytest.param(
            "/search/subject",
            {"subject": {"type": "user"}, "action": READ, "resource": {"type": "record"}},
            id="c-4-7-2 subject",
        ),
        pytest.param(
            "/search/resource",
            {"subject": {"type": "user"}, "action": READ, "resource": {"type": "record"}},
            id="c-4-7-2 resource",
        ),
        pytest.param(
            "/search/action",
            {"subject": {"type": "user"}, "resource": RECORD_1},
            id="c-4-7-2 action",
        ),
    ],
)
def test_search_missing_fields_are_400(post, path, body):
    assert post(path, body).status_code == 400


# ----------------------------------- every level: c-2-4, c-2-5 and c-5 on every endpoint

VALID = {
    "/evaluation": {"subject": ALICE, "action": READ, "resource": RECORD_1},
    "/evaluations": {"subject": ALICE, "action": READ, "evaluations": [{"resource": RECORD_1}]},
    "/search/subject": {"subject": {"type": "user"}, "action": READ, "resource": RECORD_1},
    "/search/resource": {"subject": ALICE, "action": READ, "resource": {"type": "record"}},
    "/search/action": {"subject": ALICE, "resource": RECORD_1},
}


@pytest.mark.parametrize("path", VALID)
def test_every_endpoint_answers_json_and_echoes_the_request_id(post, path):  # c-2-5, c-5
    echoed = post(path, VALID[path], headers={"X-Request-ID": f"cert-{path}"})
    made = post(path, VALID[path])

    assert echoed.status_code == 200, echoed.get_json()
    assert echoed.mimetype == "application/json"
    assert echoed.headers["X-Request-ID"] == f"cert-{path}"
    assert made.status_code == 200
    assert made.headers.get("X-Request-ID")


@pytest.mark.parametrize("path", VALID)
@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"data": '{"subject": {}}', "content_type": "text/plain"}, id="content type"),
        pytest.param({"data": "{not json", "content_type": "application/json"}, id="malformed JSON"),
        pytest.param({"data": "", "content_type": "application/json"}, id="empty body"),
    ],
)
def test_every_endpoint_answers_transport_errors_with_400(post, path, kwargs):  # c-2-4, c-3-4-1
    assert post(path, **kwargs).status_code == 400


# ------------------------------------------------------------------- Discovery (c-6)


def test_discovery_metadata(client, app):
    response = client.get("/.well-known/authzen-configuration")

    body = response.get_json()
    issuer = "https://authz.test"
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert body["policy_decision_point"] == issuer
    assert body["access_evaluation_endpoint"] == f"{issuer}/access/v1/evaluation"
    for name in ("access_evaluations", "search_subject", "search_resource", "search_action"):
        assert body[f"{name}_endpoint"].startswith("https://")
