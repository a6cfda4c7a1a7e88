"""Issue 18: only what is provably ours, no orphaned run, no internal error from an odd
answer. One section per cause, each test named after its cause (cause 1, every endpoint and
socket fed odd answers, is tests/test_odd_answers.py). In process and in virtual time
(tests/inproc.py); the "Under hostile conditions" table of docs/faults.md names these tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import states
from conftest import QUICK, Runner
from inproc import FakeNorthflank, Handler, Step, default_inputs, iso, respond, run_step
from nfsim import Fault, Simulator
from nfsim.deploys import RunPlan
from nfsim.inprocess import SimTransport
from northflank_build.api.client import NorthflankClient
from northflank_build.api.routes import BuildTarget
from northflank_build.engine.cancel import CancelScope
from testdata import SHA, TOKEN
from virtual_clock import VirtualClock

LOOPBACK = "http://127.0.0.1:9"  # nothing listens: the log socket is refused at once
STATE = states.state(states.build("build-1"))


def fake(duration: float = 600.0) -> tuple[VirtualClock, FakeNorthflank]:
    clock = VirtualClock(CancelScope())
    return clock, FakeNorthflank(clock, duration)


def inputs(**overrides: str | None) -> dict[str, str]:
    return default_inputs(**{"api_url": LOOPBACK, **overrides})


def no_traceback(step: Step) -> None:
    assert b"Traceback" not in step.raw


@contextmanager
def simulated() -> Iterator[tuple[VirtualClock, Simulator]]:
    """A step's clock and the simulator on it, for tests that wrap its transport."""
    clock = VirtualClock(CancelScope())
    sim = Simulator(plan=QUICK, clock=clock)
    try:
        yield clock, sim
    finally:
        sim.stop()


def deploy_inputs(**extra: str) -> dict[str, str]:
    """A service build deployed to demo-web."""
    return inputs(job_id=None, service_id="demo-service", branch="main",
                  deploy_services="demo-web", **extra)  # fmt: skip


# -- cause 2: the post step never fails the job ---------------------------------------------


def _post(tmp: Path, nf: FakeNorthflank, clock: VirtualClock, state: dict[str, str]) -> Step:
    return run_step(tmp, nf, inputs=inputs(), state=state, post=True, clock=clock)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda r: httpx.Response(200, content=b'{"data": 5}'), id="corrupt status"),
        pytest.param(
            lambda r: respond({"id": "build-1", "status": "BUILDING"}, headers={"date": "x" * 50}),
            id="corrupt Date",
        ),
    ],
)
def test_cause2_the_post_step_aborts_whatever_the_status_read_answers(
    tmp_path: Path, answer: object
) -> None:
    clock, nf = fake()
    nf.add_build("build-1")
    nf.hooks["get"] = answer  # type: ignore[assignment]
    post = _post(tmp_path, nf, clock, STATE)
    assert post.exit_code == 0
    no_traceback(post)
    assert nf.aborted == {"build-1"}


def test_cause2_an_exception_nothing_foresaw_still_aborts_and_never_fails_the_job(
    tmp_path: Path,
) -> None:
    clock, nf = fake()
    nf.add_build("build-1")

    def bug(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("something nobody foresaw")

    nf.hooks["get"] = bug
    post = _post(tmp_path, nf, clock, STATE)
    assert post.exit_code == 0
    no_traceback(post)
    assert nf.aborted == {"build-1"}, "a failed read must not stop the abort"


def test_cause2_a_failing_abort_is_a_warning_and_the_next_one_is_still_tried(
    tmp_path: Path,
) -> None:
    clock, nf = fake()
    nf.add_build("build-1")
    nf.add_build("build-2")
    state = states.state(states.build("build-1"), states.build("build-2"))

    def abort(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/build-1"):
            raise RuntimeError("the abort blew up")
        return None

    nf.hooks["abort"] = abort
    post = _post(tmp_path, nf, clock, state)
    assert post.exit_code == 0
    no_traceback(post)
    assert nf.aborted == {"build-2"}
    warnings = [a.message for a in post.annotations if a.kind == "warning"]
    assert any("build-1" in w for w in warnings), warnings


def test_cause2_unreadable_inputs_in_the_post_step_never_fail_the_job(tmp_path: Path) -> None:
    clock, nf = fake()
    nf.add_build("build-1")
    post = run_step(
        tmp_path,
        nf,
        inputs=inputs(timeout_seconds="soon"),
        state=STATE,
        post=True,
        clock=clock,
    )
    assert post.exit_code == 0
    no_traceback(post)
    assert "may still be running" in post.text


# -- cause 3: a create whose answer is lost after it was sent -------------------------------


def test_cause3_a_run_start_cut_off_by_a_cancel_is_found_and_aborted(
    run: Runner, sim: Simulator
) -> None:
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=600.0)
    sim.add_fault(Fault(route="run_start", action="slow_answer", seconds=5.0))
    result = run(job_id="", run_job="demo-migrate", options={"cancel_after": 0.5})
    assert result.exit_code == 130, result.text
    assert len(sim.world.runs) == 1
    made = sim.world.runs[0]
    assert [c.path.rsplit("/", 1)[-1] for c in sim.calls("run_abort")] == [made.id]
    assert result.outputs["job-run-id"] == made.id
    assert "Traceback" not in result.text


def test_cause3_a_run_start_the_runner_cut_off_is_aborted_by_the_post_step(
    run: Runner, sim: Simulator, clock: VirtualClock
) -> None:
    # The main step was killed while its run start was out: all it left is run_sent.
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=600.0)
    sent_at = clock.wall()
    made = sim.world.start_run("demo-project", "demo-migrate", {})
    clock.advance(3.0)
    state = states.state(states.run_sent("demo-migrate", sent_at))
    post = run(job_id="", run_job="demo-migrate", options={"stage": "post", "state": state})
    assert post.exit_code == 0, post.text
    assert [c.path.rsplit("/", 1)[-1] for c in sim.calls("run_abort")] == [made.id]


def test_cause3_every_run_start_says_sent_before_it_goes_out(run: Runner, sim: Simulator) -> None:
    sim.add_fault(Fault(route="run_start", action="drop_after"))
    sim.add_fault(Fault(route="run_list", status=503, times=10))  # nothing can be placed
    result = run(job_id="", run_job="demo-migrate")
    assert result.exit_code == 3, result.text
    assert [r.owner for r in states.unanswered(result.state)] == ["demo-migrate"]
    assert sim.calls("run_abort") == []


def test_cause3_a_build_start_that_raised_something_unexpected_is_left_for_the_post_step(
    tmp_path: Path,
) -> None:
    clock, nf = fake()

    def start(request: httpx.Request) -> httpx.Response:
        nf.add_build("build-1")
        raise RuntimeError("a bug nothing foresaw, after the build was made")

    nf.hooks["start"] = start
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 3
    no_traceback(step)
    assert len(states.unanswered(step.state)) == 1, "the post step must look for the build"
    post = _post(tmp_path, nf, clock, step.state)
    assert post.exit_code == 0
    assert nf.aborted == {"build-1"}


# -- cause 4: never adopt a stranger ---------------------------------------------------------


def _stranger_then_ours(nf: FakeNorthflank, clock: VirtualClock, ours_made: bool) -> None:
    nf.add_build("strangers", createdAt=iso(clock.wall() - 1.0))  # another workflow, 1 s before

    def start(request: httpx.Request) -> httpx.Response:
        if ours_made:
            nf.add_build("ours")
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    nf.hooks["start"] = start


@pytest.mark.parametrize("ours_made", [True, False], ids=["ours made too", "ours never made"])
def test_cause4_a_strangers_build_of_the_same_sha_is_never_adopted(
    tmp_path: Path, ours_made: bool
) -> None:
    clock, nf = fake()
    _stranger_then_ours(nf, clock, ours_made)
    step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="60"), clock=clock)
    assert step.exit_code == 3, step.text
    no_traceback(step)
    assert step.outputs["build-id"] == ""
    assert not step.calls("DELETE")
    assert not nf.aborted
    assert len(step.calls("POST")) == 1
    message = step.errors()[0].message
    assert "strangers" in message
    assert "/builds/strangers" in message
    if ours_made:
        assert "/builds/ours" in message
    assert states.records(step.state) == [], "none is provably ours: nothing is left"
    post = _post(tmp_path, nf, clock, step.state)
    assert post.exit_code == 0
    assert not nf.aborted, "the post step must not abort a stranger either"


def test_cause4_the_post_step_never_aborts_a_stranger_near_the_cut_off_start(
    tmp_path: Path,
) -> None:
    clock, nf = fake()
    sent_at = clock.wall()
    nf.add_build("strangers", createdAt=iso(sent_at - 1.0))
    clock.advance(5.0)
    state = states.state(states.build_sent(sent_at, SHA))
    post = _post(tmp_path, nf, clock, state)
    assert post.exit_code == 0
    assert not nf.aborted
    assert not post.calls("DELETE")
    assert "none is provably" in post.text


def test_cause4_a_stranger_run_near_a_lost_run_start_is_never_adopted(
    run: Runner, sim: Simulator, clock: VirtualClock
) -> None:
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=600.0)
    strangers = sim.world.start_run("demo-project", "demo-migrate", {})  # a cron run
    clock.advance(1.0)
    sim.add_fault(Fault(route="run_start", action="drop_after"))
    result = run(job_id="", run_job="demo-migrate", timeout_seconds="20")
    assert result.exit_code == 3, result.text
    assert len(sim.world.runs) == 2
    assert result.outputs["job-run-id"] == ""
    assert strangers.id in result.errors()[0].message
    assert sim.calls("run_abort") == []


def test_cause4_a_lost_start_alone_is_still_adopted(tmp_path: Path) -> None:
    # The rule must not make the ordinary lost answer useless: one build, stamped after
    # the request could arrive, is ours.
    clock, nf = fake(duration=30.0)

    def start(request: httpx.Request) -> httpx.Response:
        nf.add_build("ours")
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    nf.hooks["start"] = start
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0, step.text
    assert step.outputs["build-id"] == "ours"


# -- cause 5: the deadline reached inside a request is a timeout -----------------------------


def _hang_on(
    sim: Simulator, clock: VirtualClock, method: str, path_end: str, skip: int = 0
) -> Handler:
    """The simulator, but ``method`` on a path ending ``path_end`` (after ``skip`` such
    requests) hangs until the request's own bound runs out (virtual time), as a server that
    never answers."""
    transport, seen = SimTransport(sim), [0]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == method and request.url.path.endswith(path_end):
            seen[0] += 1
        if seen[0] > skip and request.method == method and request.url.path.endswith(path_end):
            clock.advance(10_000.0)
            raise httpx.ReadTimeout("timed out", request=request)
        return transport.handle_request(request)

    return handler


@pytest.mark.parametrize(
    ("method", "path_end"),
    [("PATCH", "/services/deployment/demo-web"), ("GET", "/services/demo-web")],
    ids=["PATCH hangs", "GET service hangs"],
)
def test_cause5_the_deadline_reached_inside_a_request_is_a_timeout(
    tmp_path: Path, method: str, path_end: str
) -> None:
    # The GET of the service hangs after the build (its first read is cause 12's check).
    skip = 1 if method == "GET" else 0
    with simulated() as (clock, sim):
        handler = _hang_on(sim, clock, method, path_end, skip)
        step = run_step(tmp_path, handler, inputs=deploy_inputs(timeout_seconds="30"), clock=clock)
    assert step.exit_code == 4, step.text
    no_traceback(step)
    error = step.errors()[0]
    assert error.properties["title"] != "Cannot reach Northflank"
    assert "timeout-seconds" in error.message
    assert step.outputs["deployed"] == "false"
    assert step.outputs["status"] == "SUCCESS", "the build's outputs are as on any timeout"


def test_cause5_a_start_cut_by_the_deadline_is_a_timeout_left_for_the_post_step(
    tmp_path: Path,
) -> None:
    clock, nf = fake()

    def start(request: httpx.Request) -> httpx.Response:
        nf.add_build("build-1")
        clock.advance(10_000.0)
        raise httpx.ReadTimeout("timed out", request=request)

    nf.hooks["start"] = start
    step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="20"), clock=clock)
    assert step.exit_code == 4, step.text
    no_traceback(step)
    assert "timeout-seconds" in step.errors()[0].message
    assert len(states.unanswered(step.state)) == 1, "what it may have made is left to the post step"
    assert len(step.calls("POST")) == 1


# -- cause 6: a rollout is never judged on the state from before the PATCH -------------------


def _service_answers(sim: Simulator, edit: Callable[[int, dict[str, Any]], None]) -> Handler:
    """The simulator, with each GET of deployment service demo-web edited by ``edit``
    (called with how many GETs of it came before)."""
    transport, seen = SimTransport(sim), [0]

    def handler(request: httpx.Request) -> httpx.Response:
        response = transport.handle_request(request)
        if request.method == "GET" and request.url.path.endswith("/services/demo-web"):
            body = json.loads(response.content)
            edit(seen[0], body["data"])
            seen[0] += 1
            return httpx.Response(200, json=body, headers=response.headers)
        return response

    return handler


def test_cause6_a_stale_failed_rollout_from_an_hour_ago_is_not_this_deploys(
    tmp_path: Path,
) -> None:
    with simulated() as (clock, sim):

        def edit(count: int, data: dict[str, Any]) -> None:
            status = data["status"]["deployment"]
            if count == 0:  # before the PATCH: no transition time to compare with
                status.pop("lastTransitionTime")
            elif count <= 2:  # just after it: the previous rollout, failed an hour ago
                status.update(status="FAILED", lastTransitionTime=iso(clock.wall() - 3600))

        handler = _service_answers(sim, edit)
        step = run_step(tmp_path, handler, inputs=deploy_inputs(timeout_seconds="120"), clock=clock)
    assert step.exit_code == 0, step.text
    assert step.outputs["deployed"] == "true"


# -- cause 7: a deploy of what the service already runs never waits for a rollout ------------


def test_cause7_a_deploy_of_what_the_service_already_runs_does_not_wait(
    run: Runner, sim: Simulator
) -> None:
    deployment = sim.world.deployments["demo-project"]["demo-web"]
    deployment.source = {"id": "demo-service", "branch": "main", "buildSHA": SHA}
    deployment.deployed_sha = SHA
    result = run(
        job_id="", service_id="demo-service", branch="main", sha=SHA,
        deploy_services="demo-web", timeout_seconds="300",
    )  # fmt: skip
    assert result.exit_code == 0, result.text
    assert result.outputs["deployed"] == "true"
    assert sim.calls("deploy") == [], "a PATCH that changes nothing starts no rollout"
    assert "already runs" in result.text


@pytest.mark.parametrize("status", ["FAILED", "IN_PROGRESS"])
def test_cause7_the_same_commit_mid_or_after_a_rollout_is_judged_without_a_patch(
    tmp_path: Path, status: str
) -> None:
    with simulated() as (clock, sim):
        deployment = sim.world.deployments["demo-project"]["demo-web"]
        deployment.source = {"id": "demo-service", "branch": "main", "buildSHA": SHA}

        def edit(count: int, data: dict[str, Any]) -> None:
            rollout = data["status"]["deployment"]
            if count < 3:  # the earlier rollout of this very commit, seen before and after
                rollout.update(status=status, lastTransitionTime=iso(clock.wall() - 5))
            else:  # a rollout in progress concludes
                rollout.update(status="COMPLETED", lastTransitionTime=iso(clock.wall()))
                data["deployment"]["internal"]["deployedSHA"] = SHA

        handler = _service_answers(sim, edit)
        step_inputs = deploy_inputs(sha=SHA, timeout_seconds="120")
        step = run_step(tmp_path, handler, inputs=step_inputs, clock=clock)
    assert not [r for r in sim.requests if r.method == "PATCH"]
    if status == "FAILED":
        assert step.exit_code == 1, step.text
        assert "demo-web" in step.errors()[0].message
    else:
        assert step.exit_code == 0, step.text
        assert step.outputs["deployed"] == "true"


# -- cause 8: hostile numbers and cases ------------------------------------------------------


@pytest.mark.parametrize("instances", [True, False, 2.0, "2", [2]])
def test_cause8_an_instance_count_that_is_not_a_whole_number_sends_no_patch(
    run: Runner, sim: Simulator, instances: Any
) -> None:
    sim.world.deployments["demo-project"]["demo-web"].instances = instances
    result = run(job_id="", service_id="demo-service", branch="main", deploy_services="demo-web")
    assert result.exit_code == 3, result.text
    assert sim.calls("deploy") == []
    assert "deployment.instances" in result.errors()[0].message


def test_cause8_a_sha_in_upper_case_names_the_same_commit_when_reusing(
    run: Runner, sim: Simulator
) -> None:
    built = sim.world.add_build(
        "demo-project", "job", "demo-job", SHA, started_ago_s=60, plan=QUICK
    )
    result = run(sha=SHA.upper(), reuse="succeeded")
    assert result.exit_code == 0, result.text
    assert sim.calls("start") == [], "the same commit is not built twice"
    assert result.outputs["build-id"] == built.id


def test_cause8_a_lost_answer_is_claimed_whatever_case_the_server_writes_the_sha_in(
    tmp_path: Path,
) -> None:
    clock, nf = fake(duration=30.0)

    def start(request: httpx.Request) -> httpx.Response:
        nf.add_build("ours", sha=SHA.upper())
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    nf.hooks["start"] = start
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0, step.text
    assert step.outputs["build-id"] == "ours"


# -- cause 9: one odd entry never rejects a whole list ---------------------------------------


ODD_ENTRIES = [
    {"id": "../../evil", "sha": SHA, "status": "SUCCESS", "concluded": True},
    {"id": "odd-1", "sha": 12345, "status": "SUCCESS", "concluded": True},
    {"id": 7, "sha": SHA},
    "not an object",
    None,
    {"id": "odd-2", "sha": SHA, "createdAt": {"when": "now"}},
]


def test_cause9_odd_entries_in_a_build_list_are_skipped_and_the_rest_judged(
    tmp_path: Path,
) -> None:
    clock, nf = fake(duration=30.0)
    good = nf.add_build("good-1")
    clock.advance(60.0)  # concluded SUCCESS by now

    def listing(request: httpx.Request) -> httpx.Response:
        views = [*ODD_ENTRIES, nf.view(good)]
        return respond({"builds": views}, headers={"date": "Tue, 17 Nov 2026 00:00:00 GMT"})

    nf.hooks["list"] = listing
    step = run_step(
        tmp_path, nf, inputs=inputs(reuse="succeeded", runner_debug=None), clock=clock,
        env={"RUNNER_DEBUG": "1"},
    )  # fmt: skip
    assert step.exit_code == 0, step.text
    assert step.outputs["build-id"] == "good-1"
    assert not step.calls("POST")
    assert clock.now < 61.0, "no retries of a list that was readable"


def test_cause9_the_skipped_entries_are_counted_in_the_debug_log() -> None:
    said: list[str] = []
    good = {"id": "good-1", "sha": SHA, "status": "SUCCESS", "concluded": True}
    client = NorthflankClient(
        api_url="https://api.example.com", token="t", project_id="p", team_id=None,
        clock=VirtualClock(), on_debug=said.append,
        transport=httpx.MockTransport(lambda r: respond({"builds": [*ODD_ENTRIES, good]})),
    )  # fmt: skip
    page = client.builds.page(BuildTarget("job", "j"))
    assert [b.id for b in page.builds] == ["good-1"]
    assert page.skipped == len(ODD_ENTRIES)
    assert any(f"{len(ODD_ENTRIES)} unreadable build(s)" in line for line in said)


def test_cause9_odd_entries_in_a_run_list_do_not_hide_the_lost_run(
    tmp_path: Path,
) -> None:
    with simulated() as (clock, sim):
        sim.add_fault(Fault(route="run_start", action="drop_after"))
        transport = SimTransport(sim)

        def handler(request: httpx.Request) -> httpx.Response:
            response = transport.handle_request(request)
            if request.method == "GET" and request.url.path.endswith("/runs"):
                body = json.loads(response.content)
                body["data"]["runs"] = [*ODD_ENTRIES, *body["data"]["runs"]]
                return httpx.Response(200, json=body, headers=response.headers)
            return response

        step_inputs = inputs(job_id=None, run_job="demo-migrate")
        step = run_step(tmp_path, handler, inputs=step_inputs, clock=clock)
    assert step.exit_code == 0, step.text
    assert step.outputs["job-run-id"] == sim.world.runs[0].id


# -- cause 10: nothing from the server becomes a link in the job summary ---------------------

HOSTILE_TEXT = (
    "see https://evil.example/x or www.evil.example, HTTP://EVIL.EXAMPLE, mail a@evil.example"
)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+\1")
_OUR_LINK = re.compile(r"\]\([^)\s]*\)")


def linkable_outside_code(markdown: str) -> list[str]:
    """What GitHub's autolinking would find in ``markdown`` outside code spans and fenced
    blocks, and outside the targets of links the action writes itself."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    text = _OUR_LINK.sub("](…)", _CODE_SPAN.sub("", text))
    text = text.replace("\\", "")  # an escape does not stop the autolink extension
    return re.findall(r"(?i)[a-z][a-z0-9+.-]*://\S+|www\.\S+|\S+@\S+\.\S+", text)


@pytest.mark.parametrize("field", ["message", "branch"])
def test_cause10_server_text_never_becomes_a_link_in_the_summary(
    tmp_path: Path, field: str
) -> None:
    clock, nf = fake(duration=5.0)
    nf.outcome = "FAILURE"

    def start(request: httpx.Request) -> httpx.Response:
        return respond(nf.view(nf.add_build("build-1", **{field: HOSTILE_TEXT})))

    nf.hooks["start"] = start
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 1, step.text
    assert "evil.example" in step.summary, "the text is shown"
    assert linkable_outside_code(step.summary) == []


# -- cause 11: a hanging log read never starves the status checks ----------------------------


def test_cause11_a_log_page_that_hangs_costs_the_logs_not_the_status_checks(
    tmp_path: Path,
) -> None:
    clock, nf = fake(duration=3.0)
    got: list[float] = []

    def hang(request: httpx.Request) -> httpx.Response:
        # The server holds the page until the request's own bound runs out.
        timeouts = request.extensions.get("timeout", {})
        clock.advance(float(timeouts.get("read") or 30.0))
        raise httpx.ReadTimeout("timed out", request=request)

    def status(request: httpx.Request) -> httpx.Response | None:
        got.append(clock.now)
        return None

    nf.hooks["logs"] = hang
    nf.hooks["get"] = status
    step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="5", show_logs="true"), clock=clock)
    assert got, "no status check was made"
    assert step.exit_code == 0, step.text
    assert step.outputs["status"] == "SUCCESS"


# -- cause 12: what the step will need is checked before any build starts --------------------


@pytest.mark.parametrize(
    ("typo", "setting"),
    [({"deploy_services": "demo-web\nnope"}, "deploy-services"), ({"run_job": "nope"}, "run-job")],
)
def test_cause12_a_typo_in_what_comes_after_the_build_is_found_before_it(
    run: Runner, sim: Simulator, typo: dict[str, str], setting: str
) -> None:
    result = run(job_id="", service_id="demo-service", branch="main", **typo)
    assert result.exit_code == 3, result.text
    assert [r for r in sim.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")] == []
    error = result.errors()[0]
    assert setting in error.properties["title"]
    assert f"Check {setting}" in error.message
    assert "'nope'" in error.message
    assert "service-id" not in error.message
    assert "job-id" not in error.message


def test_cause12_a_forbidden_read_names_the_input_and_the_permission(
    run: Runner, sim: Simulator
) -> None:
    sim.forbidden = {TOKEN}
    result = run(job_id="", service_id="demo-service", branch="main", deploy_services="demo-web")
    assert result.exit_code == 3, result.text
    assert [r.route for r in sim.requests] == ["service_get"]
    error = result.errors()[0]
    assert "deploy-services" in error.properties["title"]
    assert "Project > Services > General > Read" in error.message


# -- variants of the causes that the issue does not list -------------------------------------


def test_cause3_a_run_start_cut_by_the_deadline_is_left_for_the_post_step(
    tmp_path: Path,
) -> None:
    with simulated() as (clock, sim):
        sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=86_400.0)
        transport = SimTransport(sim)

        def handler(request: httpx.Request) -> httpx.Response:
            response = transport.handle_request(request)  # the run is made
            if request.method == "POST" and request.url.path.endswith("/runs"):
                clock.advance(10_000.0)  # and its answer never comes before the deadline
                raise httpx.ReadTimeout("timed out", request=request)
            return response

        step_inputs = inputs(job_id=None, run_job="demo-migrate", timeout_seconds="10")
        step = run_step(tmp_path, handler, inputs=step_inputs, clock=clock)
        assert step.exit_code == 4, step.text
        assert [r.owner for r in states.unanswered(step.state)] == ["demo-migrate"], step.state
        post = run_step(tmp_path, transport.handle_request, inputs=step_inputs,
                        state=step.state, post=True, clock=clock)  # fmt: skip
    assert post.exit_code == 0, post.text
    made = sim.world.runs[0]
    assert [c.path.rsplit("/", 1)[-1] for c in sim.calls("run_abort")] == [made.id], post.text


def test_cause7_a_service_that_does_not_name_its_build_service_is_judged_by_commit(
    tmp_path: Path,
) -> None:
    with simulated() as (clock, sim):
        deployment = sim.world.deployments["demo-project"]["demo-web"]
        deployment.source = {"id": "demo-service", "branch": "main", "buildSHA": SHA}
        deployment.deployed_sha = SHA

        def edit(count: int, data: dict[str, Any]) -> None:
            data["deployment"]["internal"].pop("nfObjectId")

        handler = _service_answers(sim, edit)
        step_inputs = deploy_inputs(sha=SHA, timeout_seconds="120")
        step = run_step(tmp_path, handler, inputs=step_inputs, clock=clock)
    assert step.exit_code == 0, step.text
    assert not [r for r in sim.requests if r.method == "PATCH"]


def test_cause10_mentions_and_references_in_server_text_are_not_links() -> None:
    from northflank_build.github.summary import md

    shown = md("ping @octocat about #123 and GH-7, or @org/team")
    for token in ("@octocat", "#123", "GH-7", "@org/team"):
        assert f"`{token}" in shown, shown


def test_cause12_run_job_alone_names_run_job_when_the_job_is_missing(
    run: Runner, sim: Simulator
) -> None:
    result = run(job_id="", run_job="nope")
    assert result.exit_code == 3, result.text
    assert sim.calls("run_start") == []
    error = result.errors()[0]
    assert "run-job" in error.properties["title"]
    assert "job-id" not in error.message


def test_cause12_a_rejected_token_is_not_blamed_on_the_input(run: Runner, sim: Simulator) -> None:
    sim.tokens = {"another-token"}
    result = run(job_id="", service_id="demo-service", branch="main", deploy_services="demo-web")
    assert result.exit_code == 3, result.text
    error = result.errors()[0]
    assert error.properties["title"] == "Northflank rejected the API token"


def test_no_traceback_even_when_reporting_itself_fails(
    run: Runner, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from northflank_build.github import events

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a bug in the summary")

    monkeypatch.setattr(events, "summary", broken)
    result = run()
    assert result.exit_code == 3, result.text
    assert "Traceback" not in result.text
    assert result.outputs["build-id"], "the outputs written before the failure stay"
    assert any("a bug in the summary" in e.message for e in result.errors())
