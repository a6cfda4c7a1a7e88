from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nfsim import BuildPlan, Simulator
from runneremu import StepResult, run_action

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = json.loads((ROOT / "devtools/nfsim/schemas/northflank-request-schemas.json").read_text())
TOKEN = "nf-test-token-3f9a1c77"
QUICK = BuildPlan(phases=(("PENDING", 0.2), ("STARTING", 0.2), ("BUILDING", 0.4)))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(plan=QUICK) as simulator:
        yield simulator


Runner = Callable[..., StepResult]


@pytest.fixture
def run(sim: Simulator, tmp_path: Path) -> Runner:
    """Run the action as the runner does, with working defaults each test may override."""

    def runner(
        *,
        env: dict[str, str] | None = None,
        workspace: Path | None = None,
        options: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> StepResult:
        """``options`` go to run_action (cancel_after, stage, state, debug); the rest are inputs."""
        with_ = {
            "api-token": TOKEN,
            "api-url": sim.url,
            "project-id": "demo-project",
            "job-id": "demo-job",
            "poll-interval-seconds": "1",
        }
        for key, value in overrides.items():
            name = key.replace("_", "-")
            if value is None:
                with_.pop(name, None)
            else:
                with_[name] = value
        return run_action(ROOT, with_, env=env, workspace=workspace or tmp_path, **(options or {}))

    return runner
