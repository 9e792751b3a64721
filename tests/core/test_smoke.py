from daiyun.tenants.auth.permissions import Role
from tests.conftest import World


def test_admin_signs_in_and_lists_tenants(world: World) -> None:
    a, b = world.tenant("acme"), world.tenant("brandb")
    admin = world.actor(Role.agency_admin)
    answer = world.client.get("/api/v1/tenants", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    assert {t["slug"] for t in answer.json()["items"]} >= {"acme", "brandb"}
    owner = world.actor(Role.merchant_owner, a)
    mine = world.client.get("/api/v1/tenants", headers=owner.headers).json()["items"]
    assert [t["slug"] for t in mine] == ["acme"]
    assert world.client.get(f"/api/v1/tenants/{b.slug}", headers=owner.headers).status_code == 404
