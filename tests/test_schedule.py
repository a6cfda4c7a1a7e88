"""The poll schedule and the forecast it is built from, in virtual time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from northflank_build.api.models import Build
from northflank_build.api.timestamps import format_timestamp
from northflank_build.engine.schedule import DENSE_S, Forecast, PollSchedule
from northflank_build.engine.waiting import WaitEnd
from virtual_clock import VirtualClock
from waitfor import WaitPolicy, wait_for

T0 = 1_790_000_000.0


def past(build_id: str, created: float, duration: float, status: str = "SUCCESS") -> Build:
    return Build(
        id=build_id,
        status=status,
        concluded=True,
        success=status == "SUCCESS",
        created_at=format_timestamp(datetime.fromtimestamp(created, tz=UTC)),
        build_concluded_at=created + duration,
    )


def checks(schedule: PollSchedule, ends_at: float) -> tuple[float, int]:
    """Run the real waiting loop on a build ending at ``ends_at``: (latency, checks)."""
    clock = VirtualClock()
    requests = 0

    def fetch() -> Build:
        nonlocal requests
        requests += 1
        done = clock.now >= ends_at
        return Build(id="b", status="SUCCESS" if done else "BUILDING", concluded=done)

    result = wait_for(
        Build(id="b", status="PENDING", concluded=False),
        fetch,
        WaitPolicy(timeout_s=1e9, schedule=schedule),
        clock,
        on_change=lambda *_: None,
        on_trouble=lambda *_: None,
    )
    assert result.end is WaitEnd.CONCLUDED
    return clock.now - ends_at, requests


def test_forecast_needs_three_durations_and_ignores_nonsense() -> None:
    assert Forecast.from_durations([300, 310]) is None
    assert Forecast.from_durations([300, 0, -5, math.nan, 310]) is None
    forecast = Forecast.from_durations([300, 310, 290])
    assert forecast is not None
    assert forecast.median_s == pytest.approx(300)
    assert forecast.samples == 3


def test_forecast_spread_is_robust_to_one_outlier_and_has_a_floor() -> None:
    steady = Forecast.from_durations([600] * 10)
    assert steady is not None
    assert steady.spread == pytest.approx(0.02)
    with_outlier = Forecast.from_durations([600, 610, 590, 605, 595, 3600])
    assert with_outlier is not None
    assert with_outlier.median_s == pytest.approx(602.5, rel=0.01)
    assert with_outlier.spread < 0.03


def test_forecast_from_builds_uses_the_newest_successes_only() -> None:
    old = [past(f"old-{n}", T0 + n, 100) for n in range(30)]
    new = [past(f"new-{n}", T0 + 10_000 + n, 400) for n in range(20)]
    failed = [past(f"bad-{n}", T0 + 20_000 + n, 5, "FAILURE") for n in range(5)]
    running = Build(id="now", status="BUILDING", concluded=False, created_at="2026-01-01T00:00:00Z")
    undated = Build(id="undated", status="SUCCESS", concluded=True, success=True)
    # The page's order is undocumented: shuffle it, and the newest 20 still win.
    builds = old[::2] + new[::-1] + failed + [running, undated] + old[1::2]
    forecast = Forecast.from_builds(builds, exclude="now")
    assert forecast is not None
    assert forecast.median_s == pytest.approx(400)
    assert forecast.samples == 20
    assert Forecast.from_builds([past("x", T0, 100)] * 2, exclude="now") is None
    # A conclusion stamped in milliseconds is read as such (timestamps.py), not as decades.
    in_ms = [past(f"ms-{n}", T0 + n, 0) for n in range(5)]
    in_ms = [
        b.model_copy(update={"build_concluded_at": (T0 + n + 300) * 1000})
        for n, b in enumerate(in_ms)
    ]
    in_ms_forecast = Forecast.from_builds(in_ms, exclude="now")
    assert in_ms_forecast is not None
    assert in_ms_forecast.median_s == pytest.approx(300)
    # One that cannot be a time at all (far future, NaN) is left out.
    nonsense = [
        b.model_copy(update={"build_concluded_at": value})
        for b, value in zip(in_ms, (1e20, float("nan"), -1e15, float("inf"), 1.79e16), strict=True)
    ]
    assert Forecast.from_builds(nonsense, exclude="now") is None


def test_without_a_forecast_checks_start_at_1_s_and_grow_to_the_longest_pause() -> None:
    schedule = PollSchedule(30)
    pauses = [schedule.pause(0, polls) for polls in range(12)]
    assert pauses[:3] == [1.0, 1.5, 2.25]
    assert pauses == sorted(pauses)
    assert pauses[-1] == 30


def test_thousands_of_checks_do_not_overflow_the_growth() -> None:
    # 1 s pauses for a 2-hour build: 7200 checks; 1.5 ** 7200 is not a float.
    assert PollSchedule(1).pause(0, 7200) == 1.0
    late = PollSchedule(10, Forecast(median_s=60, spread=0.05, samples=10))
    overrun = [late.pause(1000 + n, n) for n in range(3000)]  # grows from 2 s again
    assert overrun[:3] == [3.0, 4.5, 6.75]
    assert set(overrun[3:]) == {10.0}


def test_window_is_dense_around_the_median_and_sparse_before() -> None:
    forecast = Forecast(median_s=600, spread=0.05, samples=10)
    schedule = PollSchedule(30, forecast)
    assert schedule.window is not None
    lo, hi = schedule.window
    assert lo < 600 < hi
    assert schedule.pause(lo + 1, 20) == DENSE_S == schedule.pause(hi - 1, 40)
    assert schedule.pause(lo / 2, 20) == 30
    # Sparse checks land on the window's opening instead of jumping over it.
    assert schedule.pause(lo - 7, 20) == pytest.approx(7)


@pytest.mark.parametrize("median", [300.0, 600.0, 1800.0])
def test_builds_ending_near_the_median_are_noticed_within_dense_interval_on_budget(
    median: float,
) -> None:
    schedule = PollSchedule(30, Forecast(median_s=median, spread=0.05, samples=10))
    for end in (median * 0.97, median, median * 1.03):
        latency, requests = checks(PollSchedule(30, schedule.forecast), end)
        assert latency <= DENSE_S
        # With the list request that made the forecast: no more than a fixed 10 s poller.
        assert requests + 1 <= math.ceil(end / 10)


def test_short_builds_cost_about_what_the_growing_start_costs_anyway() -> None:
    for median in (20.0, 45.0, 90.0):
        forecast = Forecast(median_s=median, spread=0.05, samples=10)
        latency, requests = checks(PollSchedule(30, forecast), median)
        _, plain = checks(PollSchedule(30), median)
        assert latency <= DENSE_S
        assert requests <= plain + 4


def test_wide_spread_narrows_the_window_to_the_budget() -> None:
    narrow = PollSchedule(30, Forecast(median_s=600, spread=0.03, samples=10)).window
    wide = PollSchedule(30, Forecast(median_s=600, spread=0.5, samples=10)).window
    assert narrow is not None
    assert wide is not None
    # In spreads, the wide forecast gets a narrower window; in seconds, what the budget pays.
    assert (math.log(wide[1] / 600)) / 0.5 < (math.log(narrow[1] / 600)) / 0.03
    _, requests = checks(PollSchedule(30, Forecast(median_s=600, spread=0.5, samples=10)), 600)
    assert requests + 1 <= 60


def test_an_overrun_grows_again_from_dense_to_the_longest_pause() -> None:
    schedule = PollSchedule(30, Forecast(median_s=300, spread=0.05, samples=10))
    assert schedule.window is not None
    after = schedule.window[1] + 1
    pauses = [schedule.pause(after + n, 50 + n) for n in range(12)]
    assert pauses[0] > DENSE_S
    assert pauses == sorted(pauses)
    assert pauses[-1] == 30
    latency, _ = checks(PollSchedule(30, schedule.forecast), 2000)
    assert latency <= 30


def test_a_long_pause_asked_for_shrinks_the_budget() -> None:
    forecast = Forecast(median_s=600, spread=0.2, samples=10)
    default = PollSchedule(30, forecast).window
    frugal = PollSchedule(300, forecast).window
    assert default is not None
    assert frugal is not None
    assert frugal[1] - frugal[0] < default[1] - default[0]
