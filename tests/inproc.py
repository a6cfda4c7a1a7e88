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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from virtual_clock import VirtualClock

_HANDLERS = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
from northflank_build import __main__ as entry  # noqa: E402 - installs early signal handlers
from northflank_build import post as post_step  # noqa: E402
from northflank_build.github import commands as runner  # noqa: E402

for _signum, _previous in _HANDLERS.items():  # pytest's own, back
    signal.signal(_signum, _previous)
from nfsim import BuildPlan, Fault, Simulator  # noqa: E402
from nfsim.inprocess import SimTail, SimTransport  # noqa: E402
from nfsim.state import SimBuild  # noqa: E402
from northflank_build.api.logs import TailOpener  # noqa: E402
from northflank_build.engine.cancel import CancelScope  # noqa: E402
from runneremu import CommandProcessor, StepResult  # noqa: E402
from runneremu.commands import Annotation  # noqa: E402
from runneremu.runner import Prepared, collect, prepare  # noqa: E402
from testdata import SHA, TOKEN  # noqa: E402

Handler = Callable[[httpx.Request], httpx.Response]


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


ROOT = Path(__file__).resolve().parent.parent


def call_entry_point(
    prepared: Prepared,
    clock: VirtualClock,
    transport: httpx.BaseTransport,
    *,
    post: bool = False,
    open_tail: TailOpener | None = None,
    github: httpx.BaseTransport | None = None,
) -> tuple[int, list[str]]:
    """Call the action's entry point (or the post step's) in this process, in the
    environment the runner emulator composed: the exit code and the lines it printed.
    The cancel handlers are the action's while it runs, pytest's again after."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    clock.cancel.install()
    out = io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    runner.StopCommands.token = None
    runner.RunnerFiles.problem = None
    with mock.patch.dict(os.environ, prepared.env, clear=True):
        real_stdout = sys.stdout
        sys.stdout = stdout
        try:
            if post:
                code = post_step.main(transport=transport, clock=clock, github_transport=github)
            else:
                code = entry.main(
                    transport=transport,
                    clock=clock,
                    cancel=clock.cancel,
                    open_tail=open_tail,
                    github_transport=github,
                )
        finally:
            sys.stdout = real_stdout
            for signum, previous in handlers.items():
                signal.signal(signum, previous)
    lines = out.getvalue().decode("utf-8", errors="replace").split("\n")
    lines = lines[:-1] if lines and lines[-1] == "" else lines
    for line in lines:
        prepared.processor.feed(line)
    return code, lines


def run_step(
    tmp: Path,
    handler: Handler,
    *,
    inputs: dict[str, str] | None = None,
    clock: VirtualClock | None = None,
    state: dict[str, str] | None = None,
    post: bool = False,
    env: Mapping[str, str] | None = None,
) -> Step:
    """Run the main step (or the post step) in process against ``handler`` (a scriptable
    Northflank) and read back what the runner would. ``env`` replaces any variable of the
    composed environment (e.g. a GITHUB_OUTPUT that cannot be written)."""
    clock = clock or VirtualClock(CancelScope())
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    prepared = prepare(ROOT, inputs or default_inputs(), state=state, workspace=tmp)
    prepared.env.update(env or {})
    code, lines = call_entry_point(prepared, clock, httpx.MockTransport(record), post=post)
    result = collect(prepared, exit_code=code, raw=lines, signals_sent=[], killed=False, duration=0)
    raw = "\n".join(lines).encode("utf-8") + b"\n"
    return Step(code, result.outputs, result.state, result.summary, raw, prepared.processor, seen)


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
    """The simulator (devtools/nfsim) in virtual time as a scriptable handler: the demo job's
    builds (build-1, build-2, ...), each BUILDING for ``duration`` virtual seconds, then
    ``outcome``. ``hooks[route]`` scripts one route through the simulator's fault model (a
    ``respond`` Fault): it may return a response (or raise what a transport would) in place
    of the simulator's answer, or None to let the simulator answer. The build log is
    ``log_lines`` (none unless set)."""

    def __init__(
        self, clock: VirtualClock, duration: float = 30.0, outcome: str = "SUCCESS"
    ) -> None:
        plan = BuildPlan(phases=(("BUILDING", duration),), outcome=outcome, lines_per_second=0)
        self.sim = Simulator(plan=plan, clock=clock, rate_limit=10**9)
        self.sim.world.sequential_ids = True
        self.transport = SimTransport(self.sim)
        self.hooks = Hooks(self.sim)
        self.log_lines: list[dict[str, Any]] = []
        self.hooks["logs"] = lambda _r: json_response({"data": self.log_lines, "pagination": {}})

    @property
    def clock(self) -> VirtualClock:
        clock = self.sim.clock
        assert isinstance(clock, VirtualClock)
        return clock

    @clock.setter
    def clock(self, clock: VirtualClock) -> None:
        """Another step's clock (the post step's, moments later)."""
        self.sim.clock = self.sim.world.clock = clock

    @property
    def outcome(self) -> str:
        return self.sim.world.plan.outcome

    @outcome.setter
    def outcome(self, outcome: str) -> None:
        """How builds started from now on end."""
        self.sim.world.plan = replace(self.sim.world.plan, outcome=outcome)

    @property
    def builds(self) -> list[SimBuild]:
        return self.sim.world.builds

    @property
    def aborted(self) -> set[str]:
        return {b.id for b in self.builds if b.aborted_mono is not None}

    def add_build(self, build_id: str, sha: str = SHA, **fields: Any) -> SimBuild:
        """A build of the demo job made now; ``fields`` are answered as given (createdAt, or
        odd and hostile values)."""
        world = self.sim.world
        return world.add_build(
            "demo-project",
            "job",
            "demo-job",
            sha,
            started_ago_s=0.0,
            build_id=build_id,
            fields=fields,
        )

    def view(self, build: SimBuild) -> dict[str, Any]:
        """The build as GET build answers it now."""
        return build.view(self.clock.monotonic())

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.transport.handle_request(request)


class Hooks(dict[str, Callable[[httpx.Request], "httpx.Response | None"]]):
    """Scripted routes as the simulator's ``respond`` faults: set one to script the route,
    delete it to give the route back to the simulator."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self._sim = sim
        self._faults: dict[str, Fault] = {}

    def __setitem__(
        self, route: str, hook: Callable[[httpx.Request], httpx.Response | None]
    ) -> None:
        self.pop(route, None)
        super().__setitem__(route, hook)
        fault = Fault(route=route, action="respond", respond=hook, times=10**9)
        self._faults[route] = self._sim.add_fault(fault)

    def __delitem__(self, route: str) -> None:
        super().__delitem__(route)
        self._sim.faults.remove(self._faults.pop(route))

    def update(self, hooks: Mapping[str, Callable[[httpx.Request], httpx.Response | None]]) -> None:  # type: ignore[override]
        for route, hook in hooks.items():
            self[route] = hook

    def pop(self, route: str, default: Any = None) -> Any:
        if route in self:
            hook = self[route]
            del self[route]
            return hook
        return default


# -- the whole action against the simulator, in process and in virtual time ---------------


def run_in_process(
    action_dir: Path,
    with_: Mapping[str, str],
    *,
    sim: Simulator,
    clock: VirtualClock,
    env: Mapping[str, str] | None = None,
    stage: str = "main",
    state: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    event: Mapping[str, Any] | None = None,
    github: Mapping[str, Any] | None = None,
    cancel_after: float | None = None,
    debug: bool = False,
    github_sim: Callable[[httpx.Request], httpx.Response] | None = None,
) -> StepResult:
    """What ``runneremu.run_action`` does, with the entry point called in this process: the
    same environment (inputs with action.yml's defaults, the file-command files), the same
    reading back; the simulator reached through its in-process transport and tail, on the
    step's virtual clock. A cancel (``cancel_after``) is SIGINT at that virtual moment."""
    prepared = prepare(
        action_dir,
        with_,
        env=env,
        stage=stage,
        state=state,
        workspace=workspace,
        event=event,
        github=github,
        debug=debug,
    )
    clock.cancel_at = cancel_after
    began = clock.now

    def open_tail(url: str, token: str, timeout: float) -> SimTail:
        return SimTail(sim, url, token, timeout)

    github_transport = httpx.MockTransport(github_sim) if github_sim is not None else None
    code, raw = call_entry_point(
        prepared,
        clock,
        SimTransport(sim),
        post=stage == "post",
        open_tail=open_tail,
        github=github_transport,
    )
    cancelled = clock.cancel.cancelled
    return collect(
        prepared,
        exit_code=code,
        raw=raw,
        signals_sent=[("SIGINT", cancel_after)] if cancelled and cancel_after is not None else [],
        killed=False,
        duration=clock.now - began,
    )
