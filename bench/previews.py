"""A preview per pull request: how late its run's end and its URL are noticed (median and
p95), and what one preview costs in requests.

The action's real core (run_step, the client, the schedule with the forecast read from the
blueprint's recent runs, the budget) deploys preview pr-42 of the simulator's blueprint
demo-preview in virtual time: 10 earlier runs of its typical duration as history, each run
its typical duration x log-normal noise (sigma 0.1), the web service's dns appearing a
varied delay (0.5 to 30 s) after the run concluded. Run: make bench
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
from northflank_build.inputs.event import EventFacts
from virtual_clock import VirtualClock

SEED = 20261203
TYPICAL_S = (60.0, 180.0, 300.0, 600.0)
DNS_AFTER_S = (0.5, 3.0, 10.0, 30.0)
RUNS_EACH = 3


@dataclass
class Seen:
    clock: VirtualClock
    at: float | None = None
    url_at: float | None = None
    notes: list[str] = field(default_factory=list)

    def watch(self, *_args: object, **_kwargs: object) -> Seen:
        return self

    def status(self, run: Any, _elapsed: float) -> None:
        if run.finished and self.at is None:
            self.at = self.clock.monotonic()

    def note(self, message: str) -> None:
        if message.startswith("Preview") and " is up: " in message:
            self.url_at = self.clock.monotonic()

    def __getattr__(self, _name: str) -> object:
        return lambda *args, **kwargs: None


def one(typical: float, seconds: float, dns_after: float) -> tuple[float, float, Counter[str]]:
    clock = VirtualClock()
    sim = Simulator(clock=clock)
    rng = random.Random(f"{SEED}-{typical}")
    history = [typical * rng.lognormvariate(0, 0.1) for _ in range(10)]
    add_history(sim.world, "demo-project", "preview-blueprint", "demo-preview", "", history)
    sim.world.template_plan = TemplatePlan(queued_s=0.0, node_s=seconds / len(NODES))
    sim.world.previews.dns_after_s = dns_after
    values = {"api-token": "t", "project-id": "demo-project", "api-url": "http://127.0.0.1:9",
              "preview-blueprint": "demo-preview", "timeout-seconds": "7200"}  # fmt: skip
    event = EventFacts("pull_request", "synchronize", 42, "feature")
    values["preview-name"] = "pr-42"
    config = parse_inputs(values.get, {}, Path.cwd(), lambda _s: None, event=event,
                          run_identity=("gha-1-1-bench", "bench"))  # fmt: skip
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
    ended = run.created_mono + seconds
    assert seen.at is not None
    assert seen.url_at is not None
    return (
        seen.at - ended,
        seen.url_at - (ended + dns_after),
        Counter(r.route for r in sim.requests),
    )


def main() -> None:
    print(__doc__.split("\n\n")[0].replace("\n", " "))
    ends: list[float] = []
    urls: list[float] = []
    totals: Counter[str] = Counter()
    runs = 0
    for typical in TYPICAL_S:
        rng = random.Random(f"{SEED}-runs-{typical}")
        for dns_after in DNS_AFTER_S:
            for _ in range(RUNS_EACH):
                end, url, requests = one(typical, typical * rng.lognormvariate(0, 0.1), dns_after)
                ends.append(end)
                urls.append(url)
                totals.update(requests)
                runs += 1
    for name, values in (("run's end", ends), ("URL after its dns appeared", urls)):
        values.sort()
        p95 = figures.p95(values)
        print(
            f"{name}: noticed {statistics.median(values):.2f} s late (median), p95 {p95:.2f} s, "
            f"at most {values[-1]:.2f} s, over {len(values)} previews (target <= 2 s)"
        )
    per = {route: round(count / runs, 1) for route, count in sorted(totals.items())}
    print(f"requests per preview: {sum(totals.values()) / runs:.1f} ({per})")


if __name__ == "__main__":
    main()
