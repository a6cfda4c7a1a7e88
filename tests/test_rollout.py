"""When a rollout counts as finished (engine/ship.py: Rollout), from GET service's fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from northflank_build.api.models import Service
from northflank_build.engine.rollout import REQUESTED, Rollout
from testdata import SHA

OLD = "53b927c349a0782714efe9742a0cad78755920ef"
BEFORE = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def service(status: str | None, at: Any, deployed: str = OLD) -> Service:
    return Service.model_validate({
        "id": "web",
        "status": {"deployment": {"status": status, "lastTransitionTime": at}},
        "deployment": {"instances": 2, "internal": {"deployedSHA": deployed}},
    })  # fmt: skip


@pytest.mark.parametrize(
    ("status", "at", "deployed", "shown", "finished", "succeeded"),
    [
        # Still the state from before the PATCH: not yet, whatever it says.
        ("COMPLETED", "2026-11-30T12:00:00Z", SHA, REQUESTED, False, False),
        ("COMPLETED", "2026-11-30T11:00:00Z", OLD, REQUESTED, False, False),
        ("FAILED", "2026-11-30T12:00:00.000Z", OLD, REQUESTED, False, False),
        # Moved since the PATCH.
        ("PENDING", "2026-11-30T12:00:01Z", OLD, "PENDING", False, False),
        ("IN_PROGRESS", "2026-11-30T12:00:02Z", OLD, "IN_PROGRESS", False, False),
        ("COMPLETED", "2026-11-30T12:00:03Z", SHA, "COMPLETED", True, True),
        ("completed", "2026-11-30T12:00:03Z", SHA.upper(), "COMPLETED", True, True),
        ("FAILED", "2026-11-30T12:00:03Z", OLD, "FAILED", True, False),
        # COMPLETED with another commit (someone else's deploy): not this one, not yet.
        ("COMPLETED", "2026-11-30T12:00:03Z", OLD, "COMPLETED", False, False),
        # An unreadable transition time cannot be placed after the PATCH.
        ("COMPLETED", "not a time", SHA, REQUESTED, False, False),
        ("COMPLETED", None, SHA, REQUESTED, False, False),
    ],
)
def test_a_rollout_is_judged_against_the_transition_noted_before_the_patch(
    status: str, at: Any, deployed: str, shown: str, finished: bool, succeeded: bool
) -> None:
    rollout = Rollout(service(status, at, deployed), BEFORE, SHA)
    assert (rollout.status, rollout.finished, rollout.succeeded) == (shown, finished, succeeded)


def test_a_service_never_deployed_before_takes_any_transition() -> None:
    rollout = Rollout(service("COMPLETED", "2020-01-01T00:00:00Z", SHA), None, SHA)
    assert rollout.finished
    assert rollout.succeeded
