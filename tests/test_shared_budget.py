"""The shared-budget estimate: how many consumers spend the token, and the pacing it implies."""

from __future__ import annotations

import httpx
import pytest

from northflank_build.api.ratelimit import RateLimit, SharedBudget
from virtual_clock import EPOCH


def seen(remaining: float, reset: float, at: float, limit: float = 1000) -> RateLimit:
    rate = RateLimit.from_headers(
        httpx.Headers(
            {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(reset),
            }
        ),
        at,
        EPOCH,
    )
    assert rate is not None
    return rate


def feed(
    budget: SharedBudget, per_ours: int, every: float, count: int, start: float = 990
) -> float:
    """Our requests ``every`` s apart while the token loses ``per_ours`` between each."""
    remaining, t = start, 0.0
    for _ in range(count):
        budget.observe(seen(remaining, 3600 - t, t))
        remaining -= per_ours
        t += every
    return t - every


def test_a_lone_step_polling_modestly_is_never_held_back() -> None:
    budget = SharedBudget()
    now = feed(budget, per_ours=1, every=10, count=30)
    assert budget.consumers == pytest.approx(1.0)
    assert budget.pacing_delay(now) == 0.0


def test_twenty_consumers_are_each_held_to_a_fair_share_of_what_is_left() -> None:
    budget = SharedBudget()
    now = feed(budget, per_ours=20, every=10, count=20)
    assert budget.consumers == pytest.approx(20, rel=0.01)
    last = budget.last
    assert last is not None
    assert last.remaining == 990 - 19 * 20
    usable = last.remaining - 20  # 2% of the limit is kept back
    assert budget.pacing_delay(now) == pytest.approx(20 * (3600 - now) / usable, rel=0.01)
    # Twenty consumers at that pace spend the rest just as the window resets.
    assert 20 * (3600 - now) / budget.pacing_delay(now) == pytest.approx(usable, rel=0.01)


def test_a_new_window_is_not_a_sample() -> None:
    budget = SharedBudget()
    budget.observe(seen(10, 5, 0.0))
    budget.observe(seen(999, 3600, 10.0))  # reset: remaining went up
    assert budget.total_rate is None
    assert budget.consumers == 1.0


def test_nothing_usable_left_waits_for_the_reset() -> None:
    budget = SharedBudget()
    budget.observe(seen(40, 600, 0.0))
    budget.observe(seen(15, 590, 10.0))
    assert budget.pacing_delay(10.0) == pytest.approx(590)


def test_without_headers_there_is_no_pacing() -> None:
    assert SharedBudget().pacing_delay(0.0) == 0.0
