"""The waiting loop in virtual time: no test here sleeps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from northflank_build.api.errors import AuthenticationFailed, ServerError, TransportFailure
from northflank_build.api.models import Build
from northflank_build.engine.schedule import PollSchedule
from northflank_build.engine.waiting import WaitEnd
from virtual_clock import VirtualClock
from waitfor import WaitPolicy, wait_for


def timeline(*steps: tuple[float, str, bool]) -> Callable[[VirtualClock], Callable[[], Build]]:
    """A build that has ``status`` (concluded or not) from time ``t`` on."""

    def make(clock: VirtualClock) -> Callable[[], Build]:
        def fetch() -> Build:
            current = steps[0]
            for step in steps:
                if clock.now >= step[0]:
                    current = step
            _, status, done = current
            return Build(
                id="b", status=status, concluded=done, success=status == "SUCCESS" if done else None
            )

        return fetch

    return make


def wait(
    fetch: Callable[[], Build],
    clock: VirtualClock,
    timeout: float = 600,
    interval: float = 10,
    pacing: Callable[[], float] = lambda: 0.0,
    schedule: PollSchedule | None = None,
) -> tuple[WaitEnd, Build, list[str], list[Exception]]:
    seen: list[str] = []
    troubles: list[Exception] = []
    result = wait_for(
        Build(id="b", status="PENDING", concluded=False),
        fetch,
        WaitPolicy(timeout_s=timeout, schedule=schedule or PollSchedule(interval)),
        clock,
        on_change=lambda b, _t: seen.append(b.status or ""),
        on_trouble=lambda e, _t: troubles.append(e),
        pacing=pacing,
    )
    return result.end, result.last, seen, troubles


def test_concludes_and_reports_each_status_once() -> None:
    clock = VirtualClock()
    fetch = timeline(
        (0, "PENDING", False),
        (5, "BUILDING", False),
        (60, "UPLOADING", False),
        (70, "SUCCESS", True),
    )(clock)
    end, build, seen, _ = wait(fetch, clock)
    assert end is WaitEnd.CONCLUDED
    assert build.succeeded
    assert seen == ["PENDING", "BUILDING", "UPLOADING", "SUCCESS"]
    assert 70 <= clock.now <= 80  # noticed within one max interval


def test_polls_densely_first_then_at_most_the_interval() -> None:
    clock = VirtualClock()
    fetch = timeline((0, "BUILDING", False), (300, "SUCCESS", True))(clock)
    wait(fetch, clock, interval=10)
    assert clock.sleeps[0] == 1.0
    assert clock.sleeps == sorted(clock.sleeps)
    assert max(clock.sleeps) == 10.0
    assert len(clock.sleeps) <= 300 / 10 + 8


def test_unknown_status_that_has_not_concluded_means_running() -> None:
    clock = VirtualClock()
    fetch = timeline((0, "SOMETHING_NEW", False), (30, "FAILURE", True))(clock)
    end, build, seen, _ = wait(fetch, clock)
    assert end is WaitEnd.CONCLUDED
    assert not build.succeeded
    assert seen == ["PENDING", "SOMETHING_NEW", "FAILURE"]


def test_times_out_at_the_deadline() -> None:
    clock = VirtualClock()
    end, build, _, _ = wait(timeline((0, "BUILDING", False))(clock), clock, timeout=45, interval=10)
    assert end is WaitEnd.TIMED_OUT
    assert build.status == "BUILDING"
    assert clock.now == pytest.approx(45)


def test_cancel_wakes_the_wait() -> None:
    clock = VirtualClock(cancel_when=lambda t: t >= 12)
    end, _, _, _ = wait(timeline((0, "BUILDING", False))(clock), clock)
    assert end is WaitEnd.CANCELLED
    assert clock.now < 25


def test_transient_failures_are_outlived() -> None:
    clock = VirtualClock()
    inner = timeline((0, "BUILDING", False), (40, "SUCCESS", True))(clock)
    calls = {"n": 0}

    def flaky() -> Build:
        calls["n"] += 1
        if calls["n"] in (2, 3, 4):
            raise (
                ServerError(502, "read", "bad gateway")
                if calls["n"] % 2
                else TransportFailure("reset")
            )
        return inner()

    end, build, _, troubles = wait(flaky, clock)
    assert end is WaitEnd.CONCLUDED
    assert build.succeeded
    assert len(troubles) == 3


def test_permanent_errors_stop_the_wait() -> None:
    def denied() -> Build:
        raise AuthenticationFailed(401, "read", "token revoked")

    with pytest.raises(AuthenticationFailed):
        wait(denied, VirtualClock())


def test_rate_limit_pacing_stretches_the_interval() -> None:
    clock = VirtualClock()
    fetch = timeline((0, "BUILDING", False), (120, "SUCCESS", True))(clock)
    wait(fetch, clock, interval=5, pacing=lambda: 30.0)
    assert min(clock.sleeps) == 30.0
