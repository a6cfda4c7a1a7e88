"""Issue 20: what the CLI prints at the end. ``--json`` is typed on every path (invalid input
included); the last line tells the whole story (build, deploys, job run), as the action's
step log does; a rollout that fails says the job run was skipped. In process, in virtual time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nfsim import BuildPlan, Simulator
from nfsim.deploys import RolloutPlan, RunPlan
from nfsim.inprocess import SimTransport
from northflank_build import cli
from testdata import SHA, TOKEN
from virtual_clock import VirtualClock

LOOPBACK = "http://127.0.0.1:9"  # the log socket is refused at once: logs over the transport
BASE = ["--api-url", LOOPBACK, "--project-id", "demo-project", "--poll-interval-seconds", "1"]
SHIP = ["--service-id", "demo-service", "--branch", "main", "--sha", SHA,
        "--deploy-service", "demo-web", "--run-job", "demo-migrate"]  # fmt: skip


def run_cli(
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("NORTHFLANK_API_TOKEN", TOKEN)
    sim.world.deployments["demo-project"]["demo-web"].plan = RolloutPlan(0.2, 0.3)
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=0.5)
    code = cli.main(
        ["build", *BASE, *argv], transport=SimTransport(sim), clock=clock, cancel=clock.cancel
    )
    out = capsys.readouterr()
    return code, out.out, out.err


PATHS = {
    "success": ["--job-id", "demo-job", "--sha", SHA],
    "build failed": ["--job-id", "demo-job", "--sha", SHA],
    "build, deploy and run": SHIP,
    "invalid input": ["--job-id", "demo-job", "--sha", "abc"],
    "dry run": ["--job-id", "demo-job", "--sha", SHA, "--dry-run"],
}


@pytest.mark.parametrize("path", list(PATHS))
def test_json_is_typed_on_every_path(
    path: str,
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    if path == "build failed":
        sim.set_plan(BuildPlan(phases=(("BUILDING", 0.5),), outcome="FAILURE"))
    code, out, _err = run_cli(sim, clock, capsys, monkeypatch, *PATHS[path], "--json")
    data: dict[str, Any] = json.loads(out)  # stdout is the JSON, and only it
    for name in ("success", "concluded", "service-created", "reused", "deployed"):
        assert isinstance(data[name], bool), (name, data[name])
    assert data["duration-seconds"] is None or isinstance(data["duration-seconds"], int)
    assert isinstance(data["result"], dict)
    assert data["success"] is (code == 0 and path != "dry run")
    if path == "invalid input":
        assert code == 2
        assert data["outcome"] == "invalid input"
        assert data["errors"]
        assert all(e.startswith("--sha:") for e in data["errors"]), data["errors"]


def test_the_last_line_tells_the_whole_story(
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _out, err = run_cli(sim, clock, capsys, monkeypatch, *SHIP)
    assert code == 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("succeeded: build "), last
    assert "SUCCESS" in last, last
    assert "1 of 1 deployed" in last, last
    assert "job run" in last, last
    assert last.endswith(")"), last


def test_a_step_that_ended_before_any_build_says_so(
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _out, err = run_cli(sim, clock, capsys, monkeypatch, "--job-id", "no-such-job")
    assert code == 3, err
    last = err.strip().splitlines()[-1]
    assert "build -" not in err
    assert last == "error: no build", last


def test_a_failed_rollout_says_the_job_run_was_skipped(
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim.world.rollout_failures.add("demo-web")
    code, _out, err = run_cli(sim, clock, capsys, monkeypatch, *SHIP)
    assert code == 1, err
    assert "The run of job 'demo-migrate' was not started" in err
    assert sim.calls("run_start") == []
    last = err.strip().splitlines()[-1]
    assert last.startswith("failed: build "), last
    assert "0 of 1 deployed, job run skipped" in last, last


def test_a_dry_runs_last_line_says_what_it_would_build(
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _out, err = run_cli(sim, clock, capsys, monkeypatch, "--job-id", "demo-job", "--dry-run")
    assert code == 0, err
    assert err.strip().splitlines()[-1] == "dry run: would build job 'demo-job'"
    assert sim.requests == []
