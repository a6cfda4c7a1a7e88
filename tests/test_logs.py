"""Live build logs (WebSocket tail, HTTP fallback), the summary's log tail, and dry run."""

from __future__ import annotations

import pytest

from conftest import Runner
from nfsim import BuildPlan, Fault, Simulator
from northflank_build.api.logs import LogLine
from northflank_build.api.models import Build
from northflank_build.engine.logs import LineBook, LogFollower
from northflank_build.engine.schedule import PollSchedule
from northflank_build.engine.waiting import LOG_SLICE_S, WaitEnd
from runneremu import StepResult
from testdata import SHA, TOKEN
from virtual_clock import VirtualClock
from waitfor import WaitPolicy, wait_for

PLAN = BuildPlan(phases=(("PENDING", 0.4), ("CLONING", 0.6), ("BUILDING", 3.0)), lines_per_second=6)


def shown_log(result: StepResult) -> list[str]:
    return [line[4:] for line in result.log if line.startswith("  | ")]


def full_log(sim: Simulator) -> list[str]:
    build = sim.world.builds[0]
    return [item["log"].removeprefix("stdout F ") for item in build.log_lines(float("inf"))]


def test_live_tail_shows_every_line_once_in_order_inside_a_group(
    run_process: Runner, live_sim: Simulator
) -> None:
    # A runner-contract test: the real WebSocket tail, the lines read from the process.
    run, sim = run_process, live_sim
    sim.set_plan(PLAN)
    result = run()
    assert result.exit_code == 0
    assert shown_log(result) == full_log(sim)
    start = next(i for i, line in enumerate(result.log) if line.startswith("##[group]"))
    end = result.log.index("##[endgroup]")
    first_log = next(i for i, line in enumerate(result.log) if line.startswith("  | "))
    assert start < first_log < end
    assert "live tail" in result.log[start]
    routes = [r.route for r in sim.requests]
    assert routes.count("logs_tail") == 1, "the tail alone, no paging"
    assert "logs" not in routes, "the tail alone, no paging"


def test_lines_arrive_while_the_build_runs(run: Runner, sim: Simulator) -> None:
    sim.set_plan(PLAN)
    result = run()
    statuses = [i for i, line in enumerate(result.log) if line.startswith("[")]
    building = next(i for i in statuses if "BUILDING" in result.log[i])
    done = statuses[-1]
    between = [line for line in result.log[building:done] if line.startswith("  | #")]
    assert len(between) >= 5, "build lines are printed before the final status, not after"


@pytest.mark.parametrize("batches", [1, 3])
def test_dropped_socket_falls_back_to_http_without_losing_or_repeating_lines(
    run: Runner, sim: Simulator, batches: int
) -> None:
    sim.set_plan(PLAN)
    sim.add_fault(Fault(route="logs_tail", action="cut", times=batches))
    result = run()
    assert result.exit_code == 0
    assert shown_log(result) == full_log(sim)
    assert any("dropped" in line for line in result.log)
    assert 1 <= len(sim.calls("logs")) <= 6


def test_refused_socket_pages_the_http_range_endpoint(run: Runner, sim: Simulator) -> None:
    sim.set_plan(PLAN)
    sim.add_fault(Fault(route="logs_tail", status=503))
    result = run()
    assert result.exit_code == 0
    assert shown_log(result) == full_log(sim)
    assert any("over HTTP" in line for line in result.log)
    range_calls = sim.calls("logs")
    assert all(
        c.query["queryType"] == ["range"] and c.query["direction"] == ["forward"]
        for c in range_calls
    )


def test_log_text_cannot_act_as_a_workflow_command_and_masks_hold(
    run: Runner, sim: Simulator
) -> None:
    hostile = (
        "::error title=pwned::from the log",
        "::add-mask::main",
        "step ##[warning]legacy",
        f"echo {TOKEN}",
        "::stop-commands::pause",
        "::set-output name=build-id::evil",
    )
    sim.set_plan(BuildPlan(phases=(("BUILDING", 2.0),), outcome="FAILURE", log_extra=hostile))
    result = run()
    assert result.exit_code == 1
    assert [a.properties.get("title") for a in result.annotations] == ["Northflank build failed"]
    assert not result.legacy_commands
    injected = [("add-mask", "main"), ("stop-commands", "pause")]
    assert not [c for c in result.commands if c in injected or c[0] in ("set-output", "warning")]
    assert result.outputs["build-id"] == sim.world.builds[0].id
    assert TOKEN not in result.text
    assert TOKEN not in result.summary
    assert f"echo {TOKEN}" not in "\n".join(shown_log(result))


def test_failure_summary_has_the_log_tail_and_the_annotation_points_to_it(
    run: Runner, sim: Simulator
) -> None:
    sim.set_plan(BuildPlan(phases=(("BUILDING", 8.0),), outcome="FAILURE", lines_per_second=6))
    result = run()
    assert result.exit_code == 1
    assert "<details><summary>Last 30 lines of the build log</summary>" in result.summary
    tail = result.summary.split("```text\n")[1].split("\n```")[0].splitlines()
    assert tail == full_log(sim)[-30:]
    assert "job summary" in result.errors()[0].message


def test_success_summary_has_no_log_tail(run: Runner, sim: Simulator) -> None:
    result = run()
    assert result.exit_code == 0
    assert "<details>" not in result.summary


def test_show_logs_false_uses_the_socket_as_the_end_signal_and_prints_no_line(
    run: Runner, sim: Simulator
) -> None:
    # Checks would come at 1, 2.5, 4.75 and 8.1 s by the schedule alone; the build ends at 6 s.
    sim.set_plan(BuildPlan(phases=(("PENDING", 0.5), ("BUILDING", 5.5)), lines_per_second=6))
    result = run(show_logs="false", poll_interval_seconds="30")
    assert result.exit_code == 0
    assert not shown_log(result)
    assert not any("step " in line for line in result.log), "no remote log line in the step log"
    routes = [r.route for r in sim.requests]
    assert routes.count("logs_tail") == 1, "one socket, no HTTP paging"
    assert "logs" not in routes, "one socket, no HTTP paging"
    build = sim.world.builds[0]
    ended = build.created_mono + build.plan.duration
    noticed = sim.calls("get")[-1].at
    assert noticed - ended < 1.5, "checked when the stream closed, not at the next scheduled check"


def test_dry_run_sends_nothing_and_shows_the_redacted_request(run: Runner, sim: Simulator) -> None:
    result = run(
        api_token="",
        dry_run="true",
        build_arguments="NODE_ENV=production",
        build_files="/app/.npmrc=env:NPMRC",
        env={"NPMRC": "dry-run-secret-4242"},
    )
    assert (result.exit_code, result.conclusion) == (0, "success")
    assert sim.requests == []
    text = result.text
    assert "would send POST" in text
    assert "/v1/projects/demo-project/jobs/demo-job/build" in text
    assert '"NODE_ENV": "production"' in text
    assert '"data": "***"' in text
    assert "dry-run-secret-4242" not in text
    assert "ZHJ5" not in text  # nor its base64
    assert result.outputs["sha"] == SHA
    assert result.outputs["build-id"] == ""
    assert "Dry run" in result.summary


def test_dry_run_still_reports_invalid_inputs(run: Runner, sim: Simulator) -> None:
    result = run(dry_run="true", sha="nope")
    assert result.exit_code == 2
    assert sim.requests == []


def test_dry_run_of_a_service_spec(run: Runner, sim: Simulator) -> None:
    result = run(
        api_token="",
        job_id="",
        dry_run="true",
        service_spec="name: Web Builder\nbilling: {buildPlan: nf-compute-20}\nbuildSettings: {buildpack: {}}\n",
        branch="main",
        env={"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "octo/repo"},
    )
    assert result.exit_code == 0
    assert sim.requests == []
    assert "/services/build" in result.text
    assert "/services/web-builder/build" in result.text
    assert result.outputs["service-id"] == "web-builder"


class FakeTail:
    def __init__(self, batches: list[list[LogLine]], breaks_after: int | None) -> None:
        self.batches, self.breaks_after, self.pumped = batches, breaks_after, 0
        self.closed = False

    def drain(self) -> list[LogLine]:
        self.pumped += 1
        return self.batches.pop(0) if self.batches else []

    @property
    def broken(self) -> bool:
        return self.breaks_after is not None and self.pumped >= self.breaks_after

    @property
    def ended(self) -> bool:
        return not self.batches and self.breaks_after is None

    def close(self) -> None:
        self.closed = True


def line(n: int, ts: str | None = None) -> LogLine:
    return LogLine(ts or f"2026-01-01T00:00:{n:02d}.000Z", "c", f"line {n}")


def test_line_book_skips_what_was_shown_also_at_the_same_timestamp() -> None:
    book = LineBook()
    same = "2026-01-01T00:00:05.000Z"
    assert book.fresh([line(1), line(2, same), line(3, same)]) == [
        line(1),
        line(2, same),
        line(3, same),
    ]
    assert book.fresh([line(2, same), line(3, same), line(4, same), line(6)]) == [
        line(4, same),
        line(6),
    ]
    assert book.fresh([line(1), line(5)]) == []


def test_build_logs_switches_to_http_from_the_last_line() -> None:
    clock = VirtualClock()
    asked: list[str | None] = []
    everything = [line(n) for n in range(1, 11)]

    def read_range(start: str | None, limit: int, _bound: float) -> tuple[list[LogLine], bool]:
        asked.append(start)
        rest = [entry for entry in everything if start is None or entry.ts >= start]
        return rest[:limit], len(rest) > limit

    notes: list[str] = []
    tail = FakeTail([everything[:3], everything[3:5]], breaks_after=2)
    logs = LogFollower(read_range, clock.monotonic, tail, notes.append, clock.sleep)
    seen = logs.pump() + logs.pump() + logs.pump(final=True)
    assert seen == everything
    assert tail.closed
    # Paged from the last line the tail gave; the final pump checks once more from the end.
    assert asked == [everything[4].ts, everything[9].ts]
    assert logs.range_requests == 2
    assert any("dropped" in n for n in notes)
    assert list(logs.last_lines) == [f"line {n}" for n in range(1, 11)]


def test_http_paging_waits_while_the_rate_limit_budget_is_low() -> None:
    clock = VirtualClock()
    calls: list[str | None] = []

    def read_range(start: str | None, limit: int, _bound: float) -> tuple[list[LogLine], bool]:
        calls.append(start)
        return [line(1)], False

    low = {"now": True}
    logs = LogFollower(
        read_range,
        clock.monotonic,
        None,
        lambda _n: None,
        clock.sleep,
        budget_low=lambda: low["now"],
    )
    assert logs.pump() == []
    assert calls == []
    assert logs.pump(final=True) == [line(1)]
    assert len(calls) == 1


def test_a_closed_stream_is_a_hint_to_check_the_status_once() -> None:
    clock = VirtualClock()
    tail = FakeTail([[line(1)], [line(2)]], breaks_after=None)
    logs = LogFollower(
        lambda _s, _n, _b: ([], False), clock.monotonic, tail, lambda _n: None, clock.sleep
    )
    logs.pump()
    assert not logs.take_end_hint()  # still open: one batch left
    logs.pump()
    assert logs.take_end_hint()  # the stream closed after its last batch
    assert not logs.take_end_hint()
    logs.pump()
    assert not logs.take_end_hint()  # heard once, not on every pump after


def test_the_wait_checks_at_once_when_the_stream_closes() -> None:
    clock = VirtualClock()
    tail = FakeTail([[line(1)], [line(2)], [line(3)]], breaks_after=None)
    logs = LogFollower(
        lambda _s, _n, _b: ([], False), clock.monotonic, tail, lambda _n: None, clock.sleep
    )
    shown: list[LogLine] = []
    reads: list[float] = []

    def read() -> Build:
        reads.append(clock.now)
        return Build(id="b", status="SUCCESS", concluded=True, success=True)

    waited = wait_for(
        Build(id="b", status="BUILDING", concluded=False),
        read,
        WaitPolicy(timeout_s=600, schedule=PollSchedule(30, None)),
        clock,
        on_change=lambda *_: None,
        on_trouble=lambda *_: None,
        follow=logs,
        on_lines=shown.extend,
    )
    # The first pause is 1 s; the stream's last batch comes in the third slice, and the
    # status is read then, not at the end of the pause.
    assert waited.end is WaitEnd.CONCLUDED
    assert reads == [pytest.approx(3 * LOG_SLICE_S)]
    assert shown == [line(1), line(2), line(3)]


def test_a_page_skipped_for_a_status_check_is_read_at_the_next_turn() -> None:
    # Issue 18, cause 11: a page waits when a status check is due within MIN_PAGE_S; that
    # must not also push it a whole HTTP_EVERY_S away.
    clock = VirtualClock()
    bounds: list[float] = []

    def read_range(start: str | None, limit: int, bound: float) -> tuple[list[LogLine], bool]:
        bounds.append(bound)
        return [line(len(bounds))], False

    logs = LogFollower(read_range, clock.monotonic, None, lambda _n: None, clock.sleep)
    assert logs.pump(until=clock.now + 0.2) == []  # a check is due: no page
    assert bounds == []
    clock.sleep(0.25)
    assert logs.pump(until=clock.now + 3.0) == [line(1)]
    assert bounds == [3.0], "bounded by the time until the next check"
