"""The command-line interface against the simulator: in process and in virtual time
(cli.main takes a transport, a clock and a cancel scope), with two real-process smoke tests
(--help, and a real SIGINT) that carry the e2e marker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT
from nfsim import BuildPlan, Simulator
from nfsim.inprocess import SimTransport
from northflank_build.cli import main
from testdata import SHA, TOKEN
from virtual_clock import VirtualClock

LONG = BuildPlan(phases=(("PENDING", 0.3), ("BUILDING", 60.0)))


LOOPBACK = "http://127.0.0.1:9"  # the log socket is refused at once: logs over the transport


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Ran]:
    """The CLI in process: ``cli(*args, token=..., cwd=...)``."""

    def run(*args: str, token: str | None = TOKEN, cwd: Path = ROOT) -> Ran:
        for name in [k for k in os.environ if k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))]:
            monkeypatch.delenv(name)
        monkeypatch.delenv("NORTHFLANK_API_TOKEN", raising=False)
        if token is not None:
            monkeypatch.setenv("NORTHFLANK_API_TOKEN", token)
        monkeypatch.chdir(cwd)
        argv = [*args, "--api-url", LOOPBACK, "--project-id", "demo-project"]
        code = main(argv, transport=SimTransport(sim), clock=clock, cancel=clock.cancel)
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


def real_cli(sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    argv = [sys.executable, "-m", "northflank_build.cli", *args]
    return subprocess.run(
        argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.e2e
def test_help_explains_commands_token_and_exit_codes(live_sim: Simulator) -> None:
    result = real_cli(live_sim, "--help")
    assert result.returncode == 0
    for text in ("build", "create-service", "abort", "NORTHFLANK_API_TOKEN", "exit codes"):
        assert text in result.stdout


def test_build_with_json_output(sim: Simulator, cli: Callable[..., Ran]) -> None:
    result = cli(
        "build",
        "--job-id",
        "demo-job",
        "--sha",
        SHA,
        "--poll-interval-seconds",
        "1",
        "--build-arg",
        "A=1",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outcome"] == "succeeded"
    assert data["success"] is True
    assert data["build-id"] == sim.world.builds[0].id
    assert "[0:00] PENDING" in result.stderr
    assert "  | ==> pending" in result.stderr
    assert sim.calls("start")[0].body == {
        "sha": SHA,
        "overrides": {"buildArguments": {"A": "1"}},
    }
    assert TOKEN not in result.stdout + result.stderr


def test_failed_build_exits_1(sim: Simulator, cli: Callable[..., Ran]) -> None:
    sim.set_plan(BuildPlan(phases=(("BUILDING", 0.5),), outcome="FAILURE"))
    result = cli(
        "build",
        "--service-id",
        "demo-service",
        "--branch",
        "main",
        "--poll-interval-seconds",
        "1",
    )
    assert result.returncode == 1
    assert "Northflank build failed" in result.stderr


def test_missing_token_and_bad_flags_exit_2_and_send_nothing(
    sim: Simulator, cli: Callable[..., Ran]
) -> None:
    result = cli("build", "--job-id", "demo-job", token=None)
    assert result.returncode == 2
    assert "$NORTHFLANK_API_TOKEN" in result.stderr
    result = cli("build", "--job-id", "demo-job", "--sha", "nope", "--timeout-seconds", "0")
    assert result.returncode == 2
    assert "--sha" in result.stderr
    assert "--timeout-seconds" in result.stderr
    assert "Traceback" not in result.stderr
    assert sim.requests == []


def test_create_service_from_a_spec_file_then_build_it(
    sim: Simulator, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    spec = tmp_path / "svc.yaml"
    spec.write_text(
        "name: cli-builder\nbilling: {buildPlan: nf-compute-20}\n"
        "vcsData: {projectUrl: 'https://github.com/octo/repo', projectType: github}\n"
        "buildSettings: {dockerfile: {dockerFilePath: /Dockerfile, dockerWorkDir: /}}\n"
    )
    result = cli(
        "create-service",
        "--spec",
        "svc.yaml",
        "--branch",
        "main",
        "--poll-interval-seconds",
        "1",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["service-id"], data["service-created"], data["success"]) == (
        "cli-builder",
        True,
        True,
    )


def test_abort_a_running_build(sim: Simulator, cli: Callable[..., Ran]) -> None:
    sim.set_plan(LONG)
    started = cli("build", "--job-id", "demo-job", "--no-wait", "--json")
    build_id = json.loads(started.stdout)["build-id"]
    result = cli("abort", "--job-id", "demo-job", build_id)
    assert result.returncode == 0
    assert sim.world.builds[0].aborted_mono is not None


def test_dry_run_sends_nothing(sim: Simulator, cli: Callable[..., Ran]) -> None:
    result = cli("build", "--job-id", "demo-job", "--dry-run", "--json", token=None)
    assert result.returncode == 0
    assert sim.requests == []
    assert json.loads(result.stdout)["outcome"] == "dry run"


@pytest.mark.e2e
def test_ctrl_c_aborts_the_build_and_exits_130(live_sim: Simulator) -> None:
    sim = live_sim
    sim.set_plan(LONG)
    env = {**os.environ, "NORTHFLANK_API_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "northflank_build.cli", "build", "--job-id", "demo-job", "--api-url", sim.url, "--project-id", "demo-project"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not sim.calls("get") and time.monotonic() < deadline:
        time.sleep(0.1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    aborts = sim.calls("abort")
    assert len(aborts) == 1
    assert aborts[0].at - sent < 5
    assert "Aborted build" in err


def test_several_jobs_and_reuse(sim: Simulator, cli: Callable[..., Ran]) -> None:
    sim.world.projects["demo-project"].add("job-b")
    done = sim.world.add_build("demo-project", "job", "demo-job", SHA, started_ago_s=60)
    args = ["build", "--job-id", "demo-job", "--job-id", "job-b", "--sha", SHA]
    result = cli(*args, "--reuse", "succeeded", "--poll-interval-seconds", "1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [b["target-id"] for b in data["result"]["builds"]] == ["demo-job", "job-b"]
    assert [b["reused"] for b in data["result"]["builds"]] == [True, False]
    assert data["result"]["builds"][0]["build-id"] == done.id
    assert [r.path.split("/")[-2] for r in sim.calls("start")] == ["job-b"]
    assert "[job-b] Build " in result.stderr
    assert data["build-id"] == ""


def test_build_deploy_and_run_a_job(sim: Simulator, cli: Callable[..., Ran]) -> None:
    from nfsim.deploys import RolloutPlan, RunPlan

    sim.world.deployments["demo-project"]["demo-web"].plan = RolloutPlan(0.2, 0.3)
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=0.5)
    args = ["build", "--service-id", "demo-service", "--branch", "main", "--sha", SHA]
    more = ["--deploy-service", "demo-web", "--run-job", "demo-migrate", "--run-env", "A=1"]
    result = cli(*args, *more, "--poll-interval-seconds", "1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["deployed"], data["job-run-status"]) == (True, "SUCCESS")
    assert data["result"]["deployments"][0]["deployed-sha"] == SHA
    assert sim.calls("run_start")[0].body["runtimeEnvironment"] == {"A": "1"}


def test_cli_input_errors_name_the_flags(sim: Simulator, cli: Callable[..., Ran]) -> None:
    result = cli("build", "--job-id", "demo-job", "--deploy-service", "demo-web")
    assert result.returncode == 2
    assert sim.requests == []
    assert "--deploy-service:" in result.stderr


def test_a_release_flow_through_the_cli(sim: Simulator, cli: Callable[..., Ran]) -> None:
    args = ["build", "--release-flow", "demo-pipeline/staging", "--template-arg", "MODE=up"]
    result = cli(*args, "--poll-interval-seconds", "1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["template-run-status"] == "success"
    assert data["result"]["template-run"]["stage"] == "staging"
    body = sim.calls("tpl_start")[0].body
    assert body["arguments"] == {"MODE": "up"}
    assert body["name"].startswith("nfb-")
    assert "Node Release release: success" in result.stderr


def test_a_preview_through_the_cli(sim: Simulator, cli: Callable[..., Ran]) -> None:
    up = cli("build", "--preview-blueprint", "demo-preview", "--preview-name", "pr-9", "--json")
    assert up.returncode == 0, up.stderr
    data = json.loads(up.stdout)
    assert data["preview-url"] == "https://p01--pr-9-web--demo-project--sim.code.run"
    assert data["result"]["preview"]["name"] == "pr-9"
    args = ["--preview-blueprint", "demo-preview", "--preview-name", "pr-9"]
    down = cli("build", *args, "--preview-action", "delete", "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["preview-deleted"] is True
