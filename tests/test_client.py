"""The client against httpx.MockTransport, in virtual time: retries, 429, 5xx, bad bodies,
clear error messages, and a start request that never starts two builds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from inproc import FakeNorthflank
from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import (
    AuthenticationFailed,
    CreateOutcomeUnknown,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportFailure,
)
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.api.timestamps import format_timestamp
from testdata import SHA
from virtual_clock import VirtualClock

JOB = BuildTarget("job", "my-job")
Handler = Callable[[httpx.Request], httpx.Response]


def build_json(build_id: str = "b-1", **extra: object) -> dict[str, object]:
    return {"id": build_id, "status": "PENDING", "concluded": False, "sha": SHA, **extra}


def ok(data: object, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"data": data}, headers=headers)


def make(
    handler: Handler,
    clock: VirtualClock | None = None,
    team: str | None = None,
    project: str = "proj",
) -> tuple[NorthflankClient, VirtualClock, list[httpx.Request]]:
    clock = clock or VirtualClock()
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = NorthflankClient(
        api_url="https://api.example.com",
        token="tok",
        project_id=project,
        team_id=team,
        clock=clock,
        retry=RetryPolicy(attempts=5, total_seconds=60),
        transport=httpx.MockTransport(record),
    )
    return client, clock, seen


def sequence(*responses: httpx.Response | Exception) -> Handler:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def test_routes_and_headers() -> None:
    client, _, seen = make(sequence(ok(build_json())), team="my-team")
    client.builds.get(JOB, "b-1")
    request = seen[0]
    assert request.url.path == "/v1/teams/my-team/projects/proj/jobs/my-job/build/b-1"
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["user-agent"].startswith("northflank-build-action/")


def test_read_retries_5xx_with_html_bodies_then_succeeds() -> None:
    html = httpx.Response(
        502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"}
    )
    client, clock, seen = make(sequence(html, html, ok(build_json())))
    assert client.builds.get(JOB, "b-1").id == "b-1"
    assert len(seen) == 3
    assert len(clock.sleeps) == 2
    assert clock.sleeps[1] > 0
    assert clock.sleeps[0] <= 0.5


def test_read_gives_up_after_the_attempt_cap() -> None:
    client, _, seen = make(sequence(httpx.Response(503, text="down")))
    with pytest.raises(ServerError, match="HTTP 503"):
        client.builds.get(JOB, "b-1")
    assert len(seen) == 5


def test_read_retries_connection_errors_and_timeouts() -> None:
    client, _, seen = make(
        sequence(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok(build_json()))
    )
    assert client.builds.get(JOB, "b-1").id == "b-1"
    assert len(seen) == 3


def test_backoff_resets_after_a_success() -> None:
    html = httpx.Response(502, text="<html/>")
    client, clock, _ = make(sequence(html, html, ok(build_json()), html, ok(build_json())))
    client.builds.get(JOB, "b-1")
    first_streak = list(clock.sleeps)
    client.builds.get(JOB, "b-1")
    assert clock.sleeps[len(first_streak)] <= 0.5  # back to the first, shortest delay


def test_malformed_bodies_on_reads_are_retried_then_explained() -> None:
    client, _, seen = make(
        sequence(
            httpx.Response(200, text="{not json"),
            ok({"id": 5, "concluded": "maybe"}),
            ok(build_json()),
        )
    )
    assert client.builds.get(JOB, "b-1").id == "b-1"
    assert len(seen) == 3
    client, _, _ = make(sequence(httpx.Response(200, json={"nodata": True})))
    with pytest.raises(MalformedResponse, match='no "data" object'):
        client.builds.get(JOB, "b-1")
    client, _, _ = make(sequence(ok({"concluded": "maybe"})))
    with pytest.raises(MalformedResponse, match="id, concluded"):
        client.builds.get(JOB, "b-1")


def test_429_waits_as_retry_after_says() -> None:
    limited = httpx.Response(
        429, text="Too Many Requests", headers={"retry-after": "7", "x-ratelimit-reset": "99"}
    )
    client, clock, _ = make(sequence(limited, ok(build_json())))
    client.builds.get(JOB, "b-1")
    assert clock.sleeps == [7.0]


def test_429_without_retry_after_waits_for_the_reset() -> None:
    limited = httpx.Response(
        429,
        text="Too Many Requests",
        headers={"x-ratelimit-reset": "12", "x-ratelimit-remaining": "0"},
    )
    client, clock, _ = make(sequence(limited, ok(build_json())))
    client.builds.get(JOB, "b-1")
    assert clock.sleeps == [12.0]


def test_429_past_the_cap_fails_with_a_message_that_says_so() -> None:
    limited = httpx.Response(429, text="Too Many Requests", headers={"x-ratelimit-reset": "3000"})
    client, clock, _ = make(sequence(limited))
    with pytest.raises(RateLimited, match="past this client's cap") as caught:
        client.builds.get(JOB, "b-1")
    assert (caught.value.limited, caught.value.asked_s) == (1, 3000)
    assert clock.sleeps == []


def test_rate_limit_headers_drive_pacing() -> None:
    client, _, _ = make(
        sequence(
            ok(
                build_json(),
                **{
                    "x-ratelimit-limit": "1000",
                    "x-ratelimit-remaining": "10",
                    "x-ratelimit-reset": "600",
                },
            )
        )
    )
    client.builds.get(JOB, "b-1")
    assert client.pacing_delay() == pytest.approx(60.0)


def envelope(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"status": status, "message": message, "id": "e-42"}}
    )


def test_401_403_404_fail_fast_with_the_facts() -> None:
    client, _, seen = make(sequence(envelope(401, "Unauthenticated")))
    with pytest.raises(AuthenticationFailed) as auth:
        client.builds.get(JOB, "b-1")
    assert len(seen) == 1
    assert "expired" in auth.value.message
    assert (auth.value.said, auth.value.error_id) == ("Unauthenticated", "e-42")
    client, _, _ = make(sequence(envelope(403, "Insufficient permissions")))
    with pytest.raises(PermissionDenied) as denied:
        client.builds.get(JOB, "b-1")
    assert denied.value.permission == "Project > Jobs > Deployment > Deploy Build"
    assert denied.value.resource is not None
    assert denied.value.resource.id == "proj"

    # A 404 on the build's route: the project and the job are there, the build is not.
    def build_missing(request: httpx.Request) -> httpx.Response:
        there = request.url.path in ("/v1/projects/proj", "/v1/projects/proj/jobs/my-job")
        return ok({"id": "x"}) if there else envelope(404, "Not found")

    client, _, _ = make(build_missing)
    with pytest.raises(NotFound, match="Build 'b-1' of job 'my-job'"):
        client.builds.get(JOB, "b-1")
    client, _, _ = make(sequence(envelope(404, "Not found")))
    with pytest.raises(NotFound, match="Project 'proj' was not found"):
        client.builds.get(JOB, "b-1")


def test_start_404_says_whether_project_or_job_is_missing() -> None:
    def project_missing(request: httpx.Request) -> httpx.Response:
        return envelope(404, "Not found")

    client, _, _ = make(project_missing)
    with pytest.raises(NotFound, match="Project 'proj' was not found"):
        client.builds.start(JOB, StartBuildRequest(sha=SHA))

    def job_missing(request: httpx.Request) -> httpx.Response:
        return (
            ok({"id": "proj"})
            if request.url.path == "/v1/projects/proj"
            else envelope(404, "Not found")
        )

    client, _, _ = make(job_missing)
    with pytest.raises(NotFound, match="job 'my-job' was not found in project 'proj'") as caught:
        client.builds.start(JOB, StartBuildRequest(sha=SHA))
    assert caught.value.resource is not None
    assert caught.value.resource.kind == "job"


DEMO_JOB = BuildTarget("job", "demo-job")


@dataclass
class Scripted:
    """The simulator (tests/inproc.FakeNorthflank) with its start route scripted: each start
    request answered as the next of ``outcomes`` says ("ok": as the simulator does)."""

    client: NorthflankClient
    clock: VirtualClock
    nf: FakeNorthflank
    seen: list[httpx.Request]
    posts: list[str] = field(default_factory=list)


def scripted(outcomes: list[str]) -> Scripted:
    clock = VirtualClock()
    nf = FakeNorthflank(clock)
    client, _, seen = make(nf, clock, project="demo-project")
    run = Scripted(client, clock, nf, seen)

    def start(request: httpx.Request) -> httpx.Response | None:
        outcome = outcomes.pop(0) if outcomes else "ok"
        run.posts.append(outcome)
        if outcome == "connect":
            raise httpx.ConnectError("refused")
        if outcome == "429":
            return httpx.Response(429, text="Too Many Requests", headers={"retry-after": "2"})
        if outcome == "ok":
            return None
        nf.add_build(f"build-{len(nf.builds) + 1}", sha=json.loads(request.content)["sha"])
        if outcome == "created-then-drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if outcome == "created-then-timeout":
            raise httpx.ReadTimeout("timed out")
        if outcome == "created-then-502":
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(200, text="<html>")  # created-then-garbage

    nf.hooks["start"] = start
    return run


@pytest.mark.parametrize(
    "outcome",
    ["created-then-drop", "created-then-timeout", "created-then-502", "created-then-garbage"],
)
def test_ambiguous_start_adopts_the_build_instead_of_starting_another(outcome: str) -> None:
    run = scripted([outcome])
    run.nf.add_build("old", createdAt="2020-01-01T00:00:00.000Z")
    started = run.client.builds.start(DEMO_JOB, StartBuildRequest(sha=SHA))
    assert started.adopted
    assert started.build.id == "build-2"
    assert run.posts == [outcome]
    assert len(run.nf.builds) == 2
    assert [r.method for r in run.seen] == ["POST", "GET"]


def test_connect_failure_is_resent_because_nothing_reached_the_server() -> None:
    run = scripted(["connect", "ok"])
    started = run.client.builds.start(DEMO_JOB, StartBuildRequest(sha=SHA))
    assert not started.adopted
    assert run.posts == ["connect", "ok"]
    assert [r.method for r in run.seen] == ["POST", "POST"]


def test_429_on_start_waits_and_resends() -> None:
    run = scripted(["429", "ok"])
    started = run.client.builds.start(DEMO_JOB, StartBuildRequest(sha=SHA))
    assert started.build.id == "build-1"
    assert run.clock.sleeps == [2.0]


def test_ambiguous_failure_whose_build_cannot_be_found_is_never_resent() -> None:
    # A 503 may come from a proxy after Northflank made the build: not proof of nothing.
    clock = VirtualClock()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "GET":
            return httpx.Response(
                200,
                json={"data": {"builds": []}},
                headers={"date": formatdate(clock.wall(), usegmt=True)},
            )
        return httpx.Response(503, text="unavailable")

    client, _, _ = make(handler, clock)
    with pytest.raises(CreateOutcomeUnknown, match="not sent again") as caught:
        client.builds.start(JOB, StartBuildRequest(sha=SHA))
    assert calls == ["POST", "GET", "GET"]
    assert caught.value.sent_at == pytest.approx(clock.wall(), abs=2)


def test_start_with_a_different_sha_is_not_adopted() -> None:
    run = scripted(["created-then-502"])
    # Another workflow's build of another commit, created just before ours: the oldest
    # candidate by time, so only the sha check keeps it from being adopted.
    stamp = format_timestamp(datetime.fromtimestamp(run.clock.wall() - 0.4, tz=UTC))
    run.nf.add_build("someone-else", sha="c" * 40, createdAt=stamp)
    started = run.client.builds.start(DEMO_JOB, StartBuildRequest(sha=SHA))
    assert started.adopted
    assert started.build.id == "build-2"
    assert started.build.sha == SHA


def test_start_never_retries_4xx() -> None:
    client, _, seen = make(
        sequence(
            httpx.Response(
                400, json={"error": {"message": "Request body failed validation", "details": []}}
            )
        )
    )
    with pytest.raises(Exception, match="HTTP 400"):
        client.builds.start(JOB, StartBuildRequest(sha=SHA))
    assert len(seen) == 1


def test_start_gives_up_when_nothing_gets_through() -> None:
    client, _, seen = make(sequence(httpx.ConnectError("refused")))
    with pytest.raises(TransportFailure, match="Could not connect"):
        client.builds.start(JOB, StartBuildRequest(sha=SHA))
    assert len(seen) == 3


def test_a_lost_run_start_is_placed_in_time_only_with_the_servers_date() -> None:
    # Runs have no sha to narrow the window: without a Date header none is claimed (only
    # named), even one that started just after the request went out.
    from northflank_build.api.adopt import RUN_STAMP_S, Skew, claim
    from northflank_build.api.models import JobRun

    sent_at = 1_795_000_000.0
    run = JobRun(id="r-1", status="RUNNING", concluded=False, started_at=sent_at + 0.5)
    started = [run]

    def when(r: JobRun) -> Any:
        return r.started_datetime()

    def judge(at: float, skew: Skew) -> Any:
        return claim(started, when, sent_at=at, looked_at=at + 1, skew=skew, stamp_s=RUN_STAMP_S)

    unknown = judge(sent_at, Skew())
    assert unknown.ours is None
    assert unknown.candidates == (run,)
    assert judge(sent_at, Skew(0.0, 1.0)).ours is run
    later = judge(sent_at + 5, Skew(0.0, 1.0))
    assert later.ours is None
    assert later.candidates == ()
