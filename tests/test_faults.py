"""Fault injection: the whole action, run as the runner runs it, against a misbehaving
simulator. One case per fault; each asserts the exit status, the outputs and the requests
the simulator received. The same table is the "Behaviour under faults" section of docs/faults.md
(``test_readme_fault_table_matches_the_suite``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import states
from conftest import ROOT, Runner
from nfsim import BuildPlan, Fault, Simulator
from northflank_build.engine.builds import FORECAST_PAGE
from runneremu import StepResult
from testdata import TOKEN

LONG = BuildPlan(phases=(("PENDING", 0.3), ("BUILDING", 120.0)))


def starts(sim: Simulator) -> int:
    return len(sim.calls("start"))


def no_secret(result: StepResult) -> None:
    visible = [
        result.text,
        result.summary,
        *result.outputs.values(),
        *(a.message for a in result.annotations),
    ]
    assert all(TOKEN not in text for text in visible)


@dataclass(frozen=True)
class Case:
    fault: str
    behaviour: str
    setup: Callable[[Simulator], dict[str, object]]
    exit_code: int
    check: Callable[[Simulator, StepResult], None]


def _5xx(sim: Simulator) -> dict[str, object]:
    sim.add_fault(Fault(route="get", status=502, times=3))
    return {}


def _check_5xx(sim: Simulator, r: StepResult) -> None:
    assert [c.status for c in sim.calls("get")][:3] == [502, 502, 502]
    assert r.outputs["success"] == "true"
    assert starts(sim) == 1


def _limited(headers: dict[str, str], times: int = 1) -> Callable[[Simulator], dict[str, object]]:
    """Reads answered 429 with a plain-text body (the real body is undocumented) and ``headers``."""

    def setup(sim: Simulator) -> dict[str, object]:
        sim.add_fault(
            Fault(
                route="get",
                status=429,
                body="Too Many Requests",
                content_type="text/plain",
                headers=headers,
                times=times,
            )
        )
        return {}

    return setup


_429_retry_after = _limited({"Retry-After": "2", "x-ratelimit-reset": "900"})
_429_reset = _limited({"x-ratelimit-reset": "2", "x-ratelimit-remaining": "0"})
_429_cap = _limited({"x-ratelimit-reset": "3400"}, times=5)


def _check_429_retry_after(sim: Simulator, r: StepResult) -> None:
    gets = sim.calls("get")
    assert gets[0].status == 429
    assert gets[1].at - gets[0].at >= 1.9
    assert r.outputs["success"] == "true"


def _check_429_cap(sim: Simulator, r: StepResult) -> None:
    assert "past this action's cap" in r.errors()[0].message
    assert len(sim.calls("get")) == 1
    assert r.outputs["build-id"]


def _drop_after_create(sim: Simulator) -> dict[str, object]:
    sim.add_fault(Fault(route="start", action="drop_after"))
    return {}


def searches(sim: Simulator) -> int:
    """List requests made to find a build a failed start may have made (not the forecast's)."""
    return sum(c.query.get("per_page") != [str(FORECAST_PAGE)] for c in sim.calls("list"))


def _check_one_build(sim: Simulator, r: StepResult) -> None:
    assert starts(sim) == 1
    assert len(sim.world.builds) == 1
    assert searches(sim) >= 1
    assert r.outputs["build-id"] == sim.world.builds[0].id
    assert r.outputs["success"] == "true"


def _start_502_nothing_created(sim: Simulator) -> dict[str, object]:
    sim.add_fault(Fault(route="start", status=502))
    return {}


def _check_not_resent(sim: Simulator, r: StepResult) -> None:
    # A 502 may come from a proxy after Northflank made the build: not resent, said so.
    assert [c.status for c in sim.calls("start")] == [502]
    assert sim.world.builds == []
    assert searches(sim) == 2
    assert "may have" in r.errors()[0].message
    assert "/jobs/demo-job/builds" in r.errors()[0].message
    assert len(states.unanswered(r.state)) == 1, "the post step looks again"


def _slow(sim: Simulator) -> dict[str, object]:
    sim.add_fault(Fault(route="get", action="delay", seconds=1.5, times=2))
    return {}


def _malformed(sim: Simulator) -> dict[str, object]:
    sim.add_fault(
        Fault(route="get", status=200, body="{this is not json", content_type="application/json")
    )
    sim.add_fault(
        Fault(
            route="get",
            status=200,
            body=json.dumps({"data": {"id": 7, "concluded": "perhaps"}}),
            content_type="application/json",
            skip=1,
        )
    )
    return {}


def _check_success(sim: Simulator, r: StepResult) -> None:
    assert r.outputs["success"] == "true"
    assert starts(sim) == 1


def _unknown_status(sim: Simulator) -> dict[str, object]:
    sim.set_plan(BuildPlan(phases=(("PENDING", 0.3), ("WARMING_UP", 1.5), ("BUILDING", 0.5))))
    return {}


def _check_unknown(sim: Simulator, r: StepResult) -> None:
    assert any("WARMING_UP" in line for line in r.log)
    assert r.outputs["success"] == "true"


def _envelope(status: int, message: str) -> Callable[[Simulator], dict[str, object]]:
    def setup(sim: Simulator) -> dict[str, object]:
        sim.add_fault(
            Fault(
                route="start",
                status=status,
                content_type="application/json",
                body=json.dumps({"error": {"status": status, "message": message, "id": "e-1"}}),
                times=10,
            )
        )
        sim.add_fault(
            Fault(
                route="project",
                status=status,
                content_type="application/json",
                body=json.dumps({"error": {"status": status, "message": message}}),
                times=10,
            )
        )
        return {}

    return setup


def _check_fail_fast(fragment: str) -> Callable[[Simulator, StepResult], None]:
    def check(sim: Simulator, r: StepResult) -> None:
        assert starts(sim) == 1, "not retried"
        assert fragment in r.errors()[0].message
        assert r.outputs["build-id"] == ""

    return check


def _timeout(sim: Simulator) -> dict[str, object]:
    sim.set_plan(LONG)
    return {"timeout_seconds": "2"}


def _check_timeout(sim: Simulator, r: StepResult) -> None:
    assert r.outputs["status"] == "BUILDING"
    assert r.outputs["concluded"] == "false"
    assert len(sim.calls("abort")) == 1
    assert sim.world.builds[0].aborted_mono is not None
    assert "timeout-seconds" in r.errors()[0].message


def _cancel(sim: Simulator) -> dict[str, object]:
    sim.set_plan(LONG)
    return {"options": {"cancel_after": 3.0}}


def _check_cancel(sim: Simulator, r: StepResult) -> None:
    aborts = sim.calls("abort")
    assert len(aborts) == 1
    first_signal = r.signals_sent[0]
    assert first_signal[0] == "SIGINT"
    started = sim.calls("start")[0].at
    assert aborts[0].at - (started + first_signal[1]) < 5.0, "DELETE within 5 s of SIGINT"
    assert r.conclusion == "cancelled"
    assert r.outputs["build-id"] == sim.world.builds[0].id
    assert len(r.signals_sent) == 1, "exited before the runner's SIGTERM"


def _cancel_no_abort(sim: Simulator) -> dict[str, object]:
    sim.set_plan(LONG)
    return {"options": {"cancel_after": 2.0}, "abort_on_cancel": "false"}


def _check_cancel_no_abort(sim: Simulator, r: StepResult) -> None:
    assert sim.calls("abort") == []
    assert r.outputs["build-id"]
    assert states.records(r.state) == [], "the post step must leave it running too"


def _cancel_during_start(sim: Simulator) -> dict[str, object]:
    sim.set_plan(LONG)
    sim.add_fault(Fault(route="start", action="slow_answer", seconds=6.0))
    return {"options": {"cancel_after": 1.5}}


def _check_cancel_during_start(sim: Simulator, r: StepResult) -> None:
    assert len(sim.world.builds) == 1
    assert len(sim.calls("abort")) == 1
    assert sim.world.builds[0].aborted_mono is not None
    assert r.outputs["build-id"] == sim.world.builds[0].id


CASES = [
    Case(
        "Three HTTP 502 answers with HTML bodies on status reads",
        "retried with back-off; the step succeeds",
        _5xx,
        0,
        _check_5xx,
    ),
    Case(
        "429 with `Retry-After` on a read",
        "waits as long as `Retry-After` says, then goes on",
        _429_retry_after,
        0,
        _check_429_retry_after,
    ),
    Case(
        "429 without `Retry-After` (plain-text body)",
        "waits until `x-ratelimit-reset`, then goes on",
        _429_reset,
        0,
        _check_success,
    ),
    Case(
        "429 asking to wait longer than the cap (300 s)",
        "fails at once with a message that says so; exit 3",
        _429_cap,
        3,
        _check_429_cap,
    ),
    Case(
        "Start request creates the build, then the connection drops",
        "lists the job's builds and adopts the one it created: one build",
        _drop_after_create,
        0,
        _check_one_build,
    ),
    Case(
        "Start request answered 502, nothing created",
        "finds no build of its own and does not resend (a 502 is no proof that nothing was "
        "made): says a build may have started, with the job's builds page; exit 3",
        _start_502_nothing_created,
        3,
        _check_not_resent,
    ),
    Case(
        "Slow responses (1.5 s) on reads",
        "waits for them; the step succeeds",
        _slow,
        0,
        _check_success,
    ),
    Case(
        "Malformed JSON, then wrong field types, on reads",
        "retried; the step succeeds",
        _malformed,
        0,
        _check_success,
    ),
    Case(
        "Unknown status value (`WARMING_UP`)",
        "treated as still running until `concluded`",
        _unknown_status,
        0,
        _check_unknown,
    ),
    Case(
        "401 envelope",
        "fails at once: token invalid or expired; exit 3",
        _envelope(401, "Unauthenticated"),
        3,
        _check_fail_fast("API token was refused"),
    ),
    Case(
        "403 envelope",
        "fails at once, naming the permission; exit 3",
        _envelope(403, "Forbidden"),
        3,
        _check_fail_fast("Deploy Build"),
    ),
    Case(
        "404 envelope",
        "fails at once, saying which of project or job is missing; exit 3",
        _envelope(404, "Not found"),
        3,
        _check_fail_fast("Project 'demo-project' was not found"),
    ),
    Case(
        "Build longer than `timeout-seconds`",
        "aborts the build, writes all outputs, annotates; exit 4",
        _timeout,
        4,
        _check_timeout,
    ),
    Case(
        "Workflow cancelled (SIGINT) while waiting",
        "aborts the build (DELETE within 5 s), writes outputs; exit 130",
        _cancel,
        130,
        _check_cancel,
    ),
    Case(
        "Cancelled with `abort-on-cancel: false`",
        "leaves the build running, writes outputs; exit 130",
        _cancel_no_abort,
        130,
        _check_cancel_no_abort,
    ),
    Case(
        "Cancelled while the start request is unanswered",
        "finds the build the request created and aborts it",
        _cancel_during_start,
        130,
        _check_cancel_during_start,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.fault for c in CASES])
def test_fault(case: Case, run: Runner, sim: Simulator) -> None:
    overrides = case.setup(sim)
    result = run(**overrides)
    if case.exit_code != 130:
        assert result.exit_code == case.exit_code, result.text
    assert set(result.outputs) >= {"build-id", "status", "success", "concluded"}
    assert "Traceback" not in result.raw_stdout
    no_secret(result)
    case.check(sim, result)


def fault_table() -> str:
    rows = [f"| {c.fault} | {c.behaviour} |" for c in CASES]
    return "\n".join(["| fault | what the action does |", "|---|---|", *rows])


def test_readme_fault_table_matches_the_suite() -> None:
    readme = (ROOT / "docs/faults.md").read_text()
    assert fault_table() in readme, (
        "regenerate with: python -c 'import test_faults; print(test_faults.fault_table())'"
    )


def test_post_step_aborts_a_build_the_killed_main_step_left_running(
    run_process: Runner, live_sim: Simulator
) -> None:
    # A runner-contract test: the post step's own entry point, as a process.
    run, sim = run_process, live_sim
    sim.set_plan(LONG)
    first = run(wait="false")
    build_id = first.outputs["build-id"]
    sim.requests.clear()
    result = run(options={"stage": "post", "state": states.state(states.build(build_id))})
    assert result.exit_code == 0
    assert [c.route for c in sim.requests] == ["get", "abort"]
    assert sim.world.builds[0].aborted_mono is not None


def test_post_step_leaves_concluded_or_handled_builds_alone(run: Runner, sim: Simulator) -> None:
    done = run()
    sim.requests.clear()
    handled = run(options={"stage": "post", "state": states.state()})
    assert handled.exit_code == 0
    assert sim.requests == []
    left = states.state(states.build(done.outputs["build-id"]))
    concluded = run(options={"stage": "post", "state": left})
    assert concluded.exit_code == 0
    assert [c.route for c in sim.requests] == ["get"]
    nothing = run(options={"stage": "post", "state": {}})
    assert nothing.exit_code == 0
    assert [c.route for c in sim.requests] == ["get"]


def test_a_failed_abort_is_left_for_the_post_step(run_process: Runner, live_sim: Simulator) -> None:
    # A runner-contract test: the abort hangs in real time, the runner's window closes.
    run, sim = run_process, live_sim
    sim.set_plan(LONG)
    sim.add_fault(Fault(route="abort", action="delay", seconds=20))  # the abort hangs
    result = run(options={"cancel_after": 2.0})
    assert result.exit_code == 130, "gave up within the window"
    assert len(result.signals_sent) == 1, "gave up within the window"
    build_id = sim.world.builds[0].id
    assert result.outputs["build-id"] == build_id
    assert states.ids(result.state) == [build_id], "the post step must try again"
    sim.faults.clear()
    post = run(options={"stage": "post", "state": result.state})
    assert post.exit_code == 0
    assert sim.world.builds[0].aborted_mono is not None


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest first", "oldest first"])
def test_the_build_a_lost_answer_made_is_found_whatever_the_list_order(
    newest_first: bool, run: Runner, sim: Simulator
) -> None:
    # 250 earlier builds: with the list oldest first, the new one is on the third page of 100.
    sim.world.add_history("demo-project", "job", "demo-job", [30.0] * 250, gap_s=60.0)
    sim.world.list_newest_first = newest_first
    sim.add_fault(Fault(route="start", action="drop_after"))
    r = run(show_logs="false")
    assert r.exit_code == 0
    assert starts(sim) == 1
    new = [b for b in sim.world.builds if b.body]
    assert len(new) == 1
    assert r.outputs["build-id"] == new[0].id
    cursors = [
        c.query.get("cursor") for c in sim.calls("list") if c.query.get("per_page") == ["100"]
    ]
    # Oldest first: the first page and then the cursor to the last; newest first: one page.
    assert cursors == ([None] if newest_first else [None, ["0" * 21 + "100"], ["0" * 21 + "200"]])
