"""The simulator in process: an httpx transport and a live-tail stand-in, on its clock.

Requests go through the very handler the HTTP server uses (routes, auth, rate limits,
schema validation, faults, recording), given the request as bytes and answering into a
buffer, so a test can run the action against the simulator in virtual time: the build's
phases move with the test's clock, and no socket or thread is involved. Faults that drop
the connection become the transport errors httpx raises for them.
"""

from __future__ import annotations

import http.client
import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from northflank_build.api.logs import LogLine, TailUnavailable

from .deploys import SimRun
from .server import PREFIX, Recorded, Simulator
from .state import SimBuild

# The stream closes this long after the build concludes (the HTTP server's loop: 0.2 s).
CLOSE_AFTER_S = 0.2


class SimTransport(httpx.BaseTransport):
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        route = self.sim.route_of(request.method, request.url.path)
        fault = self.sim.responder_for(route)
        if fault is not None and fault.respond is not None:
            answer = fault.respond(request)
            if answer is not None:
                self.sim.requests.append(
                    Recorded(
                        request.method,
                        request.url.path,
                        route,
                        {},
                        None,
                        self.sim.clock.monotonic(),
                        answer.status_code,
                    )
                )
                return answer  # type: ignore[no-any-return]
        body = request.read()
        handler: Any = self.sim.handler_class.__new__(self.sim.handler_class)
        handler.server = self.sim._server
        handler.client_address = ("127.0.0.1", 0)
        handler.request_version = "HTTP/1.1"
        handler.command = request.method
        handler.path = request.url.raw_path.decode("ascii")
        handler.requestline = f"{request.method} {handler.path} HTTP/1.1"
        handler.close_connection = False
        message = http.client.HTTPMessage()
        for name, value in request.headers.items():
            message[name] = value
        if body and "content-length" not in request.headers:
            message["Content-Length"] = str(len(body))
        handler.headers = message
        handler.rfile = io.BytesIO(body)
        handler.wfile = io.BytesIO()
        handler._handle(request.method)
        raw = handler.wfile.getvalue()
        if not raw:  # dropped, or handled and never answered
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        head, _, content = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = [tuple(line.split(": ", 1)) for line in lines[1:] if ": " in line]
        return httpx.Response(status, headers=headers, content=content, request=request)


class SimTail:
    """The live tail (``TailOpener``): the build's lines as the simulator's clock reaches
    them; it closes a moment after the build concludes. Faults on ``logs_tail`` apply:
    ``status`` refuses the upgrade, ``cut`` drops the stream after ``times`` batches."""

    def __init__(self, sim: Simulator, url: str, token: str, _timeout: float) -> None:
        self.sim = sim
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        match = re.match(
            PREFIX + r"/(?P<kind>jobs|services)/(?P<res>[^/]+)/(?:build-logs|logs)$", parts.path
        )
        sim.requests.append(
            Recorded("GET", parts.path, "logs_tail", query, None, sim.clock.monotonic(), 101)
        )
        fault = sim.fault_for("logs_tail")
        if match is None or (fault is not None and fault.action == "status"):
            raise TailUnavailable("server rejected WebSocket connection: HTTP 404")
        if not token or (sim.tokens is not None and token not in sim.tokens):
            raise TailUnavailable("the log stream refused the token")
        sim.rate(token)
        self.cut_after = fault.times if fault is not None and fault.action == "cut" else None
        self.project, self.resource = match.group("project"), match.group("res")
        self.build_id = query.get("buildId", [""])[0]
        self.run_id = query.get("runId", [""])[0]  # a job run's log
        self.start = query.get("startTime", [""])[0]
        self.sent = self.batches = 0
        self._broken = self._closed = False

    def _source(self) -> SimBuild | SimRun | None:
        if self.run_id:
            return self.sim.world.find_run(self.project, self.resource, self.run_id)
        return self.sim.world.find(self.project, self.resource, self.build_id)

    def _lines(self) -> list[dict[str, Any]] | None:
        build = self._source()
        if build is None:
            return None
        now = self.sim.clock.monotonic()
        return [line for line in build.log_lines(now) if not self.start or line["ts"] >= self.start]

    def drain(self) -> list[LogLine]:
        if self._broken or self._closed:
            return []
        lines = self._lines()
        if lines is None:
            self._broken = True  # the server sends an error message: a protocol error
            return []
        fresh = lines[self.sent :]
        if not fresh:
            return []
        if self.cut_after is not None and self.batches >= self.cut_after:
            self._broken = True  # the socket just drops, mid-build
            return []
        self.sent, self.batches = len(lines), self.batches + 1
        return [line for line in map(LogLine.from_api, fresh) if line is not None]

    @property
    def broken(self) -> bool:
        return self._broken

    @property
    def ended(self) -> bool:
        build = self._source()
        if build is None or self._broken:
            return False
        done = build.concluded(self.sim.clock.monotonic() - CLOSE_AFTER_S)
        lines = self._lines() or []
        return done and self.sent >= len(lines)

    def close(self) -> None:
        self._closed = True
