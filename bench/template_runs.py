"""A release-flow run's end, noticed: how late (median and p95) and at what cost in
requests, over runs of varied durations.

The action's real core (run_step, the client, the schedule with the forecast read from the
flow's recent runs, the budget) runs in virtual time against the simulator in process:
the staging stage of demo-pipeline, alone in the step, with 10 earlier runs of its
typical duration as history; each run lasts its typical duration x log-normal noise (sigma
0.1). Latency is the time from the run's conclusion to the moment the step saw it
concluded. The default poll interval (30 s) applies; the forecast makes the checks dense
where the end is likely. Run: make bench
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import figures

from nfsim import Simulator
from nfsim.inprocess import SimTransport
from nfsim.templates import NODES, TemplatePlan, add_history
from northflank_build.api.client import NorthflankClient
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.run import run_step
from northflank_build.inputs.config import parse_inputs
from virtual_clock import VirtualClock

SEED = 20261203
TYPICAL_S = (60.0, 180.0, 300.0, 600.0, 1200.0)
RUNS_PER_DURATION = 8


@dataclass
class Seen:
    """When the run was seen concluded (virtual seconds)."""

    clock: VirtualClock
    at: float | None = None
    notes: list[str] = field(default_factory=list)

    def watch(self, *_args: object, **_kwargs: object) -> Seen:
        return self

    def status(self, run: Any, _elapsed: float) -> None:
        if run.finished and self.at is None:
            self.at = self.clock.monotonic()

    def note(self, message: str) -> None:
        self.notes.append(message)

    def __getattr__(self, _name: str) -> object:
        return lambda *args, **kwargs: None


def one(typical: float, seconds: float) -> tuple[float, Counter[str]]:
    """One step running the release flow once: its latency and its requests by route."""
    clock = VirtualClock()
    sim = Simulator(clock=clock)
    rng = random.Random(f"{SEED}-{typical}")
    history = [typical * rng.lognormvariate(0, 0.1) for _ in range(10)]
    add_history(sim.world, "demo-project", "release-flow", "demo-pipeline", "staging", history)
    sim.world.template_plan = TemplatePlan(queued_s=0.0, node_s=seconds / len(NODES))
    values = {"api-token": "t", "project-id": "demo-project", "api-url": "http://127.0.0.1:9",
              "release-flow": "demo-pipeline/staging", "timeout-seconds": "7200"}  # fmt: skip
    config = parse_inputs(
        values.get, {}, Path.cwd(), lambda _s: None, run_identity=("gha-1-1-bench", "bench")
    )
    seen = Seen(clock)
    client = NorthflankClient(
        api_url=config.connection.api_url, token="t", project_id="demo-project", team_id=None,
        clock=clock, transport=SimTransport(sim), deadline=clock.monotonic() + 7200,
    )  # fmt: skip
    sim.requests.clear()
    with client:
        report = run_step(config, client, clock, CancelScope(), seen)  # type: ignore[arg-type]
    assert report.outcome.value == "succeeded", report
    run = sim.world.template_runs[-1]
    ended = run.created_mono + run.plan.queued_s + seconds
    assert seen.at is not None
    return seen.at - ended, Counter(r.route for r in sim.requests)


def main() -> None:
    print(__doc__.split("\n\n")[0].replace("\n", " "))
    latencies: list[float] = []
    totals: Counter[str] = Counter()
    runs = 0
    for typical in TYPICAL_S:
        rng = random.Random(f"{SEED}-runs-{typical}")
        mine, spent = [], 0
        for _ in range(RUNS_PER_DURATION):
            late, requests = one(typical, typical * rng.lognormvariate(0, 0.1))
            mine.append(late)
            totals.update(requests)
            spent += sum(requests.values())
            runs += 1
        latencies += mine
        print(
            f"  typical {typical:6.0f} s: end noticed {statistics.median(mine):.2f} s late "
            f"(median), {max(mine):.2f} s at most, {spent / len(mine):.1f} requests a run "
            f"(a 10 s poller: {typical / 10:.0f}), over {len(mine)} runs"
        )
    latencies.sort()
    p95 = figures.p95(latencies)
    print(
        f"all {len(latencies)} runs: median {statistics.median(latencies):.2f} s, "
        f"p95 {p95:.2f} s (target <= 2 s)"
    )
    per_run = {route: round(count / runs, 1) for route, count in sorted(totals.items())}
    print(f"requests per run: {sum(totals.values()) / runs:.1f} ({per_run})")


if __name__ == "__main__":
    main()
