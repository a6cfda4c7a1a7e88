"""One target against five in one step: requests and detection latency per build.

The action's real core (run_step with the real client, schedule, log tail and budget) runs
in virtual time against the simulator in process (its transport and live tail), on the
same builds both ways: five jobs whose typical durations are 1, 3, 5, 10 and 20 minutes,
each with 10 builds of history (for the forecast), each build its job's typical duration x
log-normal noise (sigma 0.1), over ROUNDS seeded rounds. "one" runs a step per job, one
after the other; "five" runs one step with all five jobs. Latency is the time from a build's
conclusion to the moment the step saw it concluded. Logs off (show-logs: false, the stream
as the end signal) and on. Run: make bench
"""

from __future__ import annotations

import random
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import figures

from nfsim import BuildPlan, Simulator
from nfsim.inprocess import SimTail, SimTransport
from northflank_build.api.client import NorthflankClient
from northflank_build.api.models import Build
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.run import run_step
from northflank_build.inputs.config import parse_inputs
from testdata import SHA
from virtual_clock import VirtualClock

SEED = 20261130
ROUNDS = 4
TYPICAL_S = {"job-a": 60.0, "job-b": 180.0, "job-c": 300.0, "job-d": 600.0, "job-e": 1200.0}
# A line per phase only: what is measured is requests and latency, and the live tail costs
# no request per line (a simulated build's steady output would only slow the bench).
PLAN = BuildPlan(
    phases=(("PENDING", 0.05), ("BUILDING", 0.9), ("UPLOADING", 0.05)), lines_per_second=0.0
)


@dataclass
class Seen:
    """When each build was seen concluded (virtual seconds), by job."""

    clock: VirtualClock
    at: dict[str, float] = field(default_factory=dict)

    def watch(self, _kind: object, name: str, _label: str, *, several: bool) -> Listener:
        return Listener(self, name)

    def __getattr__(self, _name: str) -> object:
        return lambda *args, **kwargs: None


@dataclass
class Listener:
    seen: Seen
    job: str

    def status(self, build: Build, _elapsed: float) -> None:
        if build.finished:
            self.seen.at.setdefault(self.job, self.seen.clock.monotonic())

    def __getattr__(self, _name: str) -> object:
        return lambda *args, **kwargs: None


def step(
    jobs: list[str], durations: dict[str, float], logs: bool
) -> tuple[Counter[str], list[float]]:
    """One step building ``jobs``: its requests by route, and each build's latency."""
    clock = VirtualClock()
    sim = Simulator(plan=PLAN, clock=clock)
    sim.world.projects["demo-project"].update(TYPICAL_S)
    for job in jobs:
        rng = random.Random(f"{SEED}-{job}")  # the same history whichever jobs run with it
        history = [TYPICAL_S[job] * rng.lognormvariate(0, 0.1) for _ in range(10)]
        sim.world.add_history("demo-project", "job", job, history, gap_s=3600)
        sim.world.plans[job] = PLAN.lasting(durations[job])
    values = {"api-token": "t", "project-id": "demo-project", "job-id": ",".join(jobs),
              "sha": SHA, "show-logs": "true" if logs else "false",
              "timeout-seconds": "7200"}  # fmt: skip
    config = parse_inputs(values.get, {}, Path.cwd(), lambda _s: None)
    client = NorthflankClient(api_url=sim.url, token="t", project_id="demo-project",
                              team_id=None, clock=clock, transport=SimTransport(sim),
                              deadline=clock.monotonic() + 7200)  # fmt: skip
    seen = Seen(clock)
    report = run_step(config, client, clock, CancelScope(), seen,  # type: ignore[arg-type]
                       open_tail=lambda url, token, t: SimTail(sim, url, token, t))  # fmt: skip
    assert all(b.build is not None and b.build.finished for b in report.builds), report
    latencies = []
    for build in sim.world.builds:
        if build.sha == SHA:
            latencies.append(seen.at[build.resource] - (build.created_mono + build.plan.duration))
    sim.stop()
    return Counter(r.route for r in sim.requests), latencies


def main() -> None:
    rng = random.Random(SEED)
    rounds = [
        {job: typical * rng.lognormvariate(0, 0.1) for job, typical in TYPICAL_S.items()}
        for _ in range(ROUNDS)
    ]
    jobs = list(TYPICAL_S)
    print(
        f"{ROUNDS} rounds of 5 builds (typical {', '.join(f'{t:.0f}' for t in TYPICAL_S.values())} s)"
    )
    print(
        f"{'logs':<5} {'how':<22} {'requests':>9} {'per build':>10} {'latency median':>15} {'p95':>6}  by route"
    )
    for logs in (False, True):
        for how in ("one (5 steps of 1)", "five (1 step of 5)"):
            counts: Counter[str] = Counter()
            latencies: list[float] = []
            for durations in rounds:
                runs = [[job] for job in jobs] if how.startswith("one") else [jobs]
                for group in runs:
                    got, late = step(group, durations, logs)
                    counts += got
                    latencies += late
            total = sum(counts.values())
            builds = ROUNDS * len(jobs)
            p95 = figures.p95(latencies)
            routes = ", ".join(f"{route} {n / builds:.1f}" for route, n in sorted(counts.items()))
            print(
                f"{'on' if logs else 'off':<5} {how:<22} {total:>9} {total / builds:>10.1f} "
                f"{statistics.median(latencies):>13.2f} s {p95:>5.2f}  {routes}"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
