"""Issue 18: only what is provably ours, no orphaned run, no internal error from an odd
answer. One section per cause, each test named after its cause (cause 1, every endpoint and
socket fed odd answers, is tests/test_odd_answers.py). In process and in virtual time
(tests/inproc.py); the README's "Under hostile conditions" table names these tests."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import Runner
from inproc import SHA, FakeNorthflank, Step, StepClock, default_inputs, iso, respond, run_step
from nfsim import Fault, Simulator
from nfsim.deploys import RunPlan
from northflank_build.engine.cancel import CancelScope

LOOPBACK = "http://127.0.0.1:9"  # nothing listens: the log socket is refused at once
STATE = {"build_id": "build-1", "target": "job:demo-job"}


def fake(duration: float = 600.0) -> tuple[StepClock, FakeNorthflank]:
    clock = StepClock(CancelScope())
    return clock, FakeNorthflank(clock, duration)


def inputs(**overrides: str | None) -> dict[str, str]:
    return default_inputs(**{"api_url": LOOPBACK, **overrides})


def no_traceback(step: Step) -> None:
    assert b"Traceback" not in step.raw


# -- cause 2: the post step never fails the job ---------------------------------------------


def _post(tmp: Path, nf: FakeNorthflank, clock: StepClock, state: dict[str, str]) -> Step:
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
    state = {**STATE, "build_id_2": "build-2", "target_2": "job:demo-job"}

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
    run: Runner, sim: Simulator, clock: StepClock
) -> None:
    # The main step was killed while its run start was out: all it left is run_sent.
    sim.world.run_plans["demo-migrate"] = RunPlan(duration_s=600.0)
    sent_at = clock.wall()
    made = sim.world.start_run("demo-project", "demo-migrate", {})
    clock.advance(3.0)
    state = {"run_sent": f"demo-migrate|{sent_at:.3f}", "finished": "true"}
    post = run(job_id="", run_job="demo-migrate", options={"stage": "post", "state": state})
    assert post.exit_code == 0, post.text
    assert [c.path.rsplit("/", 1)[-1] for c in sim.calls("run_abort")] == [made.id]


def test_cause3_every_run_start_says_sent_before_it_goes_out(run: Runner, sim: Simulator) -> None:
    sim.add_fault(Fault(route="run_start", action="drop_after"))
    sim.add_fault(Fault(route="run_list", status=503, times=10))  # nothing can be placed
    result = run(job_id="", run_job="demo-migrate")
    assert result.exit_code == 3, result.text
    assert result.state.get("run_sent", "").startswith("demo-migrate|")
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
    assert "start_sent" in step.state
    assert "finished" not in step.state, "the post step must look for the build"
    post = _post(tmp_path, nf, clock, step.state)
    assert post.exit_code == 0
    assert nf.aborted == {"build-1"}


# -- cause 4: never adopt a stranger ---------------------------------------------------------


def _stranger_then_ours(nf: FakeNorthflank, clock: StepClock, ours_made: bool) -> None:
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
    assert not step.calls("DELETE") and not nf.aborted
    assert len(step.calls("POST")) == 1
    message = step.errors()[0].message
    assert "strangers" in message and "/builds/strangers" in message
    if ours_made:
        assert "/builds/ours" in message
    assert "finished" in step.state or "build_id" not in step.state
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
    state = {"start_sent": f"job:demo-job|{sent_at:.3f}|{SHA}"}
    post = _post(tmp_path, nf, clock, state)
    assert post.exit_code == 0
    assert not nf.aborted and not post.calls("DELETE")
    assert "none is provably" in post.text


def test_cause4_a_stranger_run_near_a_lost_run_start_is_never_adopted(
    run: Runner, sim: Simulator, clock: StepClock
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
