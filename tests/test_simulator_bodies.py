"""Issue 20, items 1 and 13: the simulator answers every request with Northflank's envelope,
never a dropped connection, and its shapes follow the official types. In process."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from nfsim import Simulator
from nfsim.inprocess import SimTransport
from testdata import TOKEN

P = "/v1/projects/demo-project"
ROUTES = [
    ("POST", f"{P}/services/build"),
    ("PUT", f"{P}/services/build"),
    ("POST", f"{P}/jobs/demo-job/build"),
    ("POST", f"{P}/services/demo-service/build"),
    ("PATCH", f"{P}/services/deployment/demo-web"),
    ("POST", f"{P}/jobs/demo-migrate/runs"),
    ("GET", f"{P}/jobs/demo-job/build"),
    ("GET", f"{P}/services/demo-web"),
    ("DELETE", f"{P}/jobs/demo-migrate/runs/nope"),
]
BODIES: dict[str, bytes | None] = {
    "empty": None,
    "empty object": b"{}",
    "a list": b"[1, 2]",
    "a string": b'"deploy"',
    "wrong-typed fields": json.dumps(
        {"deployment": {"instances": "two", "internal": []}, "sha": 5, "name": ["x"]}
    ).encode(),
    "not JSON": b"{oops",
}


def send(sim: Simulator, method: str, path: str, body: bytes | None) -> httpx.Response:
    client = httpx.Client(transport=SimTransport(sim), base_url="http://nfsim")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return client.request(method, path, content=body, headers=headers)


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_answers_a_body_it_cannot_use_with_an_envelope(
    sim: Simulator, method: str, path: str, body: str
) -> None:
    answer = send(sim, method, path, BODIES[body])  # a dropped connection raises here
    if answer.is_success:
        assert body in ("empty", "empty object") or method in ("GET", "DELETE"), answer.text
        return
    assert answer.status_code in (400, 404, 501), answer.text
    error = answer.json()["error"]
    assert error["status"] == answer.status_code
    assert error["message"]


def test_a_patch_of_what_the_simulator_does_not_model_is_an_explicit_501(sim: Simulator) -> None:
    external = {"deployment": {"instances": 1, "external": {"imagePath": "nginx:latest"}}}
    answer = send(sim, "PATCH", f"{P}/services/deployment/demo-web", json.dumps(external).encode())
    assert answer.status_code == 501
    assert "deployment.internal" in answer.json()["error"]["message"]


def test_the_official_clis_login_is_answered(sim: Simulator) -> None:
    assert send(sim, "GET", "/v1/login", None).json() == {"data": {}}
    sim.tokens = {"another"}
    assert send(sim, "GET", "/v1/login", None).status_code == 401


REQUIRED = ("id", "appId", "name", "tags", "projectId", "serviceType", "createdAt",
            "disabledCI", "disabledCD", "billing", "servicePaused")  # fmt: skip


@pytest.mark.parametrize("service", ["demo-web", "demo-service"])
def test_get_service_has_the_fields_the_official_types_require(
    sim: Simulator, service: str
) -> None:
    data: dict[str, Any] = send(sim, "GET", f"{P}/services/{service}", None).json()["data"]
    missing = [name for name in REQUIRED if name not in data]
    assert missing == [], missing
    assert "status" in data


def test_build_sha_latest_deploys_the_newest_build_and_scaling_says_so(sim: Simulator) -> None:
    built = sim.world.add_build(
        "demo-project", "service", "demo-service", "b" * 40, started_ago_s=600
    )
    body = {
        "deployment": {"instances": 2, "internal": {"id": "demo-service", "buildSHA": "latest"}}
    }
    assert send(
        sim, "PATCH", f"{P}/services/deployment/demo-web", json.dumps(body).encode()
    ).is_success
    sim.clock.sleep(10)
    data = send(sim, "GET", f"{P}/services/demo-web", None).json()["data"]
    internal = data["deployment"]["internal"]
    assert (internal["buildSHA"], internal["deployedSHA"]) == ("latest", built.sha)
    body["deployment"]["instances"] = 3  # the same source, more instances
    send(sim, "PATCH", f"{P}/services/deployment/demo-web", json.dumps(body).encode())
    data = send(sim, "GET", f"{P}/services/demo-web", None).json()["data"]
    assert data["status"]["deployment"]["reason"] == "SCALING"


def test_the_catalogue_says_what_exists_and_which_token_works(sim: Simulator) -> None:
    from nfsim.__main__ import catalogue

    text = catalogue(sim)
    for name in ("demo-project", "demo-job", "demo-migrate", "demo-service", "demo-web",
                 "demo-worker", "demo-team", "any token is accepted"):  # fmt: skip
        assert name in text, name
    assert "one of 1 given" in catalogue(sim, tokens=["t"])
