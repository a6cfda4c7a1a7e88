"""Issue 19, item 4: one retry rule. Whether a failure is worth outliving is a fact on the
error (``transient``); the session's retry loop and the waiting loop both read it, so they
cannot disagree (before: a 501 was not retried by the session but outlived by the wait; a
408 or 425 was retried by the session but ended the wait)."""

from __future__ import annotations

import httpx
import pytest

from northflank_build.api.client import NorthflankClient
from northflank_build.api.decode import api_error
from northflank_build.api.errors import NorthflankError
from northflank_build.api.models import Build
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.engine.schedule import PollSchedule
from northflank_build.engine.waiting import Track, WaitEnd, wait_all
from virtual_clock import VirtualClock

JOB = BuildTarget("job", "j")
STATUSES = [400, 401, 403, 404, 405, 408, 409, 410, 422, 425, 500, 501, 502, 503, 504, 505, 599]
RUNNING = {"id": "b-1", "status": "BUILDING", "concluded": False}


def retried_by_the_session(status: int) -> bool:
    answers = [httpx.Response(status, json={"error": {"message": "x"}}),
               httpx.Response(200, json={"data": RUNNING})]  # fmt: skip
    # The project read that makes a 404 precise answers 200: only the build's route counts.
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/build/b-1"):
            return httpx.Response(200, json={"data": {}})
        seen.append(request.method)
        return answers.pop(0) if answers else httpx.Response(200, json={"data": RUNNING})

    client = NorthflankClient(
        api_url="https://api.example.com", token="t", project_id="p", team_id=None,
        clock=VirtualClock(), retry=RetryPolicy(attempts=3, total_seconds=60),
        transport=httpx.MockTransport(handler),
    )  # fmt: skip
    try:
        client.builds.get(JOB, "b-1")
    except NorthflankError:
        return False
    return len(seen) == 2


def outlived_by_the_wait(status: int) -> bool:
    clock = VirtualClock()
    reads = [0]
    request = httpx.Request("GET", "https://api.example.com/v1/projects/p/jobs/j/build/b-1")

    def read() -> Build:
        reads[0] += 1
        if reads[0] == 1:
            raise api_error(httpx.Response(status, request=request), "read", "perm")
        return Build(id="b-1", status="SUCCESS", concluded=True, success=True)

    first = Build(id="b-1", status="BUILDING", concluded=False)
    track = Track(first, read, PollSchedule(1, None), 0.0, lambda *_: None, lambda *_: None)
    wait_all([track], deadline=600.0, clock=clock)
    return track.end is WaitEnd.CONCLUDED


@pytest.mark.parametrize("status", STATUSES)
def test_the_retry_loop_and_the_wait_agree_on_what_is_transient(status: int) -> None:
    request = httpx.Request("GET", "https://api.example.com/x")
    error = api_error(httpx.Response(status, request=request), "read", "perm")
    assert retried_by_the_session(status) is error.transient
    assert outlived_by_the_wait(status) is error.transient
