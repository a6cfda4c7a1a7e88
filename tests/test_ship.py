"""deploy-services and run-job through the whole action as the runner runs it (in process,
virtual time, the simulator): every request and body, the outputs, failures and cancels."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft7Validator

import states
from conftest import ROOT, Runner, invalid_input_errors
from nfsim import Simulator
from nfsim.deploys import RolloutPlan, RunPlan
from testdata import OTHER_SHA, SHA

GITHUB_SHA = SHA  # the runner emulator's
DEPLOY_SCHEMAS = json.loads(
    (ROOT / "devtools/nfsim/schemas/northflank-deploy-schemas.json").read_text()
)
SERVICE_BUILD = {"job_id": "", "service_id": "demo-service", "branch": "main"}
SECRET = "postgres://app:hunter2-9f3a@db/app"


def result_of(outputs: dict[str, str]) -> dict[str, Any]:
    value = json.loads(outputs["result"])
    assert isinstance(value, dict)
    return value


def routes(sim: Simulator) -> list[str]:
    return [r.route for r in sim.requests]


def test_build_deploy_to_two_services_and_run_a_job_pinned_to_the_build(
    run: Runner, sim: Simulator
) -> None:
    result = run(
        **SERVICE_BUILD,
        deploy_services="demo-web, demo-worker",
        run_job="demo-migrate",
        run_job_environment=f"DATABASE_URL={SECRET}\nMODE=up",
    )
    assert result.exit_code == 0, result.text
    build = sim.world.builds[0]
    internal = {"id": "demo-service", "branch": "main", "buildSHA": GITHUB_SHA, "buildId": build.id}
    # Each service is read (its instance count), then patched with exactly this body.
    patches = sim.calls("deploy")
    assert [p.path.split("/")[-1] for p in patches] == ["demo-web", "demo-worker"]
    assert [p.body for p in patches] == [
        {"deployment": {"instances": 2, "internal": internal}},
        {"deployment": {"instances": 1, "internal": internal}},
    ]
    for patch in patches:
        Draft7Validator(DEPLOY_SCHEMAS["patch-service-deployment"]).validate(patch.body)
    first_patch = routes(sim).index("deploy")
    assert routes(sim)[first_patch - 1] == "service_get"
    # The run: after both rollouts completed, pinned to the build, with its environment.
    starts = sim.calls("run_start")
    assert len(starts) == 1
    assert starts[0].path.endswith("/jobs/demo-migrate/runs")
    assert starts[0].body == {
        "runtimeEnvironment": {"DATABASE_URL": SECRET, "MODE": "up"},
        "deployment": {"internal": internal},
    }
    Draft7Validator(DEPLOY_SCHEMAS["start-job-run"]).validate(starts[0].body)
    assert starts[0].at >= max(p.at for p in patches) + 2.5, "after the rollouts completed"
    for service in ("demo-web", "demo-worker"):
        view = sim.world.deployments["demo-project"][service].view(sim.clock)
        assert view["deployment"]["internal"]["deployedSHA"] == GITHUB_SHA
    out = result.outputs
    run_id = sim.world.runs[0].id
    assert (out["deployed"], out["job-run-id"], out["job-run-status"]) == (
        "true",
        run_id,
        "SUCCESS",
    )
    whole = result_of(out)
    assert whole["success"] is True
    assert whole["deployments"] == [
        {
            "service-id": "demo-web",
            "status": "COMPLETED",
            "deployed-sha": GITHUB_SHA,
            "urls": ["https://p01--demo-web--demo-project--sim.code.run"],
        },
        {
            "service-id": "demo-worker",
            "status": "COMPLETED",
            "deployed-sha": GITHUB_SHA,
            "urls": [],
        },
    ]
    assert result.outputs["environment-url"] == "https://p01--demo-web--demo-project--sim.code.run"
    assert whole["job-run"] == {"job-id": "demo-migrate", "run-id": run_id, "status": "SUCCESS",
                                "concluded": True, "skipped": False}  # fmt: skip
    # The run's log in its own group; the secret value never shown.
    assert any(line.startswith("##[group]Northflank job run") for line in result.log)
    assert "  | migration 1/3 applied" in result.log
    assert SECRET in result.secrets
    assert SECRET not in result.text
    assert SECRET not in result.summary
    assert "Deployment service" in result.summary
    assert "demo-worker" in result.summary
    assert "build, deploy and job run succeeded" in result.summary
    assert states.records(result.state) == [], "the run concluded: nothing for the post step"


def test_a_failed_rollout_fails_the_step_names_the_service_and_runs_no_job(
    run: Runner, sim: Simulator
) -> None:
    sim.world.rollout_failures.add("demo-worker")
    result = run(**SERVICE_BUILD, deploy_services="demo-web\ndemo-worker", run_job="demo-migrate")
    assert result.exit_code == 1, result.text
    out = result.outputs
    assert out["deployed"] == "false"
    assert out["job-run-id"] == ""
    assert sim.calls("run_start") == []
    errors = result.errors()
    assert len(errors) == 1
    assert "'demo-worker'" in errors[0].message
    assert "FAILED" in errors[0].message
    deployments = result_of(out)["deployments"]
    assert [d["status"] for d in deployments] == ["COMPLETED", "FAILED"]
    assert deployments[1]["deployed-sha"] != GITHUB_SHA


def test_a_failed_run_fails_the_step(run: Runner, sim: Simulator) -> None:
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=1.5, outcome="FAILED")
    result = run(**SERVICE_BUILD, run_job="demo-migrate")
    assert result.exit_code == 1, result.text
    assert result.outputs["job-run-status"] == "FAILED"
    assert result.outputs["success"] == "false"
    errors = result.errors()
    assert len(errors) == 1
    assert "demo-migrate" in errors[0].message
    assert "Last 4 lines of the job run log" in result.summary
    assert result_of(result.outputs)["job-run"]["concluded"] is True


def test_run_job_alone(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", run_job="demo-migrate")
    assert result.exit_code == 0, result.text
    # The job is read first (issue 18, cause 12), then the run is the first thing started.
    assert routes(sim)[:2] == ["job_get", "run_start"]
    assert sim.calls("start") == []
    assert sim.calls("run_start")[0].body == {}, "no build: no deployment is sent"
    assert result.outputs["job-run-status"] == "SUCCESS"
    assert result.outputs["build-id"] == ""
    # Issue 20, item 12: with no build, concluded speaks for the run (success said true).
    assert (result.outputs["success"], result.outputs["concluded"]) == ("true", "true")
    assert result_of(result.outputs)["builds"] == []


def test_a_job_building_itself_runs_without_a_deployment(run: Runner, sim: Simulator) -> None:
    result = run(job_id="demo-migrate", run_job="demo-migrate")
    assert result.exit_code == 0, result.text
    assert sim.calls("run_start")[0].body == {}
    assert sim.calls("run_start")[0].at > sim.calls("start")[0].at


def test_a_cancel_during_the_run_aborts_it_once(run: Runner, sim: Simulator) -> None:
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=60.0)
    result = run(job_id="", run_job="demo-migrate", options={"cancel_after": 2.0})
    assert result.exit_code == 130, result.text
    aborts = sim.calls("run_abort")
    assert len(aborts) == 1
    assert aborts[0].path.endswith(f"/runs/{sim.world.runs[0].id}")
    assert sim.world.runs[0].aborted_mono is not None
    assert states.records(result.state) == [], "aborted: nothing for the post step"


def test_a_cancel_during_a_rollout_sends_no_delete(run: Runner, sim: Simulator) -> None:
    sim.world.rollout = RolloutPlan(pending_s=1.0, in_progress_s=60.0)
    for deployment in sim.world.deployments["demo-project"].values():
        deployment.plan = sim.world.rollout
    result = run(**SERVICE_BUILD, deploy_services="demo-web", run_job="demo-migrate",
                 options={"cancel_after": 5.0})  # fmt: skip
    assert result.exit_code == 130, result.text
    assert [r for r in sim.requests if r.method == "DELETE"] == []
    assert sim.calls("run_start") == []
    assert "'demo-web' was mid-rollout" in result.text
    assert result.outputs["deployed"] == "false"


def test_a_timeout_during_a_rollout_exits_4_and_aborts_nothing(run: Runner, sim: Simulator) -> None:
    sim.world.deployments["demo-project"]["demo-web"].plan = RolloutPlan(
        pending_s=1.0, in_progress_s=600.0
    )
    result = run(**SERVICE_BUILD, deploy_services="demo-web", timeout_seconds="30")
    assert result.exit_code == 4, result.text
    assert [r for r in sim.requests if r.method == "DELETE"] == []
    assert "rollout of service 'demo-web'" in result.errors()[0].message
    assert "cannot be aborted" in result.errors()[0].message


def test_the_post_step_aborts_a_run_the_main_step_left(run: Runner, sim: Simulator) -> None:
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=60.0)
    left = sim.world.start_run("demo-project", "demo-migrate", {})
    state = states.state(states.run("demo-migrate", left.id))
    post = run(job_id="", run_job="demo-migrate", options={"stage": "post", "state": state})
    assert post.exit_code == 0
    assert [r.path.split("/")[-1] for r in sim.calls("run_abort")] == [left.id]


def test_dry_run_prints_the_patch_and_the_run_it_would_send(run: Runner, sim: Simulator) -> None:
    result = run(**SERVICE_BUILD, api_token="", dry_run="true", deploy_services="demo-web",
                 run_job="demo-migrate", run_job_environment=f"DATABASE_URL={SECRET}")  # fmt: skip
    assert result.exit_code == 0
    assert sim.requests == []
    text = result.text
    assert "would send PATCH" in text
    assert "/services/deployment/demo-web" in text
    assert '"instances": "<current>"' in text
    assert '"buildId": "<the build\'s id>"' in text
    assert "/jobs/demo-migrate/runs" in text
    assert SECRET not in text


@pytest.mark.parametrize(
    ("inputs", "name", "words"),
    [
        ({**SERVICE_BUILD, "deploy_services": "demo-web", "wait": "false"}, "deploy-services", "wait: false"),
        ({"deploy_services": "demo-web"}, "deploy-services", "job's build"),
        ({"job_id": "", "service_id": "a,b", "branch": "main", "deploy_services": "demo-web"},
         "deploy-services", "one build target"),
        ({"job_id": "", "deploy_services": "demo-web"}, "deploy-services", "needs a service build"),
        ({**SERVICE_BUILD, "deploy_services": "Demo_Web"}, "deploy-services", "not a Northflank id"),
        ({"job_id": "a,b", "run_job": "demo-migrate"}, "run-job", "one build target"),
        ({"run_job": "demo-migrate"}, "run-job", "a job runs its own builds"),
        ({"run_job": "../x"}, "run-job", "not a Northflank id"),
        ({"run_job_environment": "A=1"}, "run-job-environment", "run-job"),
        ({"job_id": "", "run_job": "demo-migrate", "run_job_environment": "BAD KEY=1"},
         "run-job-environment", "variable name"),
    ],
)  # fmt: skip
def test_input_errors_send_nothing_and_name_the_input(
    run: Runner, sim: Simulator, inputs: dict[str, str], name: str, words: str
) -> None:
    result = run(**inputs)
    assert result.exit_code == 2
    assert sim.requests == []
    assert any(words in message for message in invalid_input_errors(result, name)), result.text
    assert result.outputs["deployed"] == "false"
    assert result.outputs["job-run-id"] == ""


def test_the_real_process_deploys_runs_and_a_sigint_aborts_the_run(
    run_process: Runner, live_sim: Simulator
) -> None:
    # Runner contract: the real process over HTTP (PATCH, job runs, the run's log socket),
    # a real SIGINT while the run goes on: one DELETE of the run, outputs written, exit 130.
    fast = RolloutPlan(pending_s=0.2, in_progress_s=0.4)
    for deployment in live_sim.world.deployments["demo-project"].values():
        deployment.plan = fast
    live_sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=60.0)
    result = run_process(**SERVICE_BUILD, deploy_services="demo-web", run_job="demo-migrate",
                         options={"cancel_after": 4.0})  # fmt: skip
    assert (result.exit_code, result.conclusion) == (130, "cancelled"), result.text
    assert result.outputs["deployed"] == "true"
    run_id = live_sim.world.runs[0].id
    assert result.outputs["job-run-id"] == run_id
    assert [r.path.split("/")[-1] for r in live_sim.calls("run_abort")] == [run_id]
    tails = [r.path for r in live_sim.requests if r.route == "logs_tail"]
    assert any(path.endswith("/jobs/demo-migrate/logs") for path in tails), "the run's socket"
    assert "Traceback" not in result.text


def test_team_routes_for_the_deploy_and_the_run(run: Runner, sim: Simulator) -> None:
    result = run(**SERVICE_BUILD, team_id="demo-team", deploy_services="demo-web",
                 run_job="demo-migrate")  # fmt: skip
    assert result.exit_code == 0, result.text
    shipped = [r for r in sim.requests if r.route in ("deploy", "service_get", "run_start")]
    assert shipped
    assert all(r.path.startswith("/v1/teams/demo-team/projects/") for r in shipped)


def test_a_reused_build_is_deployed_without_a_new_build(run: Runner, sim: Simulator) -> None:
    done = sim.world.add_build("demo-project", "service", "demo-service", GITHUB_SHA,
                               started_ago_s=120)  # fmt: skip
    result = run(**SERVICE_BUILD, reuse="succeeded", deploy_services="demo-web")
    assert result.exit_code == 0, result.text
    assert sim.calls("start") == []
    internal = sim.calls("deploy")[0].body["deployment"]["internal"]
    assert (internal["buildId"], internal["buildSHA"]) == (done.id, GITHUB_SHA)
    assert (result.outputs["reused"], result.outputs["deployed"]) == ("true", "true")


def test_build_id_of_a_running_build_is_awaited_then_deployed(run: Runner, sim: Simulator) -> None:
    other = OTHER_SHA
    running = sim.world.add_build("demo-project", "service", "demo-service", other,
                                  started_ago_s=0.1)  # fmt: skip
    result = run(job_id="", service_id="demo-service", build_id=running.id,
                 deploy_services="demo-web")  # fmt: skip
    assert result.exit_code == 0, result.text
    patch = sim.calls("deploy")[0]
    assert patch.at >= running.created_mono + running.plan.duration, "after it concluded"
    assert patch.body["deployment"]["internal"]["buildSHA"] == other


def test_a_cancel_right_after_the_build_succeeded_is_not_a_success(
    run: Runner, sim: Simulator, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The signal lands after the build's last read returned, before the first deploy
    # request: nothing is deployed or run, and the step must not end as a success.
    from northflank_build.github.events import OperationLog

    shown = OperationLog.status

    def status(self: OperationLog, snapshot: Any, elapsed: float) -> None:
        shown(self, snapshot, elapsed)
        if snapshot.finished:
            clock.cancel.event.set()  # as the handler does outside a request

    monkeypatch.setattr(OperationLog, "status", status)
    result = run(**SERVICE_BUILD, deploy_services="demo-web", run_job="demo-migrate")
    assert result.exit_code == 130, result.text
    assert sim.calls("deploy") == []
    assert sim.calls("run_start") == []
    assert result.outputs["deployed"] == "false"


def test_a_run_start_whose_answer_is_lost_is_found_and_never_resent(
    run: Runner, sim: Simulator
) -> None:
    from nfsim import Fault

    sim.add_fault(Fault(route="run_start", action="drop_after"))
    result = run(job_id="", run_job="demo-migrate")
    assert result.exit_code == 0, result.text
    assert len(sim.calls("run_start")) == 1
    assert len(sim.world.runs) == 1
    assert result.outputs["job-run-id"] == sim.world.runs[0].id
    assert "run_list" in routes(sim)


def test_a_run_start_answered_502_after_it_ran_is_not_resent(run: Runner, sim: Simulator) -> None:
    # A 5xx is ambiguous: the run is looked for; a run that cannot be placed in time (no
    # such run) ends the step with exit 3, and nothing is sent again.
    from nfsim import Fault

    sim.add_fault(Fault(route="run_start", status=502, times=1))
    result = run(job_id="", run_job="demo-migrate")
    assert result.exit_code == 3, result.text
    assert len(sim.calls("run_start")) == 1
    assert sim.world.runs == []
    error = result.errors()[0]
    assert error.properties["title"] == "Northflank may have started a job run"
    assert "start a run of job 'demo-migrate'" in error.message
    assert "/jobs/demo-migrate/runs" in error.message, "where to look"


@pytest.mark.parametrize("instances", [-1, "two", None, 10**9])
def test_an_unreadable_instance_count_sends_no_patch(
    run: Runner, sim: Simulator, instances: Any
) -> None:
    # Untrusted answers: the count goes back to Northflank in the PATCH, so a count that
    # makes no sense (or none) stops the deploy of that service before anything is sent.
    deployment = sim.world.deployments["demo-project"]["demo-web"]
    deployment.instances = instances
    result = run(**SERVICE_BUILD, deploy_services="demo-web", run_job="demo-migrate")
    assert result.exit_code == 3, result.text
    assert sim.calls("deploy") == []
    assert sim.calls("run_start") == []
    assert "demo-web" in result.errors()[0].message
    assert result.outputs["deployed"] == "false"
    assert "Traceback" not in result.text


def test_a_failed_rollout_names_the_deploy_in_the_title_and_skips_the_run(
    run: Runner, sim: Simulator
) -> None:
    # Issue 20, item 9: the title says what failed; the skipped run is said, not silent.
    sim.world.rollout_failures.add("demo-web")
    result = run(**SERVICE_BUILD, deploy_services="demo-web", run_job="demo-migrate")
    assert result.exit_code == 1, result.text
    assert result.summary.startswith("### :x: Northflank build succeeded; deploy failed"), (
        result.summary[:200]
    )
    assert "The run of job 'demo-migrate' was not started" in result.text
    assert result_of(result.outputs)["job-run"]["skipped"] is True
    assert "0 of 1 deployed, job run skipped" in result.log[-1]
