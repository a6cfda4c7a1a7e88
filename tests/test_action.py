"""The whole action, run as the runner runs it (INPUT_* with hyphens, file commands parsed
the runner's way), against the Northflank API simulator on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import validate

import states
from conftest import ROOT, SCHEMAS, Runner
from nfsim import BuildPlan, Simulator
from testdata import SHA, TOKEN

DECLARED_OUTPUTS = list(yaml.safe_load((ROOT / "action.yml").read_text())["outputs"])
GITHUB_SHA = SHA  # the runner emulator's


def everything_the_user_sees(result: object) -> str:
    from runneremu import StepResult

    assert isinstance(result, StepResult)
    parts = [
        result.text,
        result.summary,
        *result.outputs.values(),
        *(a.message for a in result.annotations),
    ]
    parts += [v for a in result.annotations for v in a.properties.values()]
    return "\n".join(parts)


def test_success_writes_every_declared_output(run_process: Runner, live_sim: Simulator) -> None:
    # A runner-contract test: the real process, file commands read the runner's way.
    sim = live_sim
    result = run_process(build_arguments="NODE_ENV=production\nEXTRA=a=b")
    assert (result.exit_code, result.conclusion) == (0, "success")
    assert set(DECLARED_OUTPUTS) == set(result.outputs), "every output in action.yml is written"
    out = result.outputs
    build = sim.world.builds[0]
    assert out["build-id"] == build.id
    assert out["status"] == "SUCCESS"
    assert (out["success"], out["concluded"]) == ("true", "true")
    assert out["registry-uri"].endswith(f":{build.id}")
    assert out["sha"] == GITHUB_SHA
    assert out["branch"] == "main"
    assert out["created-at"].endswith("Z")
    assert out["concluded-at"].endswith("Z")
    assert int(out["duration-seconds"]) >= 0
    assert out["build-url"] == f"{sim.url}/s/project/demo-project/jobs/demo-job/builds/{build.id}"
    starts = sim.calls("start")
    assert len(starts) == 1
    validate(starts[0].body, SCHEMAS["start-job-build"])
    assert starts[0].body == {
        "sha": GITHUB_SHA,
        "overrides": {"buildArguments": {"NODE_ENV": "production", "EXTRA": "a=b"}},
    }
    assert "Northflank build succeeded" in result.summary
    assert build.id in result.summary
    assert states.records(result.state) == [], "concluded: nothing left for the post step"
    assert not result.file_command_errors


def test_status_changes_are_logged_once_each_with_elapsed_time(run: Runner, sim: Simulator) -> None:
    # Polls come at about 1, 2.5 and 4.75 s; each phase spans one of them.
    sim.set_plan(BuildPlan(phases=(("PENDING", 0.5), ("STARTING", 1.6), ("BUILDING", 2.5))))
    result = run()
    statuses = [line for line in result.log if line.startswith("[")]
    assert [s.split("] ")[1] for s in statuses][:3] == ["PENDING", "STARTING", "BUILDING"]
    assert statuses[-1].split("] ")[1].startswith("SUCCESS")
    assert len(statuses) == len({s.split("] ")[1] for s in statuses})


def test_failed_build_fails_the_step_with_an_annotation_and_outputs(
    run: Runner, sim: Simulator
) -> None:
    sim.set_plan(
        BuildPlan(phases=(("BUILDING", 0.3),), outcome="FAILURE", message="RUN make exited with 2")
    )
    result = run()
    assert (result.exit_code, result.conclusion) == (1, "failure")
    errors = result.errors()
    assert len(errors) == 1
    assert errors[0].properties["title"] == "Northflank build failed"
    assert "FAILURE" in errors[0].message
    assert "RUN make exited with 2" in errors[0].message
    assert result.outputs["status"] == "FAILURE"
    assert result.outputs["build-id"] == sim.world.builds[0].id
    assert (result.outputs["success"], result.outputs["concluded"]) == ("false", "true")
    assert set(DECLARED_OUTPUTS) == set(result.outputs)


def test_pull_request_builds_the_head_commit_not_the_merge_commit(
    run: Runner, sim: Simulator
) -> None:
    head = "1234567890abcdef1234567890abcdef12345678"
    result = run(
        options={
            "github": {"event_name": "pull_request", "sha": "f" * 40},
            "event": {"pull_request": {"head": {"sha": head}}},
        }
    )
    assert result.exit_code == 0
    assert sim.calls("start")[0].body == {"sha": head}


def test_empty_sha_sends_no_sha(run: Runner, sim: Simulator) -> None:
    assert run(sha="").exit_code == 0
    assert sim.calls("start")[0].body == {}


def test_team_routes(run: Runner, sim: Simulator) -> None:
    result = run(team_id="demo-team")
    assert result.exit_code == 0
    assert {r.path.split("/projects/")[0] for r in sim.requests} == {"/v1/teams/demo-team"}
    assert "/t/demo-team/project/" in result.outputs["build-url"]


def test_wait_false_starts_and_returns(run: Runner, sim: Simulator) -> None:
    sim.set_plan(BuildPlan(phases=(("BUILDING", 30.0),)))
    result = run(wait="false")
    assert result.exit_code == 0
    assert result.duration_s < 10
    assert result.outputs["build-id"] == sim.world.builds[0].id
    assert (result.outputs["concluded"], result.outputs["success"]) == ("false", "false")
    assert [r.route for r in sim.requests] == ["start"]
    assert states.records(result.state) == []  # the post step must not abort it


@pytest.mark.parametrize(
    ("inputs", "name", "fragment"),
    [
        ({"api_token": ""}, "api-token", "required"),
        ({"project_id": None}, "project-id", "required"),
        ({"job_id": "Bad Job"}, "job-id", "not a Northflank id"),
        ({"sha": "main"}, "sha", "40 hexadecimal"),
        ({"api_url": "http://api.northflank.com"}, "api-url", "plain http"),
        ({"wait": "yes"}, "wait", "YAML 1.2"),
        ({"timeout_seconds": "0"}, "timeout-seconds", "out of range"),
        ({"poll_interval_seconds": "fast"}, "poll-interval-seconds", "number"),
        ({"build_arguments": "JUSTTEXT"}, "build-arguments", "KEY=VALUE"),
        ({"build_files": "/x=env:NOT_SET"}, "build-files", "not set"),
        ({"docker_secret_mounts": "a b=env:X"}, "docker-secret-mounts", "secret mount id"),
        ({"dockerfile_path": "Dockerfile"}, "dockerfile-path", "does not match"),
        ({"docker_work_dir": "app"}, "docker-work-dir", "does not match"),
        ({"dockerfile_target": "a:b"}, "dockerfile-target", "does not match"),
    ],
)
def test_each_invalid_input_gives_its_message_and_no_request(
    run: Runner, sim: Simulator, inputs: dict[str, str | None], name: str, fragment: str
) -> None:
    result = run(**inputs)
    assert (result.exit_code, result.conclusion) == (2, "failure")
    assert sim.requests == []
    errors = result.errors()
    assert [e.properties["title"] for e in errors] == [f"Invalid input '{name}'"]
    assert fragment in errors[0].message
    assert "Traceback" not in result.raw_stdout
    assert set(DECLARED_OUTPUTS) == set(result.outputs)
    assert name in result.summary


def test_several_invalid_inputs_are_reported_together(run: Runner, sim: Simulator) -> None:
    result = run(sha="x", wait="nope", dockerfile_target="a b")
    assert result.exit_code == 2
    assert sim.requests == []
    assert sorted(e.properties["title"] for e in result.errors()) == [
        "Invalid input 'dockerfile-target'",
        "Invalid input 'sha'",
        "Invalid input 'wait'",
    ]


def test_token_and_secret_contents_never_reach_what_users_see(
    run_process: Runner, live_sim: Simulator, tmp_path: Path
) -> None:
    # A runner-contract test: masks registered before the first line the process prints.
    run = run_process
    (tmp_path / "secret.txt").write_text("file-secret-contents-9d8e")
    result = run(
        build_files="/app/a=env:NPM_SECRET\n/app/b=secret.txt",
        docker_secret_mounts="m=env:NPM_SECRET",
        env={"NPM_SECRET": "env-secret-value-77aa"},
    )
    assert result.exit_code == 0
    visible = everything_the_user_sees(result)
    for secret in (TOKEN, "env-secret-value-77aa", "file-secret-contents-9d8e"):
        assert secret not in visible
        assert secret in result.secrets, "masked with ::add-mask:: before use"
    first_mask = next(
        i for i, line in enumerate(result.raw_stdout.splitlines()) if line.startswith("::add-mask")
    )
    assert first_mask == 0, "the token is masked before anything else is printed"


def test_debug_mode_logs_requests_but_no_secret_or_body(run: Runner) -> None:
    result = run(
        poll_interval_seconds=None,
        build_arguments="SECRETISH=value-in-body-123",
        options={"debug": True},
    )
    assert result.exit_code == 0
    debug_lines = [line for line in result.log if line.startswith("##[debug]")]
    assert any(
        "POST /v1/projects/demo-project/jobs/demo-job/build -> 200" in line for line in debug_lines
    )
    raw = "\n".join(
        line for line in result.raw_stdout.splitlines() if not line.startswith("::add-mask")
    )
    assert TOKEN not in raw
    assert "value-in-body-123" not in raw


def test_text_from_northflank_cannot_act_as_a_workflow_command(
    run_process: Runner, live_sim: Simulator
) -> None:
    # A runner-contract test: stop-commands around remote log text, read from the process.
    run, sim = run_process, live_sim
    sim.set_plan(
        BuildPlan(
            phases=(("BUILDING", 0.2),),
            outcome="FAILURE",
            message="oops\n::error title=pwned::injected\n::add-mask::main ##[warning]legacy",
            branch="feature/::set-output name=build-id::evil",
        )
    )
    result = run()
    assert result.exit_code == 1
    assert [a.properties.get("title") for a in result.annotations] == ["Northflank build failed"]
    assert not result.legacy_commands
    assert ("add-mask", "main ##[warning]legacy") not in result.commands
    assert result.outputs["build-id"] == sim.world.builds[0].id
    assert (
        result.outputs["branch"] == "feature/::set-output name=build-id::evil"
    )  # kept verbatim in the output


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("401", "API token was refused"),
        ("403", "Project > Jobs > Deployment > Deploy Build"),
        ("404-job", "job 'missing-job' was not found in project 'demo-project'"),
        ("404-project", "Project 'missing-project' was not found"),
    ],
)
def test_api_errors_become_clear_messages(
    run: Runner, sim: Simulator, setup: str, fragment: str
) -> None:
    overrides: dict[str, str] = {}
    if setup == "401":
        sim.tokens = {"some-other-token"}
    elif setup == "403":
        sim.forbidden = {TOKEN}
    elif setup == "404-job":
        overrides["job_id"] = "missing-job"
    else:
        overrides["project_id"] = "missing-project"
    result = run(**overrides)
    assert (result.exit_code, result.conclusion) == (3, "failure")
    errors = result.errors()
    assert len(errors) == 1
    assert fragment in errors[0].message
    assert len(sim.calls("start")) == 1, "4xx is never retried"
    assert set(DECLARED_OUTPUTS) == set(result.outputs)


def test_a_sigint_while_the_action_starts_up_is_a_clean_cancel(
    run_process: Runner, live_sim: Simulator
) -> None:
    # SIGINT is sent as the process starts, held back until the action's first line takes
    # it (src/northflank_build/_early.py): it lands in the start-up, however fast the machine.
    result = run_process(options={"cancel_at_start": True})
    assert result.exit_code == 130, result.raw_stdout
    assert "Traceback" not in result.raw_stdout
    assert "KeyboardInterrupt" not in result.raw_stdout
    assert set(DECLARED_OUTPUTS) == set(result.outputs)
    assert live_sim.calls("start") == [], "cancelled before anything was sent"
