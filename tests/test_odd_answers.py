"""Issue 18, cause 1: no answer escapes the API layer as anything but a NorthflankError.

Every endpoint the client has (HTTP) and both log sockets (a build's, a job run's) are fed a
corrupt body, a corrupt ``Date``, a corrupt ``Content-Encoding`` and a wrong-typed JSON
field. What the API layer cannot use must come out as a fact the retry loop, the waiting
loop and the abort logic understand (api/errors.py), never as httpx.DecodingError,
OverflowError or AttributeError.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.sync.server import ServerConnection, serve

from northflank_build.api.bodies import StartBuildRequest, StartJobRunRequest
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import TailUnavailable
from northflank_build.api.logtail import WebSocketTail
from northflank_build.api.ratelimit import retry_after_seconds, server_time
from northflank_build.api.routes import BuildTarget
from test_client import make
from testdata import SHA

JOB = BuildTarget("job", "my-job")
ABSURD_DATES = [
    "Mon, 01 Jan 99999 00:00:00 GMT",
    "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
    "Mon, 01 Jan 1970 00:00:00 +99999999",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "not a date at all",
    "",
]

# Each endpoint: how to call it on a client.
ENDPOINTS: dict[str, Callable[[NorthflankClient], object]] = {
    "get build": lambda c: c.builds.get(JOB, "b-1"),
    "list builds": lambda c: c.builds.page(JOB),
    "build log page": lambda c: c.builds.logs(JOB, "b-1", None, 10),
    "start build": lambda c: c.builds.start(JOB, StartBuildRequest(sha=SHA)),
    "abort build": lambda c: c.builds.abort(JOB, "b-1"),
    "reuse lookup": lambda c: c.builds.find_reusable(JOB, SHA, True),
    "quick lost-start look": lambda c: c.builds.find_started_quickly(JOB, SHA, 1_795_000_000.0),
    "service exists": lambda c: c.services.exists("svc"),
    "get service": lambda c: c.deployments.get("svc"),
    "patch service": lambda c: c.deployments.patch("svc", {"deployment": {}}),
    "start run": lambda c: c.runs.start("my-job", StartJobRunRequest()),
    "get run": lambda c: c.runs.get("my-job", "r-1"),
    "abort run": lambda c: c.runs.abort("my-job", "r-1"),
    "run log page": lambda c: c.runs.logs("my-job", "r-1", None, 10),
}


def _good(request: httpx.Request) -> Any:
    """A plausible answer's JSON for each route."""
    path, method = request.url.path, request.method
    build = {"id": "b-1", "status": "BUILDING", "concluded": False, "sha": SHA,
             "createdAt": "2026-11-20T10:00:00.000Z"}  # fmt: skip
    if path.endswith("/build-logs") or path.endswith("/logs"):
        return {"data": [{"ts": "2026-11-20T10:00:00.000Z", "log": "x", "containerId": "c"}]}
    if path.endswith("/build"):
        return {"data": {"builds": [build]}} if method == "GET" else {"data": build}
    if "/runs" in path:
        run = {"id": "r-1", "status": "RUNNING", "concluded": False,
               "startedAt": "2026-11-20T10:00:00Z"}  # fmt: skip
        return (
            {"data": {"runs": [run]}}
            if path.endswith("/runs") and method == "GET"
            else {"data": run}
        )
    if "/services/" in path:
        return {"data": {"id": "svc", "deployment": {"instances": 1},
                         "status": {"deployment": {"status": "COMPLETED"}}}}  # fmt: skip
    return {"data": build}


def _wrong_typed(body: Any) -> Any:
    """The same answer with the field every reader leans on given the wrong type."""
    data = body["data"]
    if isinstance(data, list):
        return {"data": [{"ts": 5, "log": {"a": 1}, "containerId": []}]}
    if "builds" in data:
        return {"data": {"builds": {"id": "b-1"}}}
    if "runs" in data:
        return {"data": {"runs": "r-1"}}
    return {"data": {**data, "id": 12345, "concluded": "yes", "deployment": True}}


def _encoded(status: int, raw: bytes, encoding: str, **headers: str) -> httpx.Response:
    """An answer whose bytes are decoded where the client reads them, as off a socket."""
    return httpx.Response(
        status, stream=httpx.ByteStream(raw), headers={"content-encoding": encoding, **headers}
    )


CORRUPTIONS: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "body not JSON": lambda r: httpx.Response(200, content=b"<html>oops"),
    "body cut short": lambda r: httpx.Response(200, content=json.dumps(_good(r)).encode()[:-7]),
    "absurd Date": lambda r: httpx.Response(
        200, json=_good(r), headers={"date": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"}
    ),
    "gzip that is not gzip": lambda r: _encoded(200, json.dumps(_good(r)).encode(), "gzip"),
    "deflate that is not deflate": lambda r: _encoded(200, b'{"data": {}}', "deflate"),
    "unknown encoding": lambda r: _encoded(200, json.dumps(_good(r)).encode(), "zstd-ish"),
    "wrong-typed field": lambda r: httpx.Response(200, json=_wrong_typed(_good(r))),
    "error body not gzip": lambda r: _encoded(500, b"{}", "gzip", date="nonsense"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_cause1_no_odd_answer_escapes_the_api_layer(endpoint: str, corruption: str) -> None:
    client, _clock, _seen = make(CORRUPTIONS[corruption])  # tests/test_client.py's client
    # Answered normally or a fact the loops understand; any other exception fails the test.
    with contextlib.suppress(NorthflankError):
        ENDPOINTS[endpoint](client)


@pytest.mark.parametrize("raw", ABSURD_DATES)
def test_cause1_a_date_header_is_read_by_one_checked_path(raw: str) -> None:
    headers = httpx.Headers({"date": raw, "retry-after": raw})
    seconds = retry_after_seconds(headers, 1_795_000_000.0)
    assert seconds is None or 0 <= seconds <= 24 * 3600
    assert server_time(headers) is None, f"{raw!r} is no sane server time"


# -- the log sockets (a build's and a job run's share WebSocketTail) ------------------------


@contextmanager
def socket_server(replies: list[Any]) -> Iterator[str]:
    """A log socket on loopback that answers the init with ``replies`` (then closes)."""

    def handler(ws: ServerConnection) -> None:
        ws.recv(timeout=5)
        for reply in replies:
            ws.send(reply if isinstance(reply, str) else json.dumps(reply))

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}"
        finally:
            server.shutdown()


ODD_INIT_REPLIES: dict[str, list[Any]] = {
    "data is a list": [{"type": "init", "data": ["auth", "successful"]}],
    "data is a string": [{"type": "init", "data": "successful"}],
    "reply is a list": [["init"]],
    "reply is a number": ["5"],
    "reply not JSON": ["{oops"],
    "auth is an object": [{"type": "init", "data": {"auth": {"ok": True}}}],
}


@pytest.mark.parametrize("path", ["/v1/projects/p/jobs/j/build-logs", "/v1/projects/p/jobs/j/logs"])
@pytest.mark.parametrize("reply", list(ODD_INIT_REPLIES))
def test_cause1_an_odd_log_socket_init_reply_is_unavailable_not_a_crash(
    reply: str, path: str
) -> None:
    with socket_server(ODD_INIT_REPLIES[reply]) as url, pytest.raises(TailUnavailable):
        WebSocketTail(f"{url}{path}?queryType=tail", "tok", 3.0)


ODD_MESSAGES: dict[str, Any] = {
    "lines is an object": {"type": "log-lines", "data": {"ts": "x"}},
    "line items of every type": {"type": "log-lines", "data": [5, "x", None, [], {"ts": 7}]},
    "message is a list": [1, 2],
    "not JSON": "{{{",
}


@pytest.mark.parametrize("message", list(ODD_MESSAGES))
def test_cause1_an_odd_log_socket_message_breaks_the_tail_not_the_step(message: str) -> None:
    init = {"type": "init", "data": {"auth": "successful"}}
    good = {"type": "log-lines", "data": [{"ts": "2026-11-20T10:00:00Z", "log": "ok"}]}
    with socket_server([init, good, ODD_MESSAGES[message]]) as url:
        tail = WebSocketTail(f"{url}/v1/projects/p/jobs/j/logs?queryType=tail", "tok", 3.0)
        lines = []
        for _ in range(100):  # ended means closed and drained: drain while waiting
            lines += tail.drain()
            if tail.broken or tail.ended:
                break
            threading.Event().wait(0.02)
        lines += tail.drain()
        tail.close()
    assert [line.text for line in lines] == ["ok"]
    assert tail.broken or tail.ended
