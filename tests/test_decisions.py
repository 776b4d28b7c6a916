"""The decision API mapped onto our model (API.md, "Decisions"): the state now, ownership,
tenants, the batch semantics, and what a decision costs in SQL."""

from __future__ import annotations

import json

import pytest

from app.services import services
from models import Tenant
from tests.factories import (
    DEFAULT_CLIENT_SECRET,
    ApplicationPermissionFactory,
    ClientFactory,
    ProjectFactory,
    ResourceFactory,
    RoleFactory,
    TenantFactory,
    UserFactory,
)
from tests.test_application_permissions import claims_of


@pytest.fixture
def pep(acme, auth_headers):
    """A user of acme holding decisions:evaluate (the admin role does)."""
    return auth_headers(UserFactory(tenant=acme, roles=["admin"], username="pep"))


@pytest.fixture
def invoices(db):
    ApplicationPermissionFactory(name="invoices:manage")
    ApplicationPermissionFactory(name="invoices:approve", owner_override="invoices:manage")
    ApplicationPermissionFactory(name="invoices:read", member=True)


def ask(client, headers, subject, action, resource, **extra):
    body = {"subject": subject, "action": {"name": action}, "resource": resource, **extra}
    response = client.post("/access/v1/evaluation", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def user(u) -> dict:
    return {"type": "user", "id": str(u.id)}


def test_the_caller_needs_decisions_evaluate(client, acme, auth_headers):
    member = auth_headers(UserFactory(tenant=acme, roles=["member"]))

    response = client.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": "x"},
            "action": {"name": "a"},
            "resource": {"type": "t", "id": "1"},
        },
        headers=member,
    )

    assert response.status_code == 403
    assert response.get_json()["required_permissions"] == ["decisions:evaluate"]


def test_the_subject_may_be_named_by_id_or_username(client, acme, pep, invoices):
    bob = UserFactory(tenant=acme, roles=["member"], username="Bob")
    resource = {"type": "invoices", "id": "inv-1"}

    assert ask(client, pep, user(bob), "read", resource)["decision"] is True
    assert ask(client, pep, {"type": "user", "id": "bob"}, "read", resource)["decision"] is True


def test_ownership_applies_when_the_override_is_missing(client, db, acme, pep, invoices):
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver"])
    carol = UserFactory(tenant=acme, roles=["approver"])
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", owner=bob)

    own = ask(client, pep, user(bob), "approve", {"type": "invoices", "id": "inv-1"})
    other = ask(client, pep, user(carol), "approve", {"type": "invoices", "id": "inv-1"})
    admin = ask(client, pep, {"type": "user", "id": "pep"}, "approve", {"type": "invoices", "id": "inv-1"})

    assert own == {"decision": True}
    assert other["decision"] is False
    assert other["context"]["reason_code"] == "not_owner"
    assert admin == {"decision": True}  # the admin role holds invoices:manage


def test_an_unregistered_resource_takes_its_owner_from_the_request(client, acme, pep, invoices):
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver"], username="bob")
    unregistered = {"type": "invoices", "id": "inv-9", "properties": {"owner_id": "bob"}}

    assert ask(client, pep, user(bob), "approve", unregistered)["decision"] is True
    assert ask(client, pep, user(bob), "approve", {"type": "invoices", "id": "inv-9"})["decision"] is False


def test_a_registered_owner_wins_over_what_the_request_says(client, acme, pep, invoices):
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver"], username="bob")
    carol = UserFactory(tenant=acme, roles=["approver"], username="carol")
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", owner=carol)
    claimed = {"type": "invoices", "id": "inv-1", "properties": {"owner_id": "bob"}}

    assert ask(client, pep, user(bob), "approve", claimed)["decision"] is False


def test_projects_are_resources_whose_owner_the_service_knows(client, acme, pep):
    bob = UserFactory(tenant=acme, roles=["member"])
    carol = UserFactory(tenant=acme, roles=["member"])
    project = ProjectFactory(tenant=acme, owner=bob)
    resource = {"type": "projects", "id": str(project.id)}

    assert ask(client, pep, user(bob), "write", resource)["decision"] is True
    assert ask(client, pep, user(carol), "write", resource)["context"]["reason_code"] == "not_owner"
    assert ask(client, pep, user(carol), "read", resource)["decision"] is True


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda t: {"type": "user", "id": "nobody"}, "unknown_subject"),
        (lambda t: {"type": "robot", "id": "r2"}, "unknown_subject"),
        (lambda t: user(UserFactory(tenant=t, roles=["admin"], is_active=False)), "subject_inactive"),
        (lambda t: user(UserFactory(tenant=TenantFactory(), roles=["admin"])), "unknown_subject"),
    ],
    ids=["unknown", "unknown type", "deactivated", "another tenant"],
)
def test_subjects_that_cannot_be_permitted(client, acme, pep, make, reason):
    body = ask(client, pep, make(acme), "read", {"type": "projects", "id": "x"})

    assert body["decision"] is False
    assert body["context"]["reason_code"] == reason


def test_an_unknown_permission_is_a_false_decision(client, acme, pep):
    body = ask(client, pep, {"type": "user", "id": "pep"}, "launch", {"type": "rockets", "id": "1"})

    assert body["context"]["reason_code"] == "unknown_permission"


def test_a_revoked_client_is_inactive_and_a_live_one_is_decided_on_its_scopes(client, db, acme, pep):
    from models import utcnow

    live = ClientFactory(tenant=acme, scopes=["projects:read"])
    revoked = ClientFactory(tenant=acme, scopes=["projects:read"])
    revoked.revoked_at = utcnow()
    db.flush()
    resource = {"type": "projects", "id": "p"}

    assert ask(client, pep, {"type": "client", "id": live.client_id}, "read", resource)["decision"] is True
    assert ask(client, pep, {"type": "client", "id": live.client_id}, "manage", resource)["decision"] is False
    denied = ask(client, pep, {"type": "client", "id": revoked.client_id}, "read", resource)
    assert denied["context"]["reason_code"] == "subject_inactive"


def test_a_role_change_changes_the_very_next_decision(client, acme, pep, invoices):
    bob = UserFactory(tenant=acme, roles=["member"])
    resource = {"type": "invoices", "id": "inv-1"}
    assert ask(client, pep, user(bob), "read", resource)["decision"] is True  # cached now

    client.put(f"/tenants/{acme.id}/users/{bob.id}/roles", json={"roles": []}, headers=pep)

    assert ask(client, pep, user(bob), "read", resource)["context"]["reason_code"] == "missing_permission"


def test_a_suspended_tenant_decides_false(client, db, acme, pep, auth_headers):
    other = TenantFactory(slug="globex")
    platform = TenantFactory(slug="platform")
    operator = auth_headers(UserFactory(tenant=platform, roles=["platform-admin"]))
    bob = UserFactory(tenant=other, roles=["admin"])
    db.get(Tenant, other.id).status = "suspended"
    db.flush()
    named = {**user(bob), "properties": {"tenant_id": str(other.id)}}

    as_operator = ask(client, operator, named, "read", {"type": "projects", "id": "p"})
    as_acme = ask(client, pep, named, "read", {"type": "projects", "id": "p"})

    assert as_operator["context"]["reason_code"] == "tenant_suspended"
    assert as_acme["context"]["reason_code"] == "unknown_subject"  # never told it exists


def test_deny_on_first_deny_and_permit_on_first_permit_stop_early(client, acme, pep):
    bob = UserFactory(tenant=acme, roles=["member"])
    items = [
        {"action": {"name": "read"}},
        {"action": {"name": "manage"}},
        {"action": {"name": "read"}},
    ]
    body = {"subject": user(bob), "resource": {"type": "projects", "id": "p"}, "evaluations": items}

    def decisions(semantic):
        response = client.post(
            "/access/v1/evaluations",
            json={**body, "options": {"evaluations_semantic": semantic}},
            headers=pep,
        )
        return [e["decision"] for e in response.get_json()["evaluations"]]

    assert decisions("execute_all") == [True, False, True]
    assert decisions("deny_on_first_deny") == [True, False]
    assert decisions("permit_on_first_permit") == [True]


def test_an_unknown_semantic_and_too_many_items_are_400(client, acme, pep):
    item = {
        "subject": {"type": "user", "id": "pep"},
        "action": {"name": "read"},
        "resource": {"type": "a", "id": "1"},
    }

    unknown = client.post(
        "/access/v1/evaluations",
        json={"evaluations": [item], "options": {"evaluations_semantic": "maybe"}},
        headers=pep,
    )
    too_many = client.post("/access/v1/evaluations", json={"evaluations": [item] * 1001}, headers=pep)

    assert unknown.status_code == 400
    assert too_many.status_code == 400


def test_no_token_is_401(client, db):
    response = client.post("/access/v1/evaluation", json={})

    assert response.status_code == 401


# ------------------------------------------------------------------------------ cost


def test_one_evaluation_costs_at_most_two_queries(client, db, acme, pep, count_queries, invoices):
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver"])
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-1", owner=bob)
    body = {
        "subject": user(bob),
        "action": {"name": "approve"},
        "resource": {"type": "invoices", "id": "inv-1"},
    }
    warm = {**body, "subject": {"type": "user", "id": "pep"}}
    client.post("/access/v1/evaluation", json=warm, headers=pep)  # the caller's state, the catalog

    with count_queries.counting():
        response = client.post("/access/v1/evaluation", json=body, headers=pep)

    assert response.get_json() == {"decision": True}
    # The epoch (the caller's token check), then the subject with its roles, then the owner.
    assert count_queries.count == 3, count_queries.statements
    with count_queries.counting():
        client.post("/access/v1/evaluation", json=body, headers=pep)
    assert count_queries.count == 2, count_queries.statements  # the subject is cached under the epoch


def test_a_batch_costs_the_same_with_ten_or_a_thousand_items(
    app, client, db, acme, pep, count_queries, invoices
):
    from tests import bulk

    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    owners = [UserFactory(tenant=acme, roles=["approver"]) for _ in range(5)]
    for i in range(1000):
        ResourceFactory(tenant=acme, type="invoices", external_id=f"inv-{i}", owner=owners[i % 5])
    bulk.users(db, acme, range(20))
    db.flush()

    def batch(size):
        items = [
            {
                "subject": user(owners[i % 5]),
                "action": {"name": "approve" if i % 2 else "read"},
                "resource": {"type": "invoices", "id": f"inv-{i}"},
            }
            for i in range(size)
        ]
        client.post("/access/v1/evaluations", json={"evaluations": items[:1]}, headers=pep)  # caller warm
        services(app).subject_cache.clear()  # both batches load their subjects
        with count_queries.counting():
            response = client.post("/access/v1/evaluations", json={"evaluations": items}, headers=pep)
        assert len(response.get_json()["evaluations"]) == size
        return count_queries.count

    small, large = batch(10), batch(1000)
    # The epoch, the users with their roles, the registered owners.
    assert large == 3

    assert small == large, count_queries.statements


def test_a_search_costs_one_query_per_page(client, db, acme, pep, count_queries):
    for i in range(30):
        UserFactory(tenant=acme, roles=["member"], username=f"member{i:02d}")
    body = {
        "subject": {"type": "user"},
        "action": {"name": "read"},
        "resource": {"type": "projects", "id": "p"},
    }
    client.post("/access/v1/search/subject", json=body, headers=pep)  # the caller's state and the catalog

    with count_queries.counting():
        first = client.post("/access/v1/search/subject", json={**body, "page": {"limit": 10}}, headers=pep)
    first_count = count_queries.count
    token = first.get_json()["page"]["next_token"]
    with count_queries.counting():
        client.post(
            "/access/v1/search/subject", json={**body, "page": {"limit": 10, "token": token}}, headers=pep
        )

    # The epoch, then the page.
    assert (first_count, count_queries.count) == (2, 2), count_queries.statements


def test_resource_search_returns_owned_resources_under_an_ownership_rule(client, acme, pep, invoices):
    RoleFactory(tenant=acme, name="approver", permissions=["invoices:approve"])
    bob = UserFactory(tenant=acme, roles=["approver"])
    carol = UserFactory(tenant=acme, roles=["approver"])
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-b", owner=bob)
    ResourceFactory(tenant=acme, type="invoices", external_id="inv-c", owner=carol)

    def found(subject):
        body = {"subject": subject, "action": {"name": "approve"}, "resource": {"type": "invoices"}}
        response = client.post("/access/v1/search/resource", json=body, headers=pep)
        return [r["id"] for r in response.get_json()["results"]]

    assert found(user(bob)) == ["inv-b"]
    assert found({"type": "user", "id": "pep"}) == ["inv-b", "inv-c"]


def test_subject_search_of_clients(client, acme, pep):
    reader = ClientFactory(tenant=acme, scopes=["projects:read"])
    ClientFactory(tenant=acme, scopes=["users:read"])
    body = {
        "subject": {"type": "client"},
        "action": {"name": "read"},
        "resource": {"type": "projects", "id": "p"},
    }

    response = client.post("/access/v1/search/subject", json=body, headers=pep)

    assert response.get_json()["results"] == [{"type": "client", "id": reader.client_id}]


def test_a_grant_with_a_condition_counts_for_nothing_yet(client, db, acme, pep, login):
    from models import RolePermission

    role = RoleFactory(tenant=acme, name="conditional", permissions=["projects:read"])
    bob = UserFactory(tenant=acme, roles=["conditional"])
    grant = db.get(RolePermission, (role.id, "projects:read"))
    grant.condition = "resource.properties.status != 'archived'"
    db.flush()

    decided = ask(client, pep, user(bob), "read", {"type": "projects", "id": "p"})

    assert decided["decision"] is False
    assert "projects:read" not in claims_of(login(bob)["access_token"])["permissions"]


def test_a_subject_created_after_a_denial_is_decided_at_once(client, acme, pep, auth_headers):
    resource = {"type": "projects", "id": "p"}
    assert ask(client, pep, {"type": "user", "id": "newcomer"}, "read", resource)["decision"] is False

    UserFactory(tenant=acme, roles=["member"], username="newcomer")

    assert ask(client, pep, {"type": "user", "id": "newcomer"}, "read", resource)["decision"] is True


def test_the_new_routes_show_in_the_policy_table_and_the_document(app):
    table = app.test_cli_runner().invoke(args=["policies"]).output
    document = app.api_doc["paths"]

    assert "POST /access/v1/evaluation" in table
    assert "PUT /tenants/<uuid:tid>/resources/<type>/<path:resource_id>" in table
    assert "POST /auth/logout" in table
    assert "access token of a user" in table
    assert document["/access/v1/evaluations"]["post"]["x-permissions"] == ["decisions:evaluate"]
    assert document["/permissions"]["post"]["x-permissions"] == ["platform:write"]
    assert document["/auth/sessions"]["get"]["x-principals"] == ["user"]
    assert document["/auth/introspect"]["post"]["x-client-scope"] == "tokens:introspect"


def test_a_page_token_we_did_not_issue_is_a_400(client, acme, pep):
    body = {
        "subject": {"type": "user"},
        "action": {"name": "read"},
        "resource": {"type": "projects", "id": "p"},
        "page": {"token": "garbage"},
    }

    response = client.post("/access/v1/search/subject", json=body, headers=pep)

    assert response.status_code == 400


def test_a_malformed_default_of_a_batch_is_a_400_even_when_every_item_is_invalid(client, acme, pep):
    body = {"subject": {"type": {}, "id": "0"}, "evaluations": [None]}

    response = client.post("/access/v1/evaluations", json=body, headers=pep)

    assert response.status_code == 400


# A NUL (PostgreSQL refuses it in text) or a lone surrogate (no UTF-8 form) in a field the
# engine looks up reached the database and answered 500. AuthZEN's schema allows such a
# string, and it names nothing we could hold: it is decided as any unknown name (false, or
# no results), and in a batch only that item is. tests/security/test_hostile_input.py
# checks the reason codes and that no query is made.
P1 = {"resource": {"type": "projects", "id": "p1"}}
READ_P1 = {"action": {"name": "read"}, **P1}
USER_PEP = {"subject": {"type": "user", "id": "pep"}}
UNENCODABLE = ["alice\x00", "alice\ud800", "tab\there"]


@pytest.mark.parametrize("bad", UNENCODABLE, ids=["nul", "lone surrogate", "control"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/evaluation", lambda s: {"subject": {"type": "user", "id": s}, **READ_P1}),
        ("/evaluation", lambda s: {"subject": {"type": "client", "id": s}, **READ_P1}),
        (
            "/evaluation",
            lambda s: {**USER_PEP, "action": {"name": "read"}, "resource": {"type": "t", "id": s}},
        ),
        ("/evaluation", lambda s: {**USER_PEP, "action": {"name": s}, "resource": {"type": "t", "id": "1"}}),
        ("/search/resource", lambda s: {"subject": {"type": "user", "id": s}, **READ_P1}),
        ("/search/action", lambda s: {"subject": {"type": "user", "id": s}, **P1}),
        (
            "/search/subject",
            lambda s: {
                "subject": {"type": "user"},
                "action": {"name": "write"},
                "resource": {"type": "projects", "id": s},
            },
        ),
    ],
    ids=["user", "client", "resource id", "action", "resource search", "action search", "subject search"],
)
def test_a_string_that_names_nothing_storable_is_unknown_not_a_500(client, acme, pep, bad, path, body):
    response = client.post(
        f"/access/v1{path}", data=json.dumps(body(bad)), content_type="application/json", headers=pep
    )

    as_unknown = client.post(f"/access/v1{path}", json=body("no-such-name"), headers=pep)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == as_unknown.get_json()
    if path == "/evaluation":
        assert response.get_json()["decision"] is False


def test_in_a_batch_only_the_item_with_such_a_string_is_invalid(client, acme, pep):
    items = [{"subject": {"type": "user", "id": "pep"}}, {"subject": {"type": "user", "id": "pep\ud800"}}]
    body = {"action": {"name": "read"}, "resource": P1["resource"], "evaluations": items}

    response = client.post(
        "/access/v1/evaluations", data=json.dumps(body), content_type="application/json", headers=pep
    )

    assert response.status_code == 200, response.get_json()
    [first, second] = response.get_json()["evaluations"]
    assert first == {"decision": True}
    assert second["decision"] is False
    assert second["context"]["reason_code"] == "unknown_subject"


WHO_READS_PROJECTS = {
    "subject": {"type": "user"},
    "action": {"name": "read"},
    "resource": {"type": "projects", "id": "p"},
}


@pytest.fixture
def three_members(acme):
    """member0, member1 and member2 of acme: with the pep, four users who read projects."""
    return [UserFactory(tenant=acme, roles=["member"], username=f"member{i}") for i in range(3)]


def test_a_page_limit_is_any_non_negative_integer(client, acme, pep, three_members):
    # AuthZEN 1.0 (Search APIs, Paginated Requests): `limit` is "a non-negative integer" and a
    # maximum; the page size is the PDP's. 0 and 5,000 were 400s.
    body = WHO_READS_PROJECTS

    def page(limit):
        response = client.post(
            "/access/v1/search/subject", json={**body, "page": {"limit": limit}}, headers=pep
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    everyone = page(5000)  # capped at the largest page, 1,000
    assert [r["id"] for r in everyone["results"]] == ["member0", "member1", "member2", "pep"]
    assert everyone["page"]["next_token"] == ""
    assert page(0) == everyone  # 0: the default page size, as when no limit is given
    for limit in (-1, 1.5, "2", True):
        response = client.post(
            "/access/v1/search/subject", json={**body, "page": {"limit": limit}}, headers=pep
        )
        assert response.status_code == 400, limit


def test_a_client_a_platform_operator_made_for_the_tenant_is_decided_as_its_token_says(
    client, db, acme, platform, pep
):
    # The owner of a client may be of another tenant (a platform operator makes clients for
    # the tenants): its token holds its scopes, so must the decision API and the search. The
    # engine looked the owner up in the client's tenant only, found nobody, and bounded the
    # client to nothing.
    operator = UserFactory(tenant=platform, roles=["platform-admin"])
    integration = ClientFactory(tenant=acme, owner=operator, scopes=["projects:read"])
    db.flush()
    token = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(integration.client_id, DEFAULT_CLIENT_SECRET),
    ).get_json()
    assert token["scope"] == "projects:read"
    subject = {"type": "client", "id": integration.client_id}
    resource = {"type": "projects", "id": "p"}

    assert ask(client, pep, subject, "read", resource)["decision"] is True
    body = {"subject": {"type": "client"}, "action": {"name": "read"}, "resource": resource}
    found = client.post("/access/v1/search/subject", json=body, headers=pep).get_json()["results"]
    assert found == [subject]


def test_a_subject_named_by_id_is_that_user_even_when_another_is_named_so(client, acme, pep):
    # A username may look like a UUID: naming a user after another's id decided about the wrong
    # user (whichever row came last). An id names its user; a name only when no id matches.
    editor = RoleFactory(tenant=acme, name="editor", permissions=["projects:manage"])
    alice = UserFactory(tenant=acme, roles=["member", editor.name])
    UserFactory(tenant=acme, roles=["member"], username=str(alice.id))
    bob = UserFactory(tenant=acme, roles=["member"], username="bob")
    resource = {"type": "projects", "id": "p"}

    assert ask(client, pep, user(alice), "manage", resource)["decision"] is True
    assert ask(client, pep, {"type": "user", "id": "bob"}, "manage", resource)["decision"] is False
    assert ask(client, pep, user(bob), "read", resource)["decision"] is True


def test_a_page_token_is_good_only_for_the_search_that_issued_it(client, acme, pep, three_members):
    # AuthZEN 1.0: with a token, every entity and the context must be as in the first request,
    # and a PDP SHOULD answer an error otherwise. A token carried to another action silently
    # continued that other search from the first one's position.
    body = WHO_READS_PROJECTS
    first = client.post("/access/v1/search/subject", json={**body, "page": {"limit": 1}}, headers=pep)
    token = first.get_json()["page"]["next_token"]

    def with_token(changed):
        return client.post(
            "/access/v1/search/subject", json={**changed, "page": {"token": token}}, headers=pep
        )

    same = with_token(body)  # the limit may be left out: the page size is ours
    assert same.status_code == 200
    assert [r["id"] for r in same.get_json()["results"]] == ["member1", "member2", "pep"]
    for changed in (
        {**body, "action": {"name": "write"}},
        {**body, "resource": {"type": "projects", "id": "q"}},
        {**body, "context": {"time": "now"}},
    ):
        response = with_token(changed)
        assert response.status_code == 400, changed
        assert response.get_json()["errors"] == [
            {"field": "cursor", "message": "is not a cursor this API issued"}
        ]
