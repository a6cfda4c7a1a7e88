"""Issue 21: a pipeline stage's release flow or a workflow, run after the step's builds (or
alone), followed to its end, shown node by node, aborted on a cancel or timeout. The action
in process and in virtual time against the simulator (devtools/nfsim/templates.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from conftest import Runner, invalid_input_errors
from nfsim import BuildPlan, Fault, Simulator
from nfsim.templates import TemplatePlan
from northflank_build.api.bodies import RUN_DESCRIPTION_PATTERN, RUN_NAME_PATTERN
from runneremu import StepResult

FLOW = "demo-pipeline/staging"


def template(result: StepResult) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(result.outputs["result"])["template-run"]
    return entry


def errors(result: StepResult) -> list[str]:
    return [a.message for a in result.errors()]


def test_a_release_flow_alone_runs_to_success_with_its_nodes(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", release_flow=FLOW, template_arguments="MODE=up\nTAG=v1")
    assert result.exit_code == 0, result.text
    starts = sim.calls("tpl_start")
    assert len(starts) == 1
    assert (
        starts[0].path
        == "/v1/projects/demo-project/pipelines/demo-pipeline/release-flows/staging/runs"
    )
    body = starts[0].body
    assert body["arguments"] == {"MODE": "up", "TAG": "v1"}
    assert re.fullmatch(RUN_NAME_PATTERN, body["name"])
    assert 3 <= len(body["name"]) <= 39
    assert re.fullmatch(RUN_DESCRIPTION_PATTERN, body["description"])
    assert sim.world.template_runs[0].id == result.outputs["template-run-id"]
    assert result.outputs["template-run-status"] == "success"
    entry = template(result)
    assert entry["kind"] == "release-flow"
    assert (entry["pipeline-id"], entry["stage"], entry["workflow-id"]) == (
        "demo-pipeline",
        "staging",
        None,
    )
    assert entry["name"] == body["name"]
    assert entry["success"] is True
    assert [n["ref"] for n in entry["nodes"]] == ["build", "release", "check"]
    assert {n["status"] for n in entry["nodes"]} == {"success"}
    assert entry["url"].endswith(f"/release-flows/staging/runs/{entry['run-id']}")
    # Node changes, a line each; the summary's node table.
    assert "Node Release release: success" in result.log
    assert "| Node | Status | Duration | Error |" in result.summary
    assert "| Release `release` | `success` |" in result.summary


def test_a_workflow_on_team_routes(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", workflow="demo-workflow", team_id="demo-team")
    assert result.exit_code == 0, result.text
    start = sim.calls("tpl_start")[0]
    assert start.path == "/v1/teams/demo-team/projects/demo-project/workflows/demo-workflow/runs"
    entry = template(result)
    assert (entry["kind"], entry["workflow-id"], entry["pipeline-id"]) == (
        "workflow",
        "demo-workflow",
        None,
    )
    assert "/t/demo-team/" in entry["url"]


@pytest.mark.parametrize("answer", ["no-id", "empty"])
def test_a_run_whose_post_answer_has_no_id_is_found_by_its_name(
    run: Runner, sim: Simulator, answer: Any
) -> None:
    sim.world.template_plan = TemplatePlan(answer=answer)
    result = run(job_id="", release_flow=FLOW)
    assert result.exit_code == 0, result.text
    assert len(sim.calls("tpl_start")) == 1, "never resent"
    assert result.outputs["template-run-id"] == sim.world.template_runs[0].id
    lists = [c.query for c in sim.calls("tpl_list")]
    assert {"per_page": ["100"], "concluded": ["false"]} in lists, "the unconcluded runs first"


def test_a_workflow_run_without_an_id_is_found_in_the_unfiltered_list(
    run: Runner, sim: Simulator
) -> None:
    sim.world.template_plan = TemplatePlan(answer="empty")
    result = run(job_id="", workflow="demo-workflow")
    assert result.exit_code == 0, result.text
    assert all("concluded" not in c.query for c in sim.calls("tpl_list"))


def test_an_approval_wait_that_times_out_is_aborted_and_exits_4(
    run: Runner, sim: Simulator
) -> None:
    sim.world.template_plan = TemplatePlan(approval_s=100_000)
    result = run(job_id="", release_flow=FLOW, timeout_seconds="60")
    assert result.exit_code == 4, result.text
    assert len(sim.calls("tpl_abort")) == 1
    waiting = [line for line in result.log if "waiting for an approval in Northflank" in line]
    assert len(waiting) == 1, "one notice"
    assert "/release-flows/staging/runs/" in waiting[0]
    titles = [a.properties.get("title", "") for a in result.errors()]
    assert "Timed out waiting for the Northflank release-flow run" in titles
    assert "The release-flow run was aborted." in " ".join(errors(result))


def test_a_failed_node_fails_the_step_and_is_named(run: Runner, sim: Simulator) -> None:
    sim.world.template_plan = TemplatePlan(fails="release")
    result = run(job_id="", release_flow=FLOW)
    assert result.exit_code == 1, result.text
    assert result.outputs["template-run-status"] == "failure"
    message = " ".join(errors(result))
    assert "node Release release: demo-web: exited with code 1" in message
    assert "| Release `release` | `failure` |" in result.summary
    assert "demo-web: exited with code 1" in result.summary
    assert "| Condition `check` | `skipped` |" in result.summary
    entry = template(result)
    assert entry["success"] is False
    assert [n["status"] for n in entry["nodes"]] == ["success", "failure", "skipped"]


def test_a_cancel_aborts_the_run_once(run: Runner, sim: Simulator) -> None:
    sim.world.template_plan = TemplatePlan(node_s=60)
    result = run(job_id="", release_flow=FLOW, options={"cancel_after": 5.0})
    assert result.exit_code == 130, result.text
    aborts = sim.calls("tpl_abort")
    assert len(aborts) == 1
    assert aborts[0].path.endswith(f"/runs/{result.outputs['template-run-id']}/abort")
    assert sim.world.template_runs[0].aborted_mono is not None


def test_a_lost_post_answer_is_found_by_name_and_never_resent(run: Runner, sim: Simulator) -> None:
    sim.add_fault(Fault(route="tpl_start", action="drop_after"))
    result = run(job_id="", release_flow=FLOW)
    assert result.exit_code == 0, result.text
    assert len(sim.calls("tpl_start")) == 1
    assert result.outputs["template-run-id"] == sim.world.template_runs[0].id


def test_a_lost_post_answer_that_cannot_be_placed_is_left_to_the_post_step(
    run: Runner, sim: Simulator
) -> None:
    sim.add_fault(Fault(route="tpl_start", action="drop_after"))
    sim.add_fault(Fault(route="tpl_list", status=503, times=100, skip=1))  # after the preflight
    sim.world.template_plan = TemplatePlan(node_s=600)
    result = run(job_id="", release_flow=FLOW)
    assert result.exit_code == 3, result.text
    assert len(sim.calls("tpl_start")) == 1, "never resent"
    assert "Northflank may have started a release-flow run" in [
        a.properties.get("title") for a in result.errors()
    ]
    sim.faults.clear()
    post = run(job_id="", release_flow=FLOW, options={"stage": "post", "state": result.state})
    assert post.exit_code == 0
    assert len(sim.calls("tpl_abort")) == 1, "found by its name, aborted"
    assert sim.world.template_runs[0].aborted_mono is not None


def test_unknown_and_upper_case_statuses(run: Runner, sim: Simulator) -> None:
    reads: list[int] = []

    def odd(request: httpx.Request) -> httpx.Response | None:
        reads.append(1)
        found = sim.world.template_runs[0]
        view = found.view(sim.clock.monotonic())
        if not view["concluded"]:
            view["status"] = "mystery-state"
        else:
            view["status"] = view["status"].upper()
        return httpx.Response(200, json={"data": view})

    sim.add_fault(Fault(route="tpl_get", action="respond", respond=odd, times=10**6))
    result = run(job_id="", release_flow=FLOW)
    assert result.exit_code == 0, result.text
    assert "mystery-state" in result.text, "an unknown status is waited through"
    assert result.outputs["template-run-status"] == "success"


def test_a_release_flow_after_a_build(run: Runner, sim: Simulator) -> None:
    result = run(release_flow=FLOW)
    assert result.exit_code == 0, result.text
    build_done = sim.world.builds[0]
    start = sim.calls("tpl_start")[0]
    assert start.at >= build_done.created_mono + build_done.plan.duration, "after the build"
    whole = json.loads(result.outputs["result"])
    assert whole["builds"][0]["status"] == "SUCCESS"
    assert whole["template-run"]["status"] == "success"
    assert "Northflank build and release-flow run succeeded" in result.summary


def test_a_failed_build_starts_no_run(run: Runner, sim: Simulator) -> None:
    sim.set_plan(BuildPlan(phases=(("BUILDING", 1.0),), outcome="FAILURE"))
    result = run(release_flow=FLOW)
    assert result.exit_code == 1, result.text
    assert sim.calls("tpl_start") == []
    assert "was not started: what came before it did not succeed" in result.text


def test_a_typo_in_the_flow_ends_the_step_before_anything_starts(
    run: Runner, sim: Simulator
) -> None:
    result = run(release_flow="demo-pipeline/nowhere")
    assert result.exit_code == 3, result.text
    assert sim.calls("start") == []
    assert sim.calls("tpl_start") == []
    assert "release-flow" in " ".join(errors(result))


def test_the_dry_run_shows_the_post_and_sends_nothing(run: Runner, sim: Simulator) -> None:
    result = run(
        job_id="", release_flow=FLOW, template_arguments="A=1", dry_run="true", api_token=""
    )
    assert result.exit_code == 0, result.text
    assert sim.requests == []
    assert "would send POST" in result.text
    assert "/pipelines/demo-pipeline/release-flows/staging/runs" in result.text
    assert '"A": "1"' in result.text


@pytest.mark.parametrize(
    ("inputs", "name", "words"),
    [
        ({"release_flow": FLOW, "workflow": "demo-workflow"}, "workflow", "not both"),
        ({"release_flow": "demo-pipeline"}, "release-flow", "<pipeline-id>/<stage>"),
        ({"workflow": "Demo Workflow"}, "workflow", "not a Northflank id"),
        ({"release_flow": FLOW, "template_overrides": "[1]"}, "template-overrides", "JSON object"),
        ({"template_arguments": "A=1"}, "template-arguments", "neither of which is given"),
        ({"release_flow": FLOW, "wait": "false"}, "release-flow", "wait: false"),
        (
            {"release_flow": FLOW, "template_arguments": "1A=x"},
            "template-arguments",
            "argument's name",
        ),
    ],
)
def test_template_input_errors_send_nothing(
    run: Runner, sim: Simulator, inputs: dict[str, str], name: str, words: str
) -> None:
    result = run(**inputs)
    assert result.exit_code == 2, result.text
    assert sim.requests == []
    assert any(words in message for message in invalid_input_errors(result, name)), result.text


def test_a_run_left_running_by_a_failed_abort_is_aborted_by_the_post_step(
    run: Runner, sim: Simulator
) -> None:
    sim.world.template_plan = TemplatePlan(node_s=600)
    sim.add_fault(Fault(route="tpl_abort", status=503, times=1))
    result = run(job_id="", release_flow=FLOW, options={"cancel_after": 5.0})
    assert result.exit_code == 130, result.text
    post = run(job_id="", release_flow=FLOW, options={"stage": "post", "state": result.state})
    assert post.exit_code == 0
    assert len(sim.calls("tpl_abort")) == 2, "the failed one, then the post step's"
    assert sim.world.template_runs[0].aborted_mono is not None


def test_a_run_in_its_last_node_is_checked_densely() -> None:
    from northflank_build.api.models import TemplateRun
    from northflank_build.engine.templaterun import RELEASE_FLOW_RUN

    def run(*statuses: str) -> TemplateRun:
        steps = [
            {"kind": "Build", "ref": f"n{i}", **({"response": {"status": s}} if s else {})}
            for i, s in enumerate(statuses)
        ]
        spec = {"kind": "Workflow", "spec": {"steps": steps}}
        return TemplateRun.model_validate({"id": "r-1", "status": "running", "spec": spec})

    assert RELEASE_FLOW_RUN.near_end(run("success", "success", "waiting"))
    assert not RELEASE_FLOW_RUN.near_end(run("success", "waiting", ""))
    assert not RELEASE_FLOW_RUN.near_end(run("success", "success", ""))
    assert not RELEASE_FLOW_RUN.near_end(run())


def test_a_run_without_an_id_is_found_in_a_list_that_comes_oldest_first(
    run: Runner, sim: Simulator
) -> None:
    sim.world.list_newest_first = False
    sim.world.template_plan = TemplatePlan(answer="empty")
    result = run(job_id="", workflow="demo-workflow")
    assert result.exit_code == 0, result.text
    assert result.outputs["template-run-id"] == sim.world.template_runs[-1].id
