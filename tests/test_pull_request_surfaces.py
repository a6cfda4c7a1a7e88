"""Issue 23: on the pull request itself, a GitHub Deployment with the environment's URL and
one comment updated in place; never in the way. The action in process against both
simulators (devtools/nfsim, devtools/ghsim.py)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import pytest

from conftest import Runner, invalid_input_errors
from ghsim import BOT, GitHubSim
from nfsim import Simulator
from nfsim.templates import TemplatePlan
from runneremu import StepResult
from testdata import SHA
from virtual_clock import VirtualClock

URL = "https://p01--pr-42-web--demo-project--sim.code.run"


@pytest.fixture
def gh() -> GitHubSim:
    return GitHubSim()


def event(action: str) -> dict[str, Any]:
    repo = {"full_name": "octo-org/octo-repo", "fork": False}
    head = {"ref": "feature", "sha": SHA, "repo": repo}
    return {"action": action, "number": 42,
            "pull_request": {"number": 42, "head": head, "base": {"repo": repo}}}  # fmt: skip


def step(run: Runner, gh: GitHubSim, action: str = "opened", **inputs: Any) -> StepResult:
    github = {"event_name": "pull_request", "api_url": gh.base, "server_url": "https://github.test",
              "token": "ghs-test-token-0123456789", "workflow": "preview", "job": "deploy"}  # fmt: skip
    options = {
        "event": event(action),
        "github": github,
        "github_sim": gh,
        **inputs.pop("options", {}),
    }
    inputs = {"job_id": "", "preview_blueprint": "demo-preview", **inputs}
    return run(github_deployment="pr-42", pr_comment="true", options=options, **inputs)  # fmt: skip


def warnings(result: StepResult) -> list[str]:
    return [a.message for a in result.annotations if a.kind == "warning"]


def test_opened_creates_a_deployment_and_a_comment(run: Runner, gh: GitHubSim) -> None:
    result = step(run, gh)
    assert result.exit_code == 0, result.text
    deployment = gh.deployments[0]
    assert deployment["sha"] == SHA, "the head commit, never the merge commit"
    assert deployment["environment"] == "pr-42"
    assert deployment["transient_environment"] is True
    states = [s["state"] for s in gh.statuses[deployment["id"]]]
    assert states == ["in_progress", "success"]
    success = gh.statuses[deployment["id"]][-1]
    assert success["environment_url"] == URL
    assert success["description"] == f"preview pr-42 success at {URL}", "what the step did"
    assert success["log_url"] == "https://github.test/octo-org/octo-repo/actions/runs/1/attempts/1"
    comments = gh.comments[42]
    assert len(comments) == 1
    assert comments[0]["body"].startswith("### preview / deploy")
    assert "<!-- northflank-build: " in comments[0]["body"]
    assert URL in comments[0]["body"]
    assert result.outputs["github-deployment-id"] == str(deployment["id"])
    assert result.outputs["comment-url"] == comments[0]["html_url"]
    assert result.outputs["environment-url"] == URL
    assert "ghs-test-token-0123456789" in result.secrets, "masked before anything is printed"
    assert "ghs-test-token-0123456789" not in result.text
    assert warnings(result) == []


def test_a_push_edits_the_same_comment_and_retires_the_older_deployment(
    run: Runner, gh: GitHubSim
) -> None:
    assert step(run, gh).exit_code == 0
    result = step(run, gh, action="synchronize")
    assert result.exit_code == 0, result.text
    assert len(gh.comments[42]) == 1, "edited in place"
    first, second = gh.deployments
    assert [s["state"] for s in gh.statuses[second["id"]]] == ["in_progress", "success"]
    assert gh.statuses[first["id"]][-1]["state"] == "inactive", "transient: the step retires it"


def test_closed_deletes_the_preview_says_so_and_retires_the_deployment(
    run: Runner, gh: GitHubSim, sim: Simulator
) -> None:
    assert step(run, gh).exit_code == 0
    result = step(run, gh, action="closed")
    assert result.exit_code == 0, result.text
    assert result.outputs["preview-deleted"] == "true"
    assert len(gh.deployments) == 1, "no deployment for a closed pull request"
    assert gh.statuses[gh.deployments[0]["id"]][-1]["state"] == "inactive"
    assert len(gh.comments[42]) == 1
    assert "was removed" in gh.comments[42][0]["body"]


def test_a_fork_s_read_only_token_gives_warnings_and_changes_nothing_else(
    run: Runner, gh: GitHubSim
) -> None:
    gh.forbidden = True
    result = step(run, gh)
    assert result.exit_code == 0, result.text
    assert result.outputs["preview-url"] == URL
    assert result.outputs["github-deployment-id"] == ""
    assert result.outputs["comment-url"] == ""
    said = warnings(result)
    assert len(said) == 2, said
    assert all("Resource not accessible by integration" in w for w in said)
    assert any("deployments: write" in w for w in said)
    assert any("pull-requests: write" in w for w in said)


def test_a_race_leaves_one_comment(run: Runner, gh: GitHubSim) -> None:
    assert step(run, gh).exit_code == 0
    marker = gh.comments[42][0]["body"].rsplit("\n", 2)[-2]
    gh.comments[42].clear()
    gh.racer = marker  # another run creates its comment while this one looks
    result = step(run, gh, action="synchronize")
    assert result.exit_code == 0, result.text
    assert len(gh.comments[42]) == 1, "the later ones deleted, the oldest kept"
    assert "preview / deploy" in gh.comments[42][0]["body"]


def test_the_marker_is_found_on_page_two(run: Runner, gh: GitHubSim) -> None:
    assert step(run, gh).exit_code == 0
    ours = gh.comments[42].pop()
    for n in range(120):
        gh.add_comment(42, f"review comment {n}")
    gh.comments[42].append(ours)
    result = step(run, gh, action="synchronize")
    assert result.exit_code == 0, result.text
    mine = [c for c in gh.comments[42] if c["user"] == BOT]
    assert len(mine) == 1, "updated, not created again"
    pages = [r for r in gh.requests if r.method == "GET" and r.url.path.endswith("/comments")]
    assert any("page=2" in str(r.url) for r in pages)


def test_a_comment_with_the_marker_by_someone_else_is_not_ours(run: Runner, gh: GitHubSim) -> None:
    assert step(run, gh).exit_code == 0
    marker = gh.comments[42][0]["body"].rsplit("\n", 2)[-2]
    gh.comments[42].clear()
    gh.add_comment(42, f"hijack\n{marker}")
    assert step(run, gh, action="synchronize").exit_code == 0
    assert [c["body"].startswith("hijack") for c in gh.comments[42]] == [True, False]


def test_ghes(run: Runner) -> None:
    gh = GitHubSim(base="https://ghes.test/api/v3")
    result = step(run, gh)
    assert result.exit_code == 0, result.text
    assert all(r.url.path.startswith("/api/v3/") for r in gh.requests)
    assert len(gh.deployments) == 1


def test_a_secondary_rate_limit_is_waited_out_within_a_small_budget(
    run: Runner, gh: GitHubSim
) -> None:
    gh.rate_limited = 1
    result = step(run, gh)
    assert result.exit_code == 0, result.text
    assert len(gh.deployments) == 1
    assert warnings(result) == []


def test_a_202_makes_no_deployment_and_a_warning(run: Runner, gh: GitHubSim) -> None:
    gh.accepted = 1
    result = step(run, gh)
    assert result.exit_code == 0, result.text
    assert result.outputs["github-deployment-id"] == ""
    assert any("no deployment was made" in w for w in warnings(result))


def test_a_failed_preview_posts_failure_with_a_short_plain_description(
    run: Runner, gh: GitHubSim, sim: Simulator
) -> None:
    sim.world.template_plan = TemplatePlan(fails="release")
    result = step(run, gh)
    assert result.exit_code == 1
    final = gh.statuses[gh.deployments[0]["id"]][-1]
    assert final["state"] == "failure"
    assert len(final["description"]) <= 140
    assert "@" not in final["description"]


def test_a_sweep_deletes_the_previews_of_closed_pull_requests_only(
    run: Runner, gh: GitHubSim, sim: Simulator
) -> None:
    for number in (1, 2, 3):
        opened = step(run, gh, options={"event": {**event("opened"), "number": number,
                      "pull_request": {**event("opened")["pull_request"], "number": number}}})  # fmt: skip
        assert opened.exit_code == 0, opened.text
    gh.pulls = {1: "closed", 2: "open"}  # GitHub knows nothing of #3
    github = {"event_name": "schedule", "api_url": gh.base, "token": "ghs-test-token-0123456789"}
    result = run(job_id="", preview_blueprint="demo-preview", preview_action="sweep",
                 options={"github": github, "github_sim": gh})  # fmt: skip
    assert result.exit_code == 0, result.text
    swept = json.loads(result.outputs["result"])["preview"]["swept"]
    assert swept == {"deleted": ["pr-1"], "kept": ["pr-2", "pr-3"]}
    assert [c.path.rsplit("/", 1)[-1] for c in sim.calls("preview_delete")] == ["pr-1"]
    assert "could not say whether its pull request is open" in result.text
    assert result.summary.startswith("### :white_check_mark: Northflank preview sweep succeeded")


def test_northflank_s_text_cannot_mention_link_or_close_the_marker(
    run: Runner, gh: GitHubSim, sim: Simulator
) -> None:
    from nfsim import BuildPlan

    hostile = "@octocat see [here](https://evil.example) ![x](https://evil.example/i.png) -->"
    sim.set_plan(BuildPlan(phases=(("BUILDING", 1.0),), outcome="FAILURE", message=hostile))
    result = step(run, gh, job_id="demo-job")
    assert result.exit_code == 1
    body = gh.comments[42][0]["body"]
    assert "https://evil.example" in body, "the text is shown"
    rendered = re.sub(r"`[^`]*`", "", body)  # code spans render as text: no link, no mention
    assert "evil.example" not in rendered
    assert "@octocat" not in rendered
    assert body.count("-->") == 1, "only the marker closes a comment"
    final = gh.statuses[gh.deployments[0]["id"]][-1]
    assert "@" not in final["description"]


def test_the_dry_run_shows_the_github_requests_and_sends_none(run: Runner, gh: GitHubSim) -> None:
    result = step(run, gh, dry_run="true")
    assert result.exit_code == 0, result.text
    assert gh.requests == []
    assert "/repos/octo-org/octo-repo/deployments" in result.text
    assert "/repos/octo-org/octo-repo/issues/42/comments" in result.text
    assert "ghs-test-token-0123456789" not in result.text


def test_the_deployment_s_payload_names_the_builds(
    run: Runner, gh: GitHubSim, sim: Simulator
) -> None:
    result = step(run, gh, job_id="demo-job")
    assert result.exit_code == 0, result.text
    commit = f"[`{SHA[:12]}`](https://github.test/octo-org/octo-repo/commit/{SHA})"
    assert commit in gh.comments[42][0]["body"], "the comment links the commit as the summary does"
    payload = gh.deployments[0]["payload"]["northflank"]
    build_id = sim.world.builds[0].id
    assert payload["builds"] == [{"job": "demo-job", "build-id": build_id}]
    assert payload["preview-blueprint"] == "demo-preview"


def _sent_after(gh: GitHubSim, count: int) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in gh.requests[count:]]


@pytest.mark.parametrize(
    ("options", "inputs", "code", "cause"),
    [
        ({"cancel_after": 5.0}, {}, 130, "cancelled"),
        ({}, {"timeout_seconds": "30"}, 4, "timed out"),
    ],
)
def test_after_a_cancel_or_a_timeout_the_post_step_tells_the_pull_request(
    run: Runner,
    gh: GitHubSim,
    sim: Simulator,
    options: dict[str, Any],
    inputs: dict[str, str],
    code: int,
    cause: str,
) -> None:
    sim.world.template_plan = TemplatePlan(node_s=300)
    result = step(run, gh, options=options, **inputs)
    assert result.exit_code == code, result.text
    deployment = gh.deployments[0]["id"]
    assert [s["state"] for s in gh.statuses[deployment]] == ["in_progress"]
    assert gh.comments.get(42, []) == [], "the main step sent nothing to GitHub after its end"
    assert "The post step will update the pull request's deployment and comment." in result.log
    assert result.outputs["github-deployment-id"] == str(deployment)
    before = len(gh.requests)
    post = step(run, gh, options={"stage": "post", "state": result.state, **options}, **inputs)
    assert post.exit_code == 0, post.text
    assert any(p.startswith("POST ") and p.endswith("/statuses") for p in _sent_after(gh, before))
    final = gh.statuses[deployment][-1]
    assert final["state"] == "error"
    assert cause in final["description"].lower()
    comments = gh.comments[42]
    assert len(comments) == 1
    assert cause in comments[0]["body"]
    assert warnings(post) == []


def test_the_post_step_trusts_nothing_in_the_state(run: Runner, gh: GitHubSim) -> None:
    forged = json.dumps({"state": "success", "deployment_id": "1/../../x",
                         "environment_url": "http://evil.test", "comment": "ok"})  # fmt: skip
    post = step(run, gh, options={"stage": "post", "state": {"github": forged}})
    assert post.exit_code == 0
    assert gh.requests == [], "a state that is not an ending sends nothing"
    odd = json.dumps({"state": "success", "deployment_id": 7, "environment_url": "http://e.test"})
    post = step(run, gh, options={"stage": "post", "state": {"github": odd}})
    assert post.exit_code == 0
    sent = [r for r in gh.requests if r.method == "POST"]
    assert [r.url.path for r in sent] == ["/repos/octo-org/octo-repo/deployments/7/statuses"]
    assert "environment_url" not in json.loads(sent[0].content), "https only"


def test_a_deployment_needs_the_step_to_wait(run: Runner, gh: GitHubSim, sim: Simulator) -> None:
    result = step(run, gh, job_id="demo-job", wait="false")
    assert result.exit_code == 2, result.text
    assert invalid_input_errors(result, "github-deployment") == [
        "github-deployment: cannot be combined with wait: false: the deployment's status says "
        "how the work ended, which a step that does not wait never learns."
    ]
    assert gh.requests == []
    assert sim.requests == []


def test_a_github_that_does_not_answer_costs_two_requests_and_changes_nothing(
    run: Runner, gh: GitHubSim
) -> None:
    asked: list[httpx.Request] = []

    def silent(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        raise httpx.ConnectTimeout("no answer", request=request)

    result = step(run, gh, options={"github_sim": silent})
    assert result.exit_code == 0, result.text
    assert result.outputs["preview-url"] == URL
    assert len(asked) == 2, "the deployment's create, tried twice; then GitHub is left alone"
    assert [w.split(" (")[0] for w in warnings(result)] == [
        "Could not create the deployment",
        "Could not list the pull request's comments",
    ]


def test_a_step_killed_after_its_deployment_leaves_the_post_step_an_error_to_post(
    run: Runner, gh: GitHubSim, sim: Simulator
) -> None:
    from nfsim import Fault
    from runneremu.filecommands import parse_file_command

    seen: dict[str, str] = {}

    def peek(request: Any) -> None:  # the moment the preview's run is asked for
        with open(os.environ["GITHUB_STATE"], encoding="utf-8") as state:
            seen.update(parse_file_command(state.read()))

    sim.add_fault(Fault(route="tpl_start", action="respond", respond=peek))
    result = step(run, gh)
    assert result.exit_code == 0, result.text
    assert json.loads(seen["github"])["state"] == "error", "saved before the work starts"
    assert result.state["github"] == "", "told at the end: nothing left for the post step"
    # Had the runner killed the step there, the post step would post the error.
    post = step(run, gh, options={"stage": "post", "state": {"github": seen["github"]}})
    assert post.exit_code == 0
    final = gh.statuses[gh.deployments[0]["id"]][-1]
    assert final["state"] == "error"
    assert final["description"] == "The step was stopped before it could say how the work ended."


def test_a_success_with_little_time_left_is_told_by_the_post_step(
    run: Runner, gh: GitHubSim
) -> None:
    result = step(run, gh, timeout_seconds="12")
    assert result.exit_code == 0, result.text
    deployment = gh.deployments[0]["id"]
    assert [s["state"] for s in gh.statuses[deployment]] == ["in_progress"]
    assert result.outputs["environment-url"] == URL
    post = step(run, gh, options={"stage": "post", "state": result.state}, timeout_seconds="12")
    assert post.exit_code == 0, post.text
    final = gh.statuses[deployment][-1]
    assert (final["state"], final.get("environment_url")) == ("success", URL)
    assert len(gh.comments[42]) == 1


def test_each_push_retires_the_live_deployment_once_not_every_older_one_again(
    run: Runner, gh: GitHubSim
) -> None:
    for action in ("opened", "synchronize", "synchronize"):
        assert step(run, gh, action=action).exit_code == 0
    before = len(gh.requests)
    assert step(run, gh, action="synchronize").exit_code == 0
    retiring = [
        f"{r.method} {r.url.path.rsplit('/', 1)[-1]}"
        for r in gh.requests[before:]
        if "/deployments" in r.url.path
    ]
    # Create, in_progress, success; then the list, the previous one's statuses read and
    # retired, the one before it read (inactive already): the walk stops there.
    assert retiring == ["POST deployments", "POST statuses", "POST statuses",
                        "GET deployments", "GET statuses", "POST statuses", "GET statuses"]  # fmt: skip
    states = [[s["state"] for s in gh.statuses[d["id"]]] for d in gh.deployments]
    assert states == [["in_progress", "success", "inactive"]] * 3 + [["in_progress", "success"]]
    closed = step(run, gh, action="closed")
    assert closed.exit_code == 0, closed.text
    assert [gh.statuses[d["id"]][-1]["state"] for d in gh.deployments] == ["inactive"] * 4
    assert [s["state"] for s in gh.statuses[gh.deployments[0]["id"]]].count("inactive") == 1


def test_a_cancel_while_github_is_asked_cuts_it_short_and_the_abort_comes_first(
    run: Runner, gh: GitHubSim, sim: Simulator, clock: VirtualClock
) -> None:
    sim.world.template_plan = TemplatePlan(node_s=300)
    after_cancel: list[str] = []

    def slow_github(request: httpx.Request) -> httpx.Response:
        if clock.cancel.cancelled:
            after_cancel.append(f"{request.method} {request.url.path}")
        answer = gh(request)
        if request.method == "POST" and request.url.path.endswith("/deployments"):
            clock.cancel.cancel("SIGINT")  # the signal arrives while GitHub is answering
        return answer

    result = step(run, gh, job_id="demo-job", options={"github_sim": slow_github})
    assert result.exit_code == 130, result.text
    assert after_cancel == [], "nothing more waits on GitHub once the step is cancelled"
    assert len(sim.calls("abort")) == 1, "the build is aborted"
    assert warnings(result) == [], "a cancel is not GitHub's trouble"
    assert "The post step will update the pull request's deployment and comment." in result.log


def test_the_dry_run_prints_the_deployment_body_that_would_be_sent_and_none_on_a_close(
    run: Runner, gh: GitHubSim
) -> None:
    opened = step(run, gh, dry_run="true")
    assert '"production_environment": false' in opened.text, "the whole body, as begin sends it"
    closed = step(run, gh, action="closed", dry_run="true")
    assert closed.exit_code == 0, closed.text
    assert "/repos/octo-org/octo-repo/deployments" not in closed.text, "a close makes none"
    assert gh.requests == []
