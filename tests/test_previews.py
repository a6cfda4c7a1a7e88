"""Issue 22: a preview environment per pull request, up on open and push with its URL as an
output, torn down on close. The action in process and in virtual time against the
simulator's preview blueprint (devtools/nfsim/previews.py), driven by pull-request events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Runner, invalid_input_errors
from nfsim import Fault, Simulator
from nfsim.previews import SECRET_PASSWORD
from nfsim.templates import TemplatePlan
from runneremu import StepResult
from testdata import SHA

URL = "https://p01--pr-42-web--demo-project--sim.code.run"


def pull_request(action: str, number: int = 42, fork: bool = False) -> dict[str, Any]:
    head_repo = {"full_name": "someone/app" if fork else "octo/app", "fork": fork}
    return {
        "event": {
            "action": action,
            "number": number,
            "pull_request": {
                "number": number,
                "head": {"ref": "feature", "sha": SHA, "repo": head_repo},
                "base": {"repo": {"full_name": "octo/app"}},
            },
        },
        "github": {"event_name": "pull_request"},
    }


def preview(result: StepResult) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(result.outputs["result"])["preview"]
    return entry


def deploy(run: Runner, action: str = "opened", **inputs: Any) -> StepResult:
    options = {**pull_request(action), **inputs.pop("options", {})}
    inputs = {"job_id": "", **inputs}
    return run(preview_blueprint="demo-preview", options=options, **inputs)


def test_a_pull_request_opened_gets_a_preview_and_its_url(run: Runner, sim: Simulator) -> None:
    result = deploy(run, preview_git_trigger="git", preview_arguments="SIZE=small")
    assert result.exit_code == 0, result.text
    body = sim.calls("tpl_start")[0].body
    assert body["name"] == "pr-42", "pr-<number> by default"
    assert body["triggers"] == {"git": {"branch": "feature", "sha": SHA, "pullRequestId": 42}}
    assert body["arguments"] == {"SIZE": "small"}
    assert "octo-org/octo-repo run" in body["description"]
    assert result.outputs["preview-id"] == "pr-42"
    assert result.outputs["preview-url"] == URL
    assert result.outputs["preview-run-id"] == sim.world.template_runs[0].id
    assert result.outputs["preview-deleted"] == "false"
    entry = preview(result)
    assert entry["blueprint-id"] == "demo-preview"
    assert entry["urls"] == {"pr-42-web": [URL]}
    assert entry["success"] is True
    assert f"Preview URL: [`{URL}`]({URL})" in result.summary
    assert SECRET_PASSWORD not in result.raw_stdout, "GET service's credentials never printed"
    assert SECRET_PASSWORD not in result.summary


def test_a_push_aborts_the_older_run_of_the_same_preview_only(run: Runner, sim: Simulator) -> None:
    sim.world.template_plan = TemplatePlan(node_s=300)
    first = deploy(run, options={"cancel_after": 1.0}, abort_on_cancel="false")
    assert first.exit_code == 130
    other = sim.world.template_runs[0]
    other.body = {**other.body, "name": "pr-7"}  # another pull request's run, still running
    older = deploy(run, options={"cancel_after": 1.0}, abort_on_cancel="false")
    assert older.exit_code == 130
    sim.world.template_plan = TemplatePlan()
    sim.requests.clear()
    result = deploy(run, action="synchronize")
    assert result.exit_code == 0, result.text
    aborted = [c.path.split("/")[-2] for c in sim.calls("tpl_abort")]
    assert aborted == [sim.world.template_runs[1].id], "pr-42's older run only, not pr-7's"
    assert sim.world.template_runs[0].aborted_mono is None
    order = [r.route for r in sim.requests]
    assert order.index("tpl_abort") < order.index("tpl_start"), "before the new run"


def test_a_closed_pull_request_deletes_the_preview_and_waits_until_it_is_gone(
    run: Runner, sim: Simulator
) -> None:
    assert deploy(run).exit_code == 0
    sim.requests.clear()
    result = deploy(run, action="closed")
    assert result.exit_code == 0, result.text
    assert len(sim.calls("preview_delete")) == 1
    assert sim.calls("preview_delete")[0].path.endswith(
        "/preview-blueprints/demo-preview/previews/pr-42"
    )
    assert sim.calls("tpl_start") == [], "nothing is deployed for a closed pull request"
    assert result.outputs["preview-deleted"] == "true"
    assert result.outputs["preview-url"] == ""
    assert "Preview 'pr-42' deleted." in result.log
    lists = sim.calls("previews_list")
    assert len(lists) >= 2, "listed until it is gone"
    assert preview(result)["deleted"] is True
    assert result.summary.startswith("### :white_check_mark: Northflank preview deletion succeeded")


def test_closing_twice_or_without_a_preview_is_success_with_a_notice(
    run: Runner, sim: Simulator
) -> None:
    result = deploy(run, action="closed")
    assert result.exit_code == 0, result.text
    assert result.outputs["preview-deleted"] == "false"
    assert "There is no preview 'pr-42'" in result.text
    assert sim.calls("preview_delete") == []


def test_a_failed_node_fails_the_step(run: Runner, sim: Simulator) -> None:
    sim.world.template_plan = TemplatePlan(fails="release")
    result = deploy(run)
    assert result.exit_code == 1, result.text
    assert "demo-web: exited with code 1" in " ".join(a.message for a in result.errors())
    assert result.outputs["preview-url"] == ""


def test_a_lost_post_answer_is_found_by_its_name_and_time(run: Runner, sim: Simulator) -> None:
    sim.add_fault(Fault(route="tpl_start", action="drop_after"))
    result = deploy(run)
    assert result.exit_code == 0, result.text
    assert len(sim.calls("tpl_start")) == 1, "never resent"
    assert result.outputs["preview-run-id"] == sim.world.template_runs[-1].id
    assert result.outputs["preview-url"] == URL


def test_dns_that_never_appears_ends_at_the_deadline_not_a_hang(
    run: Runner, sim: Simulator
) -> None:
    sim.world.previews.dns_after_s = None
    result = deploy(run, timeout_seconds="60")
    assert result.exit_code == 4, result.text
    assert result.outputs["preview-url"] == ""
    assert "preview URL" in " ".join(a.properties.get("title", "") for a in result.errors())
    gets = [c for c in sim.calls("service_get") if c.path.endswith("/pr-42-web")]
    assert len(gets) > 5, "checked until the deadline"


def test_a_service_list_over_several_pages(run: Runner, sim: Simulator) -> None:
    sim.world.previews.page_cap = 2
    sim.world.previews.unrelated = 7
    result = deploy(run)
    assert result.exit_code == 0, result.text
    assert len(sim.calls("services_list")) >= 5
    assert result.outputs["preview-url"] == URL


def test_preview_service_picks_the_url_and_none_is_not_an_error(
    run: Runner, sim: Simulator
) -> None:
    result = deploy(run, preview_service="pr-42-worker")
    assert result.exit_code == 0, result.text
    assert result.outputs["preview-url"] == "", "the worker has no public HTTP port"
    assert "has no service with a public HTTP port named 'pr-42-worker'" in result.text


def test_a_cancel_aborts_the_run_and_leaves_the_preview(run: Runner, sim: Simulator) -> None:
    sim.world.template_plan = TemplatePlan(node_s=300)
    result = deploy(run, options={"cancel_after": 5.0})
    assert result.exit_code == 130, result.text
    assert len(sim.calls("tpl_abort")) == 1
    assert sim.calls("preview_delete") == []


def test_the_post_step_aborts_a_run_left_running(run: Runner, sim: Simulator) -> None:
    sim.world.template_plan = TemplatePlan(node_s=300)
    sim.add_fault(Fault(route="tpl_abort", status=503, times=1))
    result = deploy(run, options={"cancel_after": 5.0})
    assert result.exit_code == 130
    options = {**pull_request("opened"), "stage": "post", "state": result.state}
    post = run(job_id="", preview_blueprint="demo-preview", options=options)
    assert post.exit_code == 0
    assert len(sim.calls("tpl_abort")) == 2
    assert sim.world.template_runs[0].aborted_mono is not None


def test_team_routes(run: Runner, sim: Simulator) -> None:
    result = deploy(run, team_id="demo-team")
    assert result.exit_code == 0, result.text
    assert sim.calls("tpl_start")[0].path.startswith("/v1/teams/demo-team/projects/demo-project/")
    assert (
        sim.calls("services_list")[0].path == "/v1/teams/demo-team/projects/demo-project/services"
    )


def test_the_dry_run_sends_nothing(run: Runner, sim: Simulator) -> None:
    result = deploy(run, dry_run="true", api_token="")
    assert result.exit_code == 0, result.text
    assert sim.requests == []
    assert "/preview-blueprints/demo-preview/runs" in result.text


def test_a_fork_without_secrets_is_told_what_to_do(run: Runner, sim: Simulator) -> None:
    options = pull_request("opened", fork=True)
    result = run(job_id="", preview_blueprint="demo-preview", api_token="", options=options)
    assert result.exit_code == 2
    assert sim.requests == []
    message = " ".join(invalid_input_errors(result, "api-token"))
    assert "comes from a fork" in message
    assert "pull_request_target" in message
    assert "workflow_run" in message


@pytest.mark.parametrize(
    ("inputs", "name", "words"),
    [
        ({"preview_blueprint": "demo-preview", "preview_name": ""}, "preview-name", "required"),
        (
            {"preview_blueprint": "demo-preview", "preview_name": "PR_42"},
            "preview-name",
            "not a run name",
        ),
        ({"preview_service": "web"}, "preview-service", "applies to preview-blueprint"),
        (
            {
                "preview_blueprint": "demo-preview",
                "preview_name": "pr-1",
                "preview_action": "later",
            },
            "preview-action",
            "not one of",
        ),
    ],
)
def test_preview_input_errors_send_nothing(
    run: Runner, sim: Simulator, inputs: dict[str, str], name: str, words: str
) -> None:
    result = run(job_id="", **inputs)
    assert result.exit_code == 2, result.text
    assert sim.requests == []
    assert any(words in m for m in invalid_input_errors(result, name)), result.text


def test_a_preview_after_builds_needs_the_step_to_wait(run: Runner, sim: Simulator) -> None:
    result = deploy(run, job_id="demo-job", wait="false")
    assert result.exit_code == 2, result.text
    assert invalid_input_errors(result, "preview-blueprint") == [
        "preview-blueprint: cannot be combined with wait: false when the step builds: it "
        "starts once the builds have concluded."
    ]
    assert sim.requests == []
