"""A GitHub REST simulator for the pull request's surfaces (deployments, their statuses,
issue comments), in process as an httpx handler: every request body is validated against
../shared/reference/github-rest-schemas.json (with the limits the reference lists: a status
description of 140 characters, a comment of 65536, per_page of 100), lists page with
``Link`` headers, and faults can be injected:

- ``forbidden``: every write answered 403 "Resource not accessible by integration" (a fork's
  or Dependabot's read-only token, or missing ``permissions:``);
- ``rate_limited``: the next N requests answered 403 with ``Retry-After`` (a secondary limit);
- ``accepted``: the next deployment create answered 202 with no deployment;
- ``racer``: another run's comment with the same marker is created right after this one
  lists the comments (two runs racing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonschema

# ../shared/reference/github-rest-schemas.json, copied: a clone alone must run the tests.
SCHEMAS = json.loads((Path(__file__).parent / "schemas" / "github-rest-schemas.json").read_text())
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
OTHER = {"login": "someone", "id": 7, "type": "User"}


@dataclass
class GitHubSim:
    base: str = "https://api.github.test"  # GHES: https://HOST/api/v3
    repo: str = "octo-org/octo-repo"
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    forbidden: bool = False
    rate_limited: int = 0
    accepted: int = 0
    racer: str | None = None  # a marker: another run's comment appears once
    pulls: dict[int, str] = field(default_factory=dict)  # number -> "open" | "closed"
    next_id: int = 1000

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = urlsplit(str(request.url)).path
        prefix = urlsplit(self.base).path.rstrip("/")
        if not path.startswith(prefix) or request.headers.get("authorization", "")[:7] != "Bearer ":
            return _error(404, "Not Found")
        path = path[len(prefix) :]
        if self.rate_limited:
            self.rate_limited -= 1
            return _error(403, "You have exceeded a secondary rate limit.", {"retry-after": "1"})
        if path == "/user":
            return _error(403, "Resource not accessible by integration")
        base = f"/repos/{self.repo}"
        if not path.startswith(base):
            return _error(404, "Not Found")
        rest = path[len(base) :]
        if request.method != "GET" and self.forbidden:
            return _error(403, "Resource not accessible by integration")
        body = json.loads(request.content) if request.content else None
        return self._route(request, rest, body)

    def _route(self, request: httpx.Request, rest: str, body: Any) -> httpx.Response:
        parts = rest.strip("/").split("/")
        method = request.method
        if parts == ["deployments"] and method == "POST":
            return self._create_deployment(body)
        if parts == ["deployments"] and method == "GET":
            query = parse_qs(urlsplit(str(request.url)).query)
            env = query.get("environment", [None])[0]
            found = [d for d in self.deployments if env is None or d["environment"] == env]
            return self._page(request, sorted(found, key=lambda d: -d["id"]))
        if (
            len(parts) == 3
            and parts[0] == "deployments"
            and parts[2] == "statuses"
            and method == "POST"
        ):
            return self._create_status(int(parts[1]), body)
        if len(parts) == 3 and parts[0] == "deployments" and parts[2] == "statuses":
            if int(parts[1]) not in self.statuses:
                return _error(404, "Not Found")
            return self._page(request, sorted(self.statuses[int(parts[1])], key=lambda s: -s["id"]))
        if len(parts) == 3 and parts[0] == "issues" and parts[2] == "comments":
            return self._comments(request, int(parts[1]), body)
        if len(parts) == 3 and parts[:2] == ["issues", "comments"]:
            return self._comment(method, int(parts[2]), body)
        if len(parts) == 2 and parts[0] == "pulls" and method == "GET":
            state = self.pulls.get(int(parts[1]))
            if state is None:
                return _error(404, "Not Found")
            return httpx.Response(200, json={"number": int(parts[1]), "state": state})
        return _error(404, "Not Found")

    def _valid(self, operation: str, body: Any) -> httpx.Response | None:
        schema = SCHEMAS[operation]["request"]
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
        if errors:
            return _error(422, f"Validation Failed: {errors[0].message}")
        return None

    def _create_deployment(self, body: Any) -> httpx.Response:
        if (bad := self._valid("create-deployment", body)) is not None:
            return bad
        if self.accepted:
            self.accepted -= 1
            return httpx.Response(
                202, json={"message": "Auto-merged main into topic on deployment."}
            )
        deployment = {"id": self._id(), "sha": body["ref"], "ref": body["ref"],
                      "environment": body.get("environment", "production"),
                      "transient_environment": body.get("transient_environment", False),
                      "payload": body.get("payload", {})}  # fmt: skip
        self.deployments.append(deployment)
        self.statuses[deployment["id"]] = []
        return httpx.Response(201, json=deployment)

    def _create_status(self, deployment_id: int, body: Any) -> httpx.Response:
        if (bad := self._valid("create-deployment-status", body)) is not None:
            return bad
        if len(body.get("description", "")) > 140:
            return _error(422, "description is too long (maximum is 140 characters)")
        if deployment_id not in self.statuses:
            return _error(404, "Not Found")
        status = {"id": self._id(), **body}
        self.statuses[deployment_id].append(status)
        return httpx.Response(201, json=status)

    def _comments(self, request: httpx.Request, number: int, body: Any) -> httpx.Response:
        comments = self.comments.setdefault(number, [])
        if request.method == "GET":
            response = self._page(request, comments)
            if self.racer is not None:  # another run creates its comment meanwhile
                marker, self.racer = self.racer, None
                self._add(number, f"another run\n\n{marker}\n", BOT)
            return response
        if (bad := self._valid("create-issue-comment", body)) is not None:
            return bad
        if len(body["body"]) > 65536:
            return _error(422, "Body is too long (maximum is 65536 characters)")
        return httpx.Response(201, json=self._add(number, body["body"], BOT))

    def _add(self, number: int, text: str, user: dict[str, Any]) -> dict[str, Any]:
        comment_id = self._id()
        comment = {"id": comment_id, "body": text, "user": user,
                   "html_url": f"https://github.test/{self.repo}/pull/{number}#issuecomment-{comment_id}"}  # fmt: skip
        self.comments.setdefault(number, []).append(comment)
        return comment

    def _comment(self, method: str, comment_id: int, body: Any) -> httpx.Response:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] != comment_id:
                    continue
                if method == "DELETE":
                    comments.remove(comment)
                    return httpx.Response(204)
                if (bad := self._valid("update-issue-comment", body)) is not None:
                    return bad
                comment["body"] = body["body"]
                return httpx.Response(200, json=comment)
        return _error(404, "Not Found")

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        per_page = min(100, int(query.get("per_page", ["30"])[0]))
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            url = str(request.url.copy_merge_params({"page": page + 1, "per_page": per_page}))
            headers["link"] = f'<{url}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)

    def add_comment(self, number: int, text: str, user: dict[str, Any] = OTHER) -> dict[str, Any]:
        return self._add(number, text, user)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"message": message, "documentation_url": "https://docs.github.com/rest"},
        headers=headers or {},
    )  # fmt: skip


class Served:
    """The simulator over HTTP on loopback (for the action run as a process: make demo),
    answering through the same handler."""

    def __init__(self, sim: GitHubSim) -> None:
        import threading  # noqa: PLC0415
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

        def handle(handler: BaseHTTPRequestHandler) -> None:
            length = int(handler.headers.get("Content-Length") or 0)
            request = httpx.Request(
                handler.command,
                sim.base.rstrip("/") + handler.path,
                headers=dict(handler.headers.items()),
                content=handler.rfile.read(length) if length else b"",
            )
            response = sim(request)
            handler.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding"):
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(response.content)))
            handler.end_headers()
            handler.wfile.write(response.content)

        class Handler(BaseHTTPRequestHandler):
            do_GET = do_POST = do_PATCH = do_DELETE = handle  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        sim.base = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
