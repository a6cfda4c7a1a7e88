from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inproc import default_inputs, run_in_process
from nfsim import BuildPlan, Simulator
from northflank_build.engine.cancel import CancelScope
from runneremu import StepResult, run_action
from testdata import TOKEN
from virtual_clock import VirtualClock

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = json.loads((ROOT / "devtools/nfsim/schemas/northflank-request-schemas.json").read_text())
QUICK = BuildPlan(phases=(("PENDING", 0.2), ("STARTING", 0.2), ("BUILDING", 0.4)))

Runner = Callable[..., StepResult]


@pytest.fixture
def clock() -> VirtualClock:
    """The step's virtual clock, shared by the action and the simulator."""
    return VirtualClock(CancelScope())


@pytest.fixture
def sim(clock: VirtualClock) -> Iterator[Simulator]:
    """The simulator in process, on the virtual clock (not serving over HTTP)."""
    simulator = Simulator(plan=QUICK, clock=clock)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def live_sim() -> Iterator[Simulator]:
    """The simulator serving over HTTP on loopback, in real time (runner-contract tests)."""
    with Simulator(plan=QUICK) as simulator:
        yield simulator


def _inputs(sim: Simulator, overrides: dict[str, Any]) -> dict[str, str]:
    """Working inputs against ``sim``; sha and timeout-seconds from action.yml's defaults."""
    base = {"api_token": TOKEN, "api_url": sim.url, "sha": None, "timeout_seconds": None}
    return default_inputs(**{**base, **overrides})


@pytest.fixture
def run(sim: Simulator, clock: VirtualClock, tmp_path: Path) -> Runner:
    """Run the action in process, in virtual time, as the runner would see it, with working
    defaults each test may override. ``options`` go to run_in_process (cancel_after, stage,
    state, debug); the rest are inputs."""

    def runner(
        *,
        env: dict[str, str] | None = None,
        workspace: Path | None = None,
        options: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> StepResult:
        clock.cancel = CancelScope()  # each run is a new step (a new process)
        return run_in_process(
            ROOT,
            _inputs(sim, overrides),
            sim=sim,
            clock=clock,
            env=env,
            workspace=workspace or tmp_path,
            **(options or {}),
        )

    return runner


@pytest.fixture
def run_process(live_sim: Simulator, tmp_path: Path) -> Runner:
    """Run the action as the runner does: a process, real signals, the simulator over HTTP.
    ``options`` go to run_action (cancel_after, cancel_at_start, stage, state, debug)."""

    def runner(
        *,
        env: dict[str, str] | None = None,
        workspace: Path | None = None,
        options: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> StepResult:
        return run_action(
            ROOT, _inputs(live_sim, overrides), env=env, workspace=workspace or tmp_path,
            **(options or {}),
        )  # fmt: skip

    return runner


def invalid_input_errors(result: StepResult, name: str) -> list[str]:
    """The messages of the step's annotations for the input ``name``."""
    title = f"Invalid input '{name}'"
    return [a.message for a in result.errors() if a.properties.get("title") == title]


# The runner-contract tests start the real process (the action as the runner starts it, or
# the CLI as a user does) and wait in real time: the `e2e` marker pyproject declares.
# `.venv/bin/pytest -m "not e2e"` runs the in-process suite alone.
REAL_PROCESS_FIXTURES = {"run_process", "live_sim"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & REAL_PROCESS_FIXTURES:
            item.add_marker(pytest.mark.e2e)
