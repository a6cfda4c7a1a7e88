"""The simulator's HTTP server: routes, auth, rate limits, validation, faults, recording."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import re
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from . import templates
from .deploys import SimRun
from .state import BuildPlan, RealClock, SimBuild, SimClock, World, iso

DEFAULT_LOG_WINDOW_S = 30 * 60.0

SCHEMAS = json.loads(
    (Path(__file__).parent / "schemas" / "northflank-request-schemas.json").read_text()
)
# The deploy and job-run bodies: ../shared/reference/northflank-deploy-schemas.json, copied.
DEPLOY_SCHEMAS = json.loads(
    (Path(__file__).parent / "schemas" / "northflank-deploy-schemas.json").read_text()
)
PREFIX = r"^/v1(?:/teams/(?P<team>[^/]+))?/projects/(?P<project>[^/]+)"
ROUTES = [
    # The official CLI's `northflank login` (0.9.24) checks the token with GET /v1/login and
    # needs a 200 with a "data" object (probed: {"data": {}} logs in); its shape is not in
    # the reference, so nothing more is modelled.
    ("login", "GET", re.compile(r"^/v1/login$")),
    ("project", "GET", re.compile(PREFIX + r"$")),
    ("service_create", "POST", re.compile(PREFIX + r"/services/build$")),
    ("service_put", "PUT", re.compile(PREFIX + r"/services/build$")),
    ("service_get", "GET", re.compile(PREFIX + r"/services/(?P<res>[^/]+)$")),
    ("start", "POST", re.compile(PREFIX + r"/(?P<kind>jobs|services)/(?P<res>[^/]+)/build$")),
    ("list", "GET", re.compile(PREFIX + r"/(?P<kind>jobs|services)/(?P<res>[^/]+)/build$")),
    (
        "get",
        "GET",
        re.compile(PREFIX + r"/(?P<kind>jobs|services)/(?P<res>[^/]+)/build/(?P<build>[^/]+)$"),
    ),
    (
        "abort",
        "DELETE",
        re.compile(PREFIX + r"/(?P<kind>jobs|services)/(?P<res>[^/]+)/build/(?P<build>[^/]+)$"),
    ),
    ("logs", "GET", re.compile(PREFIX + r"/(?P<kind>jobs|services)/(?P<res>[^/]+)/build-logs$")),
    ("deploy", "PATCH", re.compile(PREFIX + r"/services/deployment/(?P<res>[^/]+)$")),
    # GET job (../shared/reference/northflank-api.md section 4.5): only what a check needs.
    ("job_get", "GET", re.compile(PREFIX + r"/jobs/(?P<res>[^/]+)$")),
    ("run_start", "POST", re.compile(PREFIX + r"/jobs/(?P<res>[^/]+)/runs$")),
    ("run_list", "GET", re.compile(PREFIX + r"/jobs/(?P<res>[^/]+)/runs$")),
    ("run_get", "GET", re.compile(PREFIX + r"/jobs/(?P<res>[^/]+)/runs/(?P<run>[^/]+)$")),
    ("run_abort", "DELETE", re.compile(PREFIX + r"/jobs/(?P<res>[^/]+)/runs/(?P<run>[^/]+)$")),
    ("run_logs", "GET", re.compile(PREFIX + r"/jobs/(?P<res>[^/]+)/logs$")),
    *templates.routes(PREFIX),
    ("services_list", "GET", re.compile(PREFIX + r"/services$")),
    ("previews_list", "GET", re.compile(PREFIX + r"/preview-blueprints/(?P<res>[^/]+)/previews$")),
    (
        "preview_delete",
        "DELETE",
        re.compile(PREFIX + r"/preview-blueprints/(?P<res>[^/]+)/previews/(?P<preview>[^/]+)$"),
    ),
]
# The dashboard paths of build-url: /s/project/{p}/jobs/{j}/builds/{b} (or /t/{team}/...),
# and of a job's runs, a release flow's and a workflow's (a page naming the path).
DASHBOARD = re.compile(
    r"^/(?:s|t/[^/]+)/project/(?P<project>[^/]+)/(?:(?:jobs|services)/(?P<res>[^/]+)"
    r"(?:/builds(?:/(?P<build>[^/]+))?)?"
    r"|jobs/[^/]+/runs(?:/[^/]+)?|workflows/[^/]+/runs(?:/[^/]+)?"
    r"|pipelines/[^/]+/release-flows/[^/]+/runs(?:/[^/]+)?)/?$"
)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
PERMISSIONS = {
    "project": "Project > General > Read",
    "start": "Project > Jobs > Deployment > Deploy Build",
    "get": "Project > Jobs > Deployment > Deploy Build",
    "list": "Project > Jobs > General > Read",
    "abort": "Project > Jobs > Deployment > Deploy Build",
    "service_create": "Project > Services > General > Create",
    "service_put": "Project > Services > General > Create",
    "service_get": "Project > Services > General > Read",
    "logs": "Project > Jobs > Deployment > View Instance Logs",
    "deploy": "Project > Services > General > Update",
    "job_get": "Project > Jobs > General > Read",
    "run_start": "Project > Jobs > General > Read",
    "run_list": "Project > Jobs > General > Read",
    "run_get": "Project > Jobs > General > Read",
    "run_abort": "Project > Jobs > Deployment > Deploy Build",
    "run_logs": "Project > Jobs > Deployment > View Instance Logs",
    "tpl_start": "Project > Pipelines > General > Update (a workflow: Runs > Start)",
    "tpl_list": "Project > Pipelines > General > Read (a workflow: Runs > Read)",
    "tpl_get": "Project > Pipelines > General > Read (a workflow: Runs > Read)",
    "tpl_abort": "Project > Pipelines > General > Update (a workflow: Runs > Abort)",
}


@dataclass
class Fault:
    """Misbehaviour for requests to one route: ``times`` matches after skipping ``skip``.

    actions: ``status`` (answer ``status`` with ``body``, ``content_type`` and ``headers``),
    ``drop`` (close the connection without answering), ``drop_after`` (handle the request,
    then close without answering: the create-then-disconnect case), ``delay`` (sleep
    ``seconds`` first, then handle and answer), ``slow_answer`` (handle at once, answer
    ``seconds`` later: a start whose answer a cancel or a read timeout may cut off).
    On ``logs_tail`` (the WebSocket): ``status`` refuses the upgrade, ``cut`` drops the
    socket after ``times`` batches of log lines. In process only (nfsim/inprocess.py),
    ``respond``: ``respond(request)`` answers instead of the simulator (an httpx.Response,
    or None to let the simulator answer; it may also raise what a transport would).
    """

    route: str
    action: str = "status"
    status: int = 502
    body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    times: int = 1
    skip: int = 0
    seen: int = 0
    respond: Callable[[Any], Any] | None = None

    def applies(self) -> bool:
        self.seen += 1
        return self.skip < self.seen <= self.skip + self.times


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    route: str
    query: dict[str, list[str]]
    body: Any
    at: float  # monotonic
    status: int = 0


class Simulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        plan: BuildPlan | None = None,
        tokens: set[str] | None = None,
        forbidden: set[str] | None = None,
        rate_limit: int = 1000,
        rate_window: float = 3600.0,
        retry_after_header: bool = False,
        verbose: bool = False,
        clock: SimClock | None = None,
    ) -> None:
        self.clock: SimClock = clock or RealClock()
        self.world = World(plan=plan or BuildPlan(), clock=self.clock)
        self.tokens = tokens
        self.forbidden = forbidden or set()
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.retry_after_header = retry_after_header
        self.verbose = verbose
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.handler_class = _handler(self)
        self._server = ThreadingHTTPServer((host, port), self.handler_class)
        self._server.daemon_threads = True
        self._server.sim = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_text}:{port}"

    def start(self) -> Simulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="nfsim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # serving over HTTP (in process, it never was)
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_plan(self, plan: BuildPlan) -> None:
        self.world.plan = plan

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def calls(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    # -- request handling ----------------------------------------------------------------

    def fault_for(self, route: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.route == route and fault.action != "respond" and fault.applies():
                    return fault
        return None

    def responder_for(self, route: str) -> Fault | None:
        """A ``respond`` fault for this route (in process only)."""
        with self._lock:
            for fault in self.faults:
                if fault.route == route and fault.action == "respond" and fault.applies():
                    return fault
        return None

    @staticmethod
    def route_of(method: str, path: str) -> str:
        for name, verb, pattern in ROUTES:
            if verb == method and pattern.match(path):
                return name
        return "unknown"

    def rate(self, token: str) -> tuple[int, int, float]:
        """(limit, remaining, reset seconds) after counting this request."""
        now = self.clock.monotonic()
        with self._lock:
            start, used = self._windows.get(token, (now, 0))
            if now - start >= self.rate_window:
                start, used = now, 0
            used += 1
            self._windows[token] = (start, used)
        return (
            self.rate_limit,
            max(0, self.rate_limit - used),
            max(0.0, start + self.rate_window - now),
        )


def _handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nfsim/1"

        def log_message(self, format: str, *args: Any) -> None:
            if sim.verbose:
                super().log_message(format, *args)

        def date_time_string(self, timestamp: float | None = None) -> str:
            # The Date header on the simulator's clock (virtual in process).
            return formatdate(sim.clock.wall() if timestamp is None else timestamp, usegmt=True)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        # -- plumbing --------------------------------------------------------------------

        def _send(
            self,
            status: int,
            payload: Any,
            headers: dict[str, str] | None = None,
            *,
            raw: str | None = None,
            content_type: str = "application/json",
        ) -> None:
            if self._deferred is not None:
                self._deferred.append(
                    ((status, payload, headers), {"raw": raw, "content_type": content_type})
                )
                return
            data = (raw if raw is not None else json.dumps(payload)).encode()
            self._status = status
            if self._withhold:  # the request was handled; the answer never leaves
                self.close_connection = True
                return
            if self._answer_delay:
                sim.clock.sleep(self._answer_delay)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(
            self, status: int, message: str, headers: dict[str, str], details: Any = None
        ) -> None:
            error: dict[str, Any] = {
                "status": status,
                "message": message,
                "id": f"err-{int(sim.clock.wall() * 1000) % 10**8}",
            }
            if details is not None:
                error["details"] = details
            self._send(status, {"error": error}, headers)

        def _handle(self, method: str) -> None:
            self._status = 0
            self._withhold = False
            self._answer_delay = 0.0
            self._deferred: list[tuple[tuple[Any, ...], dict[str, Any]]] | None = None
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            route, match = "unknown", None
            for name, verb, pattern in ROUTES:
                found = pattern.match(parts.path)
                if found and verb == method:
                    route, match = name, found
                    break
            try:
                body: Any = json.loads(raw_body) if raw_body else None
            except json.JSONDecodeError:
                body = {"_unparsable": raw_body.decode(errors="replace")}
            received = sim.clock.monotonic()
            upgrade = self.headers.get("Upgrade", "").lower() == "websocket"
            if route in ("logs", "run_logs") and upgrade:
                sim.requests.append(
                    Recorded(
                        method, parts.path, "logs_tail", parse_qs(parts.query), None, received, 101
                    )
                )
                self._tail(match, parse_qs(parts.query))
                return
            try:
                if isinstance(body, dict) and "_unparsable" in body and method != "GET":
                    self._error(400, "Request body is not valid JSON", {})
                else:
                    self._route(method, route, match, body, parts.query)
            except Exception as exc:  # a bug of the simulator: an answer, never a dropped socket
                self._error(500, f"nfsim could not handle this request ({type(exc).__name__})", {})
            finally:
                sim.requests.append(
                    Recorded(
                        method,
                        parts.path,
                        route,
                        parse_qs(parts.query),
                        body,
                        received,
                        self._status,
                    )
                )

        def _route(
            self, method: str, route: str, match: re.Match[str] | None, body: Any, query: str
        ) -> None:
            if control_route(self, method, body):
                return
            if method == "GET" and DASHBOARD.match(urlsplit(self.path).path):
                self._dashboard(urlsplit(self.path).path)
                return
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else ""
            limit, remaining, reset = sim.rate(token or "-")
            headers = {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(int(reset)),
            }
            fault = sim.fault_for(route)
            if fault is not None:
                if fault.action == "delay":
                    sim.clock.sleep(fault.seconds)
                elif fault.action == "slow_answer":
                    self._answer_delay = fault.seconds
                elif fault.action == "drop_after":
                    self._withhold = True
                elif fault.action == "drop":
                    self.close_connection = True
                    return
                elif fault.action == "status":
                    self._send(
                        fault.status,
                        None,
                        {**headers, **fault.headers},
                        raw=fault.body,
                        content_type=fault.content_type,
                    )
                    return
            if not token or (sim.tokens is not None and token not in sim.tokens):
                self._error(401, "Unauthenticated: invalid or expired API token", headers)
                return
            if token in sim.forbidden:
                self._error(
                    403,
                    "Insufficient permissions",
                    headers,
                    {"requiredPermission": PERMISSIONS.get(route, "")},
                )
                return
            if _over_limit(sim, token or "-"):
                extra = {"Retry-After": str(int(reset) + 1)} if sim.retry_after_header else {}
                self._send(
                    429,
                    None,
                    {**headers, **extra},
                    raw="Too Many Requests",
                    content_type="text/plain",
                )
                return
            if route == "login":
                self._send(200, {"data": {}}, headers)
                return
            if match is None:
                self._error(404, f"Route not found: {method} {urlsplit(self.path).path}", headers)
                return
            self._serve(route, match, body, query, headers)

        def _dashboard(self, path: str) -> None:
            """The dashboard's pages the action links to (build-url), as a small page."""
            found = DASHBOARD.match(path)
            assert found is not None
            build = None
            if found.group("build"):
                build = sim.world.find(
                    found.group("project"), found.group("res"), found.group("build")
                )
            now = sim.clock.monotonic()
            rows = (
                "".join(
                    f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in build.view(now).items()
                )
                if build is not None
                else ""
            )
            page = (
                "<!doctype html><title>nfsim dashboard</title>"
                f"<h1>{html.escape(path)}</h1><table>{rows}</table>"
                "<p>Served by the Northflank simulator (devtools/nfsim).</p>"
            )
            self._send(200, None, raw=page, content_type="text/html; charset=utf-8")

        # -- the live tail: a WebSocket on the same route (https://northflank.com/docs/v1/api/log-tailing) -----------------

        def _tail(self, match: re.Match[str] | None, query: dict[str, list[str]]) -> None:
            fault = sim.fault_for("logs_tail")
            if match is None or (fault is not None and fault.action == "status"):
                self._send(
                    fault.status if fault else 404, None, raw="no", content_type="text/plain"
                )
                return
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(
                hashlib.sha1((key + WS_GUID).encode(), usedforsecurity=False).digest()
            ).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            init = _read_frame(self.rfile)
            try:
                token = json.loads(init or "{}")["data"]["auth"]["apiToken"]
            except (KeyError, TypeError, ValueError):
                token = ""
            if not token or (sim.tokens is not None and token not in sim.tokens):
                _write_frame(
                    self.wfile,
                    json.dumps(
                        {"type": "init", "data": {"auth": "failed", "message": "Unauthenticated"}}
                    ),
                )
                _write_frame(self.wfile, b"", opcode=0x8)
                return
            sim.rate(token)
            _write_frame(self.wfile, json.dumps({"type": "init", "data": {"auth": "successful"}}))
            project, resource = match.group("project"), match.group("res")
            build_id = query.get("buildId", [""])[0]
            run_id = query.get("runId", [""])[0]  # a job run's log (jobs/{id}/logs)
            start = query.get("startTime", [""])[0]
            sent, batches = 0, 0
            while True:
                now = sim.clock.monotonic()
                build: SimBuild | SimRun | None = (
                    sim.world.find_run(project, resource, run_id)
                    if run_id
                    else sim.world.find(project, resource, build_id)
                )
                if build is None:
                    _write_frame(
                        self.wfile,
                        json.dumps({"type": "error", "data": {"message": "build not found"}}),
                    )
                    break
                lines = [line for line in build.log_lines(now) if not start or line["ts"] >= start]
                fresh = lines[sent:]
                if fresh:
                    if fault is not None and fault.action == "cut" and batches >= fault.times:
                        return  # the socket just drops, mid-build
                    try:
                        _write_frame(self.wfile, json.dumps({"type": "log-lines", "data": fresh}))
                    except OSError:
                        return
                    sent, batches = len(lines), batches + 1
                # Whether the real server closes at the end is undocumented; this one does.
                if build.concluded(now) and not fresh:
                    break
                time.sleep(0.2)
            with contextlib.suppress(OSError):
                _write_frame(self.wfile, b"", opcode=0x8)

        def _valid(self, schema: dict[str, Any], body: Any, headers: dict[str, str]) -> bool:
            """Validate a request body against the official schema; answer 400 if it fails."""
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(body if body is not None else {}),
                key=str,
            )
            if body is not None and not errors:
                return True
            details = [
                {"path": "/".join(str(p) for p in e.absolute_path), "message": e.message}
                for e in errors
            ]
            self._error(
                400,
                "Request body failed validation",
                headers,
                details or [{"message": "body required"}],
            )
            return False

        def _service(
            self, route: str, project: str, match: re.Match[str], body: Any, headers: dict[str, str]
        ) -> None:
            world = sim.world
            services = world.services.setdefault(project, {})
            if route == "service_get":
                deployment = world.deployments.get(project, {}).get(match.group("res"))
                if deployment is not None:
                    self._send(200, {"data": deployment.view(sim.clock)}, headers)
                    return
                preview = world.previews.service(
                    world.template_runs, project, match.group("res"), sim.clock.monotonic()
                )
                if preview is not None:
                    self._send(200, {"data": preview}, headers)
                    return
                found = services.get(match.group("res"))
                if found is None:
                    self._error(404, f"Service {match.group('res')} not found", headers)
                    return
                # What GET service always has (section 2.1), under what the spec set.
                service_id = found["id"]
                newest = world.newest_succeeded_sha(project, service_id, sim.clock.monotonic())
                base = {
                    "appId": f"/{project}/{service_id}", "projectId": project, "tags": [],
                    "createdAt": iso(sim.clock.wall() - 3600.0), "disabledCI": False,
                    "disabledCD": False, "billing": {"deploymentPlan": "nf-compute-20"},
                    "servicePaused": False,
                    "status": {"build": {"status": "SUCCESS" if newest else "PENDING"}},
                }  # fmt: skip
                self._send(200, {"data": {**base, **found}}, headers)
                return
            schema = SCHEMAS[
                "create-service-build" if route == "service_create" else "put-service-build"
            ]
            if not self._valid(schema, body, headers):
                return
            service_id = re.sub(r"[\s-]+", "-", body["name"].strip().lower())
            with world.lock:
                if route == "service_create" and service_id in services:
                    self._error(
                        409, "There is already a service with the same derived identifier", headers
                    )
                    return
                now = sim.clock.wall()
                previous = services.get(service_id, {})
                services[service_id] = {
                    **body,
                    "id": service_id,
                    "appId": f"/{project}/{service_id}",
                    "projectId": project,
                    "serviceType": "build",
                    "createdAt": previous.get("createdAt", now),
                    "updatedAt": now,
                    "status": {"build": {"status": "SUCCESS"}},
                }
                data = dict(services[service_id])
            data.pop("buildFiles", None)  # secrets are never echoed back
            data.pop("dockerSecretMounts", None)
            self._send(200, {"data": data}, headers)

        def _previews(
            self,
            route: str,
            project: str,
            match: re.Match[str],
            body: Any,
            query: str,
            headers: dict[str, str],
        ) -> None:
            """The project's services (with the previews'), a blueprint's previews, and the
            deletion of one (nfsim/previews.py)."""
            world, now = sim.world, sim.clock.monotonic()
            previews = world.previews
            if route == "services_list":
                listed = previews.page(previews.services(world.template_runs, project, now), query)
                self._send(200, {"data": {"services": listed["page"]},
                                 "pagination": listed["pagination"]}, headers)  # fmt: skip
                return
            blueprint = match.group("res")
            missing = previews.known(project, blueprint)
            if missing is not None:
                self._error(404, missing, headers)
                return
            made = previews.made(world.template_runs, project, blueprint, now)
            if route == "previews_list":
                items = previews.listed(
                    world.template_runs, project, blueprint, now, sim.clock.wall()
                )
                listed = previews.page(items, query)
                self._send(200, {"data": {"previewEnvironments": listed["page"]},
                                 "pagination": listed["pagination"]}, headers)  # fmt: skip
                return
            name = match.group("preview")
            if name not in made:
                self._error(404, f"Preview {name} not found", headers)
                return
            if body is not None and not self._valid(
                DEPLOY_SCHEMAS["delete-preview-blueprint-preview"], body, headers
            ):
                return
            previews.deleted.setdefault((project, blueprint, name), now)
            self._send(200, {"data": {}}, headers)

        def _template(
            self,
            route: str,
            project: str,
            match: re.Match[str],
            body: Any,
            query: str,
            headers: dict[str, str],
        ) -> None:
            """Release-flow and workflow runs (nfsim/templates.py): run, list, get, abort."""
            world, now = sim.world, sim.clock.monotonic()
            stage = match.groupdict().get("stage") or ""
            flow = "release-flow" if stage else "workflow"
            if match.groupdict().get("blueprint"):
                flow = "preview-blueprint"
            resource = match.group("res")
            missing = templates.known(world, project, flow, resource, stage)
            if missing is not None:
                self._error(404, missing, headers)
                return
            if route == "tpl_start":
                if not self._valid(DEPLOY_SCHEMAS[f"run-{flow}"], body, headers):
                    return
                with world.lock:
                    run = templates.start(
                        world, project, flow, resource, stage, body or {}, now, sim.clock.wall()
                    )
                answer = run.plan.answer
                if answer == "empty":
                    self._send(200, None, headers, raw="", content_type="application/json")
                elif answer == "no-id":
                    self._send(200, {"data": {"name": run.body.get("name")}}, headers)
                elif flow == "preview-blueprint":  # the POST alone names the preview (§10.1)
                    view = {**run.view(now), "templateId": resource}
                    self._send(
                        200, {"data": {**view, "environmentId": run.body.get("name")}}, headers
                    )
                else:
                    self._send(200, {"data": run.view(now)}, headers)
                return
            if route == "tpl_list":
                self._send(
                    200, templates.page(world, project, flow, resource, stage, query, now), headers
                )
                return
            found = templates.find(world, project, flow, resource, stage, match.group("run"))
            if found is None:
                self._error(404, f"Run {match.group('run')} not found", headers)
                return
            if route == "tpl_abort" and not found.status(now)[1] and found.aborted_mono is None:
                found.aborted_mono = now
            self._send(200, {"data": found.view(now)}, headers)

        def _ship(
            self,
            route: str,
            project: str,
            match: re.Match[str],
            body: Any,
            query: str,
            headers: dict[str, str],
        ) -> None:
            """Deployment services (PATCH) and job runs (start, list, get, abort, logs)."""
            world = sim.world
            resource = match.group("res")
            now = sim.clock.monotonic()
            if route == "deploy":
                target = world.deployments.get(project, {}).get(resource)
                if target is None:
                    self._error(404, f"Deployment service {resource} not found", headers)
                    return
                if not self._valid(DEPLOY_SCHEMAS["patch-service-deployment"], body, headers):
                    return
                deployment = body.get("deployment")
                if not isinstance(deployment, dict) or "internal" not in deployment:
                    # Valid for Northflank (every field is optional), not modelled here.
                    self._error(
                        501,
                        "nfsim models a PATCH of deployment.internal (a build to deploy) only; "
                        "this request would change something else (external image, settings)",
                        headers,
                    )
                    return
                # Stricter than documented (reference, open question 4): a buildId must be a
                # build of internal.id with that buildSHA, so a client sending the wrong
                # build is caught here.
                internal = body.get("deployment", {}).get("internal") or {}
                build = world.find(project, internal.get("id", ""), internal.get("buildId", ""))
                if internal.get("buildId") and (
                    build is None or build.sha != internal.get("buildSHA", build.sha)
                ):
                    self._error(404, f"Build {internal.get('buildId')} not found", headers)
                    return
                # "latest": the newest succeeded build of the build service is rolled out, and
                # GET shows buildSHA "latest" with that commit as deployedSHA (section 2.1).
                latest = world.newest_succeeded_sha(project, internal.get("id", ""), now)
                with world.lock:
                    target.patch(now, deployment, resource in world.rollout_failures, latest)
                    data = target.view(sim.clock)
                self._send(200, {"data": data}, headers)
                return
            if resource not in world.projects[project]:
                self._error(404, f"Job {resource} not found", headers)
                return
            if route == "run_start":
                if not self._valid(DEPLOY_SCHEMAS["start-job-run"], body, headers):
                    return
                with world.lock:
                    run = world.start_run(project, resource, body)
                self._send(
                    200, {"data": {"id": run.id, "runName": run.view(now)["runName"]}}, headers
                )
                return
            if route == "run_list":
                mine = [r for r in world.runs if r.project == project and r.job == resource]
                mine.sort(key=lambda r: r.started_mono, reverse=True)
                page = [r.view(now) for r in mine[:50]]
                self._send(
                    200,
                    {
                        "data": {"runs": page},
                        "pagination": {"hasNextPage": False, "count": len(page)},
                    },
                    headers,
                )
                return
            if route == "run_logs":
                params = parse_qs(query)
                of = world.find_run(project, resource, params.get("runId", [""])[0])
                lines = of.log_lines(now) if of else []
                start = params.get("startTime", [""])[0] or iso(
                    sim.clock.wall() - DEFAULT_LOG_WINDOW_S
                )
                lines = [line for line in lines if line["ts"] >= start]
                limit = int(params.get("lineLimit", ["100"])[0])
                more = len(lines) > limit
                self._send(
                    200, {"data": lines[:limit], "pagination": {"hasNextPage": more}}, headers
                )
                return
            found = world.find_run(project, resource, match.group("run"))
            if found is None:
                self._error(404, f"Job run {match.group('run')} not found", headers)
                return
            if route == "run_abort" and not found.concluded(now):
                found.aborted_mono = now
            self._send(200, {"data": {} if route == "run_abort" else found.view(now)}, headers)

        def _serve(
            self, route: str, match: re.Match[str], body: Any, query: str, headers: dict[str, str]
        ) -> None:
            world = sim.world
            team, project = match.group("team"), match.group("project")
            if team is not None and team not in world.teams:
                self._error(404, f"Team {team} not found", headers)
                return
            if project not in world.projects:
                self._error(404, f"Project {project} not found", headers)
                return
            if route == "project":
                self._send(200, {"data": {"id": project, "name": project}}, headers)
                return
            if route.startswith("service_"):
                self._service(route, project, match, body, headers)
                return
            if route == "job_get":
                job = match.group("res")
                if job not in world.projects[project]:
                    self._error(404, f"Job {job} not found", headers)
                else:
                    self._send(
                        200, {"data": {"id": job, "name": job, "projectId": project}}, headers
                    )
                return
            if route == "deploy" or route.startswith("run_"):
                self._ship(route, project, match, body, query, headers)
                return
            if route.startswith("tpl_"):
                self._template(route, project, match, body, query, headers)
                return
            if route in ("services_list", "previews_list", "preview_delete"):
                self._previews(route, project, match, body, query, headers)
                return
            kind, resource = match.group("kind")[:-1], match.group("res")
            known = world.projects[project] if kind == "job" else world.services.get(project, {})
            if resource not in known:
                self._error(404, f"{kind.capitalize()} {resource} not found", headers)
                return
            now = sim.clock.monotonic()
            # Replies are sent after the lock is released: a slow answer must not stall others.
            self._deferred = []
            try:
                with world.lock:
                    if route == "start":
                        schema = SCHEMAS[
                            "start-job-build" if kind == "job" else "start-service-build"
                        ]
                        if not self._valid(schema, body, headers):
                            return
                        service = world.services.get(project, {}).get(resource, {})
                        build_service = service.get("serviceType") == "build"
                        if build_service and ("branch" in body) == ("pullRequestId" in body):
                            self._error(
                                400,
                                "Build services require either branch or pullRequestId, but not both",
                                headers,
                            )
                            return
                        started = world.start(project, team, kind, resource, body)
                        self._send(200, {"data": started.view(now)}, headers)
                        return
                    if route == "list":
                        params = parse_qs(query)
                        per_page = int(params.get("per_page", ["50"])[0])
                        # The cursor is opaque to clients (24 characters, ../shared/reference/northflank-api.md);
                        # here it is the offset of the next page.
                        offset = int(params.get("cursor", ["0"])[0] or 0)
                        mine = [
                            b
                            for b in world.builds
                            if b.project == project and b.resource == resource
                        ]
                        # The real order is undocumented: newest first unless told otherwise.
                        mine.sort(key=lambda b: b.created_mono, reverse=world.list_newest_first)
                        page = [b.view(now) for b in mine[offset : offset + per_page]]
                        more = len(mine) > offset + per_page
                        pagination: dict[str, Any] = {"hasNextPage": more, "count": len(page)}
                        if more:
                            pagination["cursor"] = f"{offset + per_page:024d}"
                        self._send(
                            200, {"data": {"builds": page}, "pagination": pagination}, headers
                        )
                        return
                    if route == "logs":
                        self._send(
                            200,
                            _range(
                                world, project, resource, parse_qs(query), now, sim.clock.wall()
                            ),
                            headers,
                        )
                        return
                    build = world.find(project, resource, match.group("build"))
                    if build is None:
                        self._error(404, f"Build {match.group('build')} not found", headers)
                        return
                    if route == "abort" and not build.concluded(now):
                        build.aborted_mono, build.aborted_wall = now, sim.clock.wall()
                    payload = {} if route == "abort" else build.view(now)
                self._send(200, {"data": payload}, headers)
            finally:
                pending, self._deferred = self._deferred, None
                for args, kwargs in pending or []:
                    self._send(*args, **kwargs)

    return Handler


def _range(
    world: World,
    project: str,
    resource: str,
    query: dict[str, list[str]],
    now: float,
    wall: float,
) -> dict[str, Any]:
    """``queryType=range``: lines of one build from ``startTime`` on, ``lineLimit`` at most."""
    build = world.find(project, resource, query.get("buildId", [""])[0])
    lines = build.log_lines(now) if build else []
    # Without startTime the server applies a default window (the official CLI assumes the
    # last 30 minutes): a client that pages from nothing loses older lines, as it would there.
    start = query.get("startTime", [""])[0] or iso(wall - DEFAULT_LOG_WINDOW_S)
    lines = [line for line in lines if line["ts"] >= start]
    if query.get("direction", ["forward"])[0] == "backward":
        lines.reverse()
    limit = int(query.get("lineLimit", ["100"])[0])
    page = lines[:limit]
    more = len(lines) > limit
    return {
        "data": page,
        "pagination": {"hasNextPage": more, "cursor": page[-1]["ts"] if more else None},
    }


def _read_frame(stream: Any) -> str | None:
    """One client frame (masked, as clients must send); the payload as text."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", stream.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = stream.read(length)
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data)).decode(errors="replace")


def _write_frame(stream: Any, payload: str | bytes, opcode: int = 0x1) -> None:
    """One unmasked server frame (text by default; 0x8 is close)."""
    data = payload.encode() if isinstance(payload, str) else payload
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        head += bytes([len(data)])
    elif len(data) < 65536:
        head += bytes([126]) + struct.pack("!H", len(data))
    else:
        head += bytes([127]) + struct.pack("!Q", len(data))
    stream.write(head + data)
    stream.flush()


def _over_limit(sim: Simulator, token: str) -> bool:
    _start, used = sim._windows.get(token, (0.0, 0))
    return used > sim.rate_limit


def control_route(handler: BaseHTTPRequestHandler, method: str, body: Any) -> bool:
    """``/_sim/*``: control for a simulator running in another process (demo, container runs)."""
    path = urlsplit(handler.path).path
    if not path.startswith("/_sim/"):
        return False
    sim: Simulator = handler.server.sim  # type: ignore[attr-defined]
    send = handler._send  # type: ignore[attr-defined]
    if path == "/_sim/requests" and method == "GET":
        send(200, [asdict(r) for r in sim.requests])
    elif path == "/_sim/faults" and method == "POST":
        sim.add_fault(Fault(**body))
        send(200, {"ok": True})
    elif path == "/_sim/plan" and method == "POST":
        plan = BuildPlan(
            phases=tuple((s, float(t)) for s, t in body["phases"]),
            outcome=body.get("outcome", "SUCCESS"),
        )
        if body.get("resource"):  # the builds of one job or service only
            sim.world.plans[body["resource"]] = plan
        else:
            sim.set_plan(plan)
        send(200, {"ok": True})
    else:
        send(404, {"error": {"status": 404, "message": "unknown control route"}})
    return True
