"""The forecast through the whole action: one list request, a window around the usual end."""

from __future__ import annotations

from conftest import Runner
from nfsim import BuildPlan, Simulator
from northflank_build.engine.builds import FORECAST_PAGE

# A 6 s build; earlier builds of the job took 6 s too.
PLAN = BuildPlan(phases=(("PENDING", 1.0), ("BUILDING", 4.0), ("UPLOADING", 1.0)))


def forecast_lists(sim: Simulator) -> int:
    return sum(c.query.get("per_page") == [str(FORECAST_PAGE)] for c in sim.calls("list"))


def test_history_gives_a_window_and_costs_one_list_request(run: Runner, sim: Simulator) -> None:
    sim.set_plan(PLAN)
    sim.world.add_history("demo-project", "job", "demo-job", [5.8, 6.0, 6.1, 6.2, 5.9])
    r = run(poll_interval_seconds="30", show_logs="false")
    assert r.exit_code == 0
    assert r.outputs["status"] == "SUCCESS"
    assert forecast_lists(sim) == 1
    assert "Recent builds of job 'demo-job' took about 6 s (5 builds)" in r.text
    # The window's edges are printed; when the checks fall is tested in virtual time.
    assert "checking every 2 s from 2 s to 10 s" in r.text


def test_no_history_means_no_window_and_no_note(run: Runner, sim: Simulator) -> None:
    r = run(show_logs="false")
    assert r.exit_code == 0
    assert forecast_lists(sim) == 1
    assert "Recent builds" not in r.text


def test_an_unreadable_history_is_not_a_failure(run: Runner, sim: Simulator) -> None:
    from nfsim import Fault

    sim.add_fault(Fault(route="list", status=500, times=5))
    r = run(show_logs="false")
    assert r.exit_code == 0
    assert r.outputs["status"] == "SUCCESS"
    assert forecast_lists(sim) == 1  # tried once, not retried
