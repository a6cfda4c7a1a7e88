"""The action's entry points run in-process, in virtual time, as the runner would see them.

``run_step`` sets the step's environment (``INPUT_*`` with hyphens kept, the file-command
files), calls ``northflank_build.__main__.main`` (or the post step's) with an
httpx.MockTransport and a virtual clock, captures stdout as bytes, and reads it back through
the runner emulator's command processor and file-command parser: outputs, state, summary,
annotations and the masked log, without starting a process or waiting in real time.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from virtual_clock import EPOCH

_HANDLERS = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
from northflank_build import __main__ as entry  # noqa: E402 - installs early signal handlers
from northflank_build import post as post_step  # noqa: E402
from northflank_build.github import commands as runner  # noqa: E402

for _signum, _previous in _HANDLERS.items():  # pytest's own, back
    signal.signal(_signum, _previous)
from nfsim import Simulator  # noqa: E402
from nfsim.inprocess import SimTail, SimTransport  # noqa: E402
from northflank_build.engine.cancel import CancelScope  # noqa: E402
from runneremu import CommandProcessor, StepResult, parse_file_command  # noqa: E402
from runneremu.commands import Annotation  # noqa: E402
from runneremu.runner import collect, prepare  # noqa: E402

TOKEN = "nf-inproc-token-7c21d9e4"
SHA = "ffac537e6cbbf934b08745a378932722df287a53"
Handler = Callable[[httpx.Request], httpx.Response]


class StepClock:
    """Virtual time for a whole step; ``at`` schedules a cancel (SIGINT) at a moment.

    A sleep that reaches a scheduled cancel delivers it as the real signal handler would:
    inside an interruptible section it raises Cancelled, outside it only sets the event.
    """

    def __init__(self, cancel: CancelScope) -> None:
        self.now = 0.0
        self.cancel = cancel
        self.cancel_at: float | None = None
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)
        self._maybe_cancel()

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if self.cancel.cancelled:
            return True
        target = self.now + max(0.0, seconds)
        if self.cancel_at is not None and self.cancel_at <= target:
            self.now = max(self.now, self.cancel_at)
            self._maybe_cancel()
            return True
        self.now = target
        return self.cancel.cancelled

    def _maybe_cancel(self) -> None:
        if self.cancel_at is None or self.now < self.cancel_at or self.cancel.cancelled:
            return
        if threading.current_thread() is threading.main_thread():
            self.cancel.cancel("SIGINT")  # what the handler does, on the thread it runs on
        else:  # a request's worker: the real signal, handled on the main thread
            self.cancel_at = None
            os.kill(os.getpid(), signal.SIGINT)


@dataclass
class Step:
    exit_code: int
    outputs: dict[str, str]
    state: dict[str, str]
    summary: str
    raw: bytes
    processor: CommandProcessor
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def log(self) -> list[str]:
        return self.processor.log

    @property
    def text(self) -> str:
        return "\n".join(self.processor.log)

    @property
    def annotations(self) -> list[Annotation]:
        return self.processor.annotations

    def errors(self) -> list[Annotation]:
        return [a for a in self.annotations if a.kind == "error"]

    def calls(self, method: str, contains: str = "") -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and contains in r.url.path]


@contextmanager
def step_environment(
    tmp: Path, inputs: dict[str, str], state: dict[str, str] | None = None
) -> Iterator[dict[str, Path]]:
    files = {name: tmp / name for name in ("GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "STATE_"))}
    env.update({name: str(path) for name, path in files.items()})
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(tmp),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "octo-org/octo-repo",
        }
    )
    env.update({"INPUT_" + k.upper(): v for k, v in inputs.items()})
    env.update({f"STATE_{k}": v for k, v in (state or {}).items()})
    with mock.patch.dict(os.environ, env, clear=True):
        yield files


def default_inputs(**overrides: str | None) -> dict[str, str]:
    inputs = {
        "api-token": TOKEN,
        "api-url": "https://api.northflank.test",
        "project-id": "demo-project",
        "job-id": "demo-job",
        "sha": SHA,
        "poll-interval-seconds": "1",
        "timeout-seconds": "3600",
    }
    for key, value in overrides.items():
        name = key.replace("_", "-")
        if value is None:
            inputs.pop(name, None)
        else:
            inputs[name] = value
    return inputs


def run_step(
    tmp: Path,
    handler: Handler,
    *,
    inputs: dict[str, str] | None = None,
    clock: StepClock | None = None,
    cancel: CancelScope | None = None,
    state: dict[str, str] | None = None,
    post: bool = False,
) -> Step:
    """Run the main step (or the post step) in-process and read back what the runner would."""
    cancel = cancel or (clock.cancel if clock else CancelScope())
    clock = clock or StepClock(cancel)
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    transport = httpx.MockTransport(record)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    cancel.install()
    out = io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    runner.StopCommands.token = None
    runner.RunnerFiles.problem = None
    with step_environment(tmp, inputs or default_inputs(), state) as files:
        real_stdout = sys.stdout
        sys.stdout = stdout
        try:
            if post:
                code = post_step.main(transport=transport, clock=clock)
            else:
                code = entry.main(transport=transport, clock=clock, cancel=cancel)
        finally:
            sys.stdout = real_stdout
            for signum, previous in handlers.items():
                signal.signal(signum, previous)
        processor = CommandProcessor()
        raw = out.getvalue()
        for line in raw.decode("utf-8").split("\n")[:-1]:
            processor.feed(line)
        outputs = {k.lower(): v for k, v in parse_file_command(files["GITHUB_OUTPUT"].read_text())}
        saved = dict(parse_file_command(files["GITHUB_STATE"].read_text()))
        summary = processor.mask(files["GITHUB_STEP_SUMMARY"].read_text())
    return Step(code, outputs, saved, summary, raw, processor, seen)


# -- a small scriptable Northflank -------------------------------------------------------


def iso(wall: float) -> str:
    return (
        datetime.fromtimestamp(wall, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    """JSON as a JavaScript server writes it: non-ASCII escaped, lone surrogates allowed."""
    return httpx.Response(
        status,
        content=json.dumps(body).encode("ascii"),
        headers={"content-type": "application/json", **(headers or {})},
    )


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return json_response({"data": data}, status, headers)


class FakeNorthflank:
    """One job's builds, each lasting ``duration`` virtual seconds; hooks per route.

    ``on_start``, ``on_get``, ``on_list``, ``on_logs``, ``on_abort`` may return a response
    (or raise) to replace the normal answer for one request; returning None answers
    normally.
    """

    def __init__(self, clock: StepClock, duration: float = 30.0, outcome: str = "SUCCESS") -> None:
        self.clock = clock
        self.duration = duration
        self.outcome = outcome
        self.builds: list[dict[str, Any]] = []
        self.aborted: set[str] = set()
        self.hooks: dict[str, Callable[[httpx.Request], httpx.Response | None]] = {}
        self.log_lines: list[dict[str, Any]] = []

    def view(self, build: dict[str, Any]) -> dict[str, Any]:
        elapsed = self.clock.now - build["_t0"]
        data = {k: v for k, v in build.items() if not k.startswith("_")}
        if build["id"] in self.aborted:
            data.update(status="ABORTED", concluded=True, success=False)
        elif elapsed >= self.duration:
            data.update(
                status=self.outcome,
                concluded=True,
                success=self.outcome == "SUCCESS",
                buildConcludedAt=EPOCH + build["_t0"] + self.duration,
                registry={"uri": f"registry.example/{build['id']}"},
            )
        else:
            data.update(status="BUILDING", concluded=False)
        return data

    def add_build(self, build_id: str, sha: str = SHA, **extra: Any) -> dict[str, Any]:
        build = {
            "id": build_id,
            "sha": sha,
            "branch": "main",
            "createdAt": iso(self.clock.wall()),
            "_t0": self.clock.now,
            **extra,
        }
        self.builds.append(build)
        return build

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        route = self.route(request)
        hook = self.hooks.get(route)
        if hook is not None:
            answer = hook(request)
            if answer is not None:
                return answer
        date = {"date": formatdate(self.clock.wall(), usegmt=True)}
        if route == "start":
            body = json.loads(request.content or b"{}")
            build = self.add_build(f"build-{len(self.builds) + 1}", body.get("sha") or SHA)
            return respond(self.view(build), headers=date)
        if route == "list":
            views = [self.view(b) for b in reversed(self.builds)]
            return json_response({"data": {"builds": views}}, headers=date)
        if route == "logs":
            return json_response({"data": self.log_lines, "pagination": {}})
        build_id = path.rsplit("/", 1)[-1]
        found = [b for b in self.builds if b["id"] == build_id]
        if not found:
            return httpx.Response(404, json={"error": {"status": 404, "message": "not found"}})
        if route == "abort":
            if not self.view(found[0])["concluded"]:
                self.aborted.add(build_id)
            return respond({})
        return respond(self.view(found[0]), headers=date)

    @staticmethod
    def route(request: httpx.Request) -> str:
        path = request.url.path
        if path.endswith("/build-logs"):
            return "logs"
        if path.endswith("/build"):
            return "start" if request.method == "POST" else "list"
        if "/build/" in path:
            return "abort" if request.method == "DELETE" else "get"
        return "other"


# -- the whole action against the simulator, in process and in virtual time ---------------


def run_in_process(
    action_dir: Path,
    with_: Mapping[str, str],
    *,
    sim: Simulator,
    clock: StepClock,
    env: Mapping[str, str] | None = None,
    stage: str = "main",
    state: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    event: Mapping[str, Any] | None = None,
    github: Mapping[str, Any] | None = None,
    cancel_after: float | None = None,
    debug: bool = False,
) -> StepResult:
    """What ``runneremu.run_action`` does, with the entry point called in this process: the
    same environment (inputs with action.yml's defaults, the file-command files), the same
    reading back; the simulator reached through its in-process transport and tail, on the
    step's virtual clock. A cancel (``cancel_after``) is SIGINT at that virtual moment."""
    prepared = prepare(
        action_dir, with_, env=env, stage=stage, state=state, workspace=workspace,
        event=event, github=github, debug=debug,
    )  # fmt: skip
    clock.cancel_at = cancel_after
    transport = SimTransport(sim)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    clock.cancel.install()
    out = io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    runner.StopCommands.token = None
    runner.RunnerFiles.problem = None
    began = clock.now
    with mock.patch.dict(os.environ, prepared.env, clear=True):
        real_stdout = sys.stdout
        sys.stdout = stdout
        try:
            if stage == "post":
                code = post_step.main(transport=transport, clock=clock)
            else:

                def open_tail(url: str, token: str, timeout: float) -> SimTail:
                    return SimTail(sim, url, token, timeout)

                code = entry.main(
                    transport=transport, clock=clock, cancel=clock.cancel, open_tail=open_tail
                )
        finally:
            sys.stdout = real_stdout
            for signum, previous in handlers.items():
                signal.signal(signum, previous)
    raw = out.getvalue().decode("utf-8", errors="replace").split("\n")
    raw = raw[:-1] if raw and raw[-1] == "" else raw
    for line in raw:
        prepared.processor.feed(line)
    cancelled = clock.cancel.cancelled
    return collect(
        prepared,
        exit_code=code,
        raw=raw,
        signals_sent=[("SIGINT", cancel_after)] if cancelled and cancel_after is not None else [],
        killed=False,
        duration=clock.now - began,
    )
