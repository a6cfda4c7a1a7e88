"""Builds that already exist (build-id, reuse) and several targets in one step, through the
whole action as the runner runs it (in process, virtual time, the simulator)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import states
from conftest import QUICK, Runner, invalid_input_errors
from nfsim import BuildPlan, Simulator
from testdata import OTHER_SHA, SHA

GITHUB_SHA = SHA  # the runner emulator's
SLOW = BuildPlan(phases=(("PENDING", 1.0), ("BUILDING", 20.0)))
FAILING = BuildPlan(phases=(("PENDING", 0.2), ("BUILDING", 0.6)), outcome="FAILURE")


def result_of(outputs: dict[str, str]) -> dict[str, Any]:
    value = json.loads(outputs["result"])
    assert isinstance(value, dict)
    return value


def seed(sim: Simulator, sha: str, *, ago: float, plan: BuildPlan, job: str = "demo-job") -> str:
    return sim.world.add_build("demo-project", "job", job, sha, started_ago_s=ago, plan=plan).id


def jobs(sim: Simulator, *names: str) -> str:
    sim.world.projects["demo-project"].update(names)
    return "\n".join(names)


# -- reuse -------------------------------------------------------------------------------


def test_reuse_succeeded_uses_a_success_build_of_the_sha_and_starts_nothing(
    run: Runner, sim: Simulator
) -> None:
    seed(sim, OTHER_SHA, ago=100, plan=QUICK)  # another commit: not this one
    reused = seed(sim, GITHUB_SHA, ago=60, plan=QUICK)
    result = run(reuse="succeeded")
    assert result.exit_code == 0, result.text
    assert sim.calls("start") == []
    assert sim.calls("abort") == []
    out = result.outputs
    assert (out["build-id"], out["status"], out["success"]) == (reused, "SUCCESS", "true")
    assert out["reused"] == "true"
    assert out["sha"] == GITHUB_SHA
    assert out["registry-uri"].endswith(f":{reused}")
    entry = result_of(out)["builds"][0]
    assert entry["build-id"] == reused
    assert entry["reused"] is True
    assert entry["success"] is True
    assert states.records(result.state) == [], "a reused build is never the post step's to abort"


def test_reuse_any_waits_on_a_running_build_of_the_sha(run: Runner, sim: Simulator) -> None:
    running = seed(sim, GITHUB_SHA, ago=2, plan=SLOW)
    result = run(reuse="any")
    assert result.exit_code == 0, result.text
    assert sim.calls("start") == []
    assert len(sim.calls("get")) >= 1, "it was waited on"
    out = result.outputs
    assert (out["build-id"], out["status"], out["reused"]) == (running, "SUCCESS", "true")
    assert "this step did not start it" in result.text


def test_reuse_succeeded_does_not_take_a_build_still_running(run: Runner, sim: Simulator) -> None:
    seed(sim, GITHUB_SHA, ago=2, plan=SLOW)
    result = run(reuse="succeeded")
    assert result.exit_code == 0, result.text
    assert len(sim.calls("start")) == 1
    assert result.outputs["reused"] == "false"


@pytest.mark.parametrize("reuse", ["succeeded", "any"])
def test_a_failed_build_of_the_sha_is_never_reused(run: Runner, sim: Simulator, reuse: str) -> None:
    failed = seed(sim, GITHUB_SHA, ago=60, plan=FAILING)
    result = run(reuse=reuse)
    assert result.exit_code == 0, result.text
    starts = sim.calls("start")
    assert len(starts) == 1
    assert starts[0].body["sha"] == GITHUB_SHA
    out = result.outputs
    assert out["build-id"] != failed
    assert out["reused"] == "false"
    assert result_of(out)["builds"][0]["reused"] is False


def test_reuse_follows_the_cursor_when_the_list_comes_oldest_first(
    run: Runner, sim: Simulator
) -> None:
    sim.world.list_newest_first = False
    sim.world.add_history("demo-project", "job", "demo-job", [30.0] * 130, gap_s=60)
    wanted = seed(sim, GITHUB_SHA, ago=5, plan=QUICK)  # the newest: on the second page
    result = run(reuse="succeeded")
    assert result.exit_code == 0, result.text
    assert sim.calls("start") == []
    assert result.outputs["build-id"] == wanted
    assert len(sim.calls("list")) >= 2


def test_dry_run_says_per_target_whether_it_would_reuse_and_sends_no_write(
    run: Runner, sim: Simulator
) -> None:
    names = jobs(sim, "job-a", "job-b")
    reused = seed(sim, GITHUB_SHA, ago=60, plan=QUICK, job="job-a")
    result = run(job_id=names, reuse="succeeded", dry_run="true")
    assert result.exit_code == 0, result.text
    assert {r.method for r in sim.requests} == {"GET"}, "reads only"
    assert f"would reuse build {reused} of job 'job-a'" in result.text
    assert f"no build of job 'job-b' at {GITHUB_SHA} to reuse" in result.text
    assert "/jobs/job-b/build with this body" in result.text  # job-b would start
    assert "/jobs/job-a/build with this body" not in result.text


# -- build-id ------------------------------------------------------------------------------


def test_build_id_waits_on_that_build_and_a_cancel_never_aborts_it(
    run: Runner, sim: Simulator
) -> None:
    running = seed(sim, OTHER_SHA, ago=1, plan=SLOW)
    result = run(build_id=running, options={"cancel_after": 3.0})
    assert result.exit_code == 130, result.text
    assert sim.calls("start") == []
    assert sim.calls("abort") == []
    assert result.outputs["build-id"] == running
    assert result.outputs["reused"] == "true"
    entry = result_of(result.outputs)["builds"][0]
    assert entry["build-id"] == running
    assert entry["concluded"] is False
    # Nor does the post step: nothing of it is in the state.
    post = run(build_id=running, options={"stage": "post", "state": result.state})
    assert post.exit_code == 0
    assert sim.calls("abort") == []


def test_build_id_of_a_concluded_build_reports_it_without_waiting(
    run: Runner, sim: Simulator
) -> None:
    failed = seed(sim, OTHER_SHA, ago=60, plan=FAILING)
    result = run(build_id=failed)
    assert result.exit_code == 1
    assert [r.route for r in sim.requests] == ["get", "logs_tail"], "no forecast, no wait"
    assert result.outputs["status"] == "FAILURE"
    assert result.outputs["reused"] == "true"
    assert result.errors()[0].properties.get("title")
    assert "  | ==> failure" in result.log, "its log is shown"
    assert "Last 4 lines of the build log" in result.summary


# -- several targets -------------------------------------------------------------------------


def test_three_jobs_at_once_one_fails(run: Runner, sim: Simulator) -> None:
    names = jobs(sim, "job-a", "job-b", "job-c")
    sim.world.plans["job-b"] = FAILING
    result = run(job_id="job-a, job-b\njob-c")
    assert result.exit_code == 1, result.text
    starts = sim.calls("start")
    assert [s.path.split("/")[-2] for s in starts] == ["job-a", "job-b", "job-c"]
    assert len({s.body["sha"] for s in starts}) == 1
    out = result.outputs
    assert (out["success"], out["concluded"], out["status"]) == ("false", "true", "FAILURE")
    assert out["build-id"] == "", "per-build outputs: read result"
    assert out["registry-uri"] == "", "per-build outputs: read result"
    whole = result_of(out)
    assert whole["success"] is False
    built = {b.resource: b for b in sim.world.builds}
    assert [b["target-id"] for b in whole["builds"]] == names.split("\n")
    for entry in whole["builds"]:
        build = built[entry["target-id"]]
        assert entry["build-id"] == build.id
        assert entry["kind"] == "job"
        failed = entry["target-id"] == "job-b"
        assert entry["status"] == ("FAILURE" if failed else "SUCCESS")
        assert entry["success"] is not failed
        assert entry["concluded"] is True
        assert entry["reused"] is False
        assert entry["sha"] == GITHUB_SHA
        assert isinstance(entry["duration-seconds"], int)
        assert entry["build-url"].endswith(f"/jobs/{entry['target-id']}/builds/{build.id}")
    # The log: status lines by target, each build's log in its own group, one error.
    assert any(line.startswith("[job-b] [") and "FAILURE" in line for line in result.log)
    groups = [line for line in result.log if line.startswith("##[group]")]
    assert len(groups) == 3
    assert all("build log" in g for g in groups)
    assert result.log.count("##[endgroup]") == 3
    errors = result.errors()
    assert len(errors) == 1
    assert "job-b" in errors[0].message
    # The summary: a row per target, then the failure of job-b.
    for name in ("job-a", "job-b", "job-c"):
        assert f"job '{name}'" in result.summary
    assert result.summary.count("| job ") == 3
    # All concluded: nothing is left for the post step (each was recorded as it started:
    # tests/test_github_edge.py).
    assert states.records(result.state) == []


def test_three_targets_and_a_cancel_abort_all_three(run: Runner, sim: Simulator) -> None:
    names = jobs(sim, "job-a", "job-b", "job-c")
    sim.set_plan(SLOW)
    result = run(job_id=names, options={"cancel_after": 3.0})
    assert result.exit_code == 130, result.text
    aborted = sorted(r.path.split("/")[-3] for r in sim.calls("abort"))
    assert aborted == ["job-a", "job-b", "job-c"]
    assert all(b.aborted_mono is not None for b in sim.world.builds)
    assert all(entry["status"] == "ABORTED" or not entry["concluded"]
               for entry in result_of(result.outputs)["builds"])  # fmt: skip
    assert states.records(result.state) == []


def test_a_timeout_aborts_only_the_builds_this_step_started(run: Runner, sim: Simulator) -> None:
    # reuse: any with two targets: job-a's running build is awaited, job-b's is started.
    names = jobs(sim, "job-a", "job-b")
    sim.set_plan(BuildPlan(phases=(("BUILDING", 600.0),)))
    theirs = seed(sim, GITHUB_SHA, ago=1, plan=sim.world.plan, job="job-a")
    result = run(job_id=names, reuse="any", timeout_seconds="20")
    assert result.exit_code == 4, result.text
    assert [r.path.split("/")[-3] for r in sim.calls("abort")] == ["job-b"]
    assert sim.world.find("demo-project", "job-a", theirs).aborted_mono is None  # type: ignore[union-attr]
    assert result.outputs["reused"] == "false", "true only if every build was reused"
    words = " ".join(e.message for e in result.errors())
    assert "of job 'job-a'" in words
    assert "this step did not start it" in words


def test_a_real_sigint_aborts_every_build_of_the_step(
    run_process: Runner, live_sim: Simulator
) -> None:
    # Runner contract: the real process, SIGINT, file commands read the runner's way.
    names = jobs(live_sim, "job-a", "job-b", "job-c")
    live_sim.set_plan(BuildPlan(phases=(("PENDING", 0.5), ("BUILDING", 60.0))))
    result = run_process(job_id=names, options={"cancel_after": 3.0})
    assert (result.exit_code, result.conclusion) == (130, "cancelled"), result.text
    aborted = sorted(r.path.split("/")[-3] for r in live_sim.calls("abort"))
    assert aborted == ["job-a", "job-b", "job-c"]
    assert [b["target-id"] for b in result_of(result.outputs)["builds"]] == names.split("\n")
    assert "Traceback" not in result.text


def test_the_post_step_aborts_each_build_the_main_step_left(run: Runner, sim: Simulator) -> None:
    names = jobs(sim, "job-a", "job-b")
    sim.set_plan(SLOW)
    ids = [sim.world.start("demo-project", None, "job", n, {}).id for n in ("job-a", "job-b")]
    state = states.state(states.build(ids[0], "job:job-a"), states.build(ids[1], "job:job-b"))
    post = run(job_id=names, options={"stage": "post", "state": state})
    assert post.exit_code == 0
    assert sorted(r.path.split("/")[-1] for r in sim.calls("abort")) == sorted(ids)


# -- input errors: nothing sent, the message names the input -----------------------------


@pytest.mark.parametrize(
    ("inputs", "name", "words"),
    [
        ({"build_id": "joyous-view-6290", "sha": OTHER_SHA}, "sha", "build-id"),
        ({"build_id": "joyous-view-6290", "build_arguments": "A=1"}, "build-arguments", "build-id"),
        ({"build_id": "joyous-view-6290", "reuse": "any"}, "reuse", "build-id"),
        ({"build_id": "joyous-view-6290", "job_id": "a,b"}, "build-id", "one target"),
        ({"build_id": "../../x"}, "build-id", "not a Northflank build id"),
        ({"reuse": "always"}, "reuse", "never, succeeded, any"),
        ({"reuse": "any", "sha": ""}, "reuse", "needs a sha"),
        ({"reuse": "succeeded", "dockerfile_target": "prod"}, "dockerfile-target", "reuse"),
        ({"job_id": "a\nb\na"}, "job-id", "twice"),
        ({"job_id": "a, B"}, "job-id", "not a Northflank id"),
        ({"job_id": ",".join(f"j{n}" for n in range(21))}, "job-id", "at most 20"),
        (
            {"job_id": "", "service_id": "a,b", "service_spec": "name: a\n"},
            "service-spec",
            "one target",
        ),
    ],
)
def test_input_errors_send_nothing_and_name_the_input(
    run: Runner, sim: Simulator, inputs: dict[str, str], name: str, words: str
) -> None:
    result = run(**inputs)
    assert result.exit_code == 2
    assert sim.requests == []
    assert any(words in message for message in invalid_input_errors(result, name)), result.text
    assert result_of(result.outputs) == {
        "success": False,
        "builds": [],
        "deployments": [],
        "job-run": None,
        "template-run": None,
        "preview": None,
    }
    assert "Traceback" not in result.text


def test_build_id_with_the_default_sha_is_not_a_clash(run: Runner, sim: Simulator) -> None:
    done = seed(sim, OTHER_SHA, ago=60, plan=QUICK)
    result = run(build_id=done, sha=GITHUB_SHA)  # the value action.yml's default gives
    assert result.exit_code == 0, result.text
    assert result.outputs["sha"] == OTHER_SHA, "the build's own commit"


def test_a_missing_job_among_three_fails_the_step_and_the_others_still_build(
    run: Runner, sim: Simulator
) -> None:
    jobs(sim, "job-a", "job-c")
    result = run(job_id="job-a,job-missing,job-c")
    assert result.exit_code == 3, result.text
    entries = result_of(result.outputs)["builds"]
    assert [e["target-id"] for e in entries] == ["job-a", "job-missing", "job-c"]
    assert [e["status"] for e in entries] == ["SUCCESS", "", "SUCCESS"]
    assert entries[1]["build-id"] == ""
    assert entries[1]["success"] is False
    errors = result.errors()
    assert len(errors) == 1
    assert "job-missing" in errors[0].message


def test_several_targets_without_waiting(run: Runner, sim: Simulator) -> None:
    names = jobs(sim, "job-a", "job-b")
    result = run(job_id=names, wait="false")
    assert result.exit_code == 0, result.text
    assert len(sim.calls("start")) == 2
    assert sim.calls("get") == []
    entries = result_of(result.outputs)["builds"]
    assert all(e["build-id"] and e["concluded"] is False for e in entries)
    assert result.outputs["success"] == "false", "not waited for: not known to have succeeded"


def test_the_aborts_of_several_builds_go_out_together(
    run_process: Runner, live_sim: Simulator
) -> None:
    # Runner contract: each DELETE is answered 2 s late; sent one after another, the third
    # would leave 4 s after the cancel, and a slower server would push it past the runner's
    # kill. All three must reach Northflank within a moment of the cancel.
    from nfsim import Fault

    names = jobs(live_sim, "job-a", "job-b", "job-c")
    live_sim.set_plan(BuildPlan(phases=(("PENDING", 0.5), ("BUILDING", 60.0))))
    live_sim.add_fault(Fault(route="abort", action="delay", seconds=2.0, times=3))
    result = run_process(job_id=names, options={"cancel_after": 3.0})
    assert result.exit_code == 130, result.text
    received = sorted(r.at for r in live_sim.calls("abort"))
    assert len(received) == 3
    assert received[-1] - received[0] < 1.0, received
    assert result.text.count("Aborted build") == 3


def test_on_a_pull_request_the_default_sha_is_its_head_and_not_a_clash(
    run: Runner, sim: Simulator
) -> None:
    head = "0123456789abcdef0123456789abcdef0123abcd"
    done = seed(sim, OTHER_SHA, ago=60, plan=QUICK)
    event = {"pull_request": {"head": {"sha": head}}}
    result = run(build_id=done, sha=None, options={"event": event})  # action.yml's default
    assert result.exit_code == 0, result.text
    # The merge commit (GITHUB_SHA) written as sha: on a pull request, that is a given sha.
    clash = run(build_id=done, sha=GITHUB_SHA, options={"event": event})
    assert clash.exit_code == 2
    assert any("build-id" in m for m in invalid_input_errors(clash, "sha")), clash.text


def test_a_dry_run_that_would_reuse_a_succeeded_build_says_so_in_every_output(
    run: Runner, sim: Simulator
) -> None:
    # Issue 20, item 6: one rule (nothing that changes anything is sent), and outputs that
    # agree with each other.
    reused = seed(sim, GITHUB_SHA, ago=60, plan=QUICK)
    result = run(reuse="succeeded", dry_run="true")
    assert result.exit_code == 0, result.text
    assert {r.method for r in sim.requests} == {"GET"}
    out = result.outputs
    assert (out["build-id"], out["status"], out["success"], out["concluded"]) == (
        reused,
        "SUCCESS",
        "true",
        "true",
    )
    assert "would poll" not in result.text
