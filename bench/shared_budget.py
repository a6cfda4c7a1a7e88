"""20 steps on one token for 30 minutes: does anyone hit a 429? In virtual time.

Each step is a thread running the action's real core (``run_step`` with the real client,
schedule, waiting loop and pacing) against a mock Northflank (httpx MockTransport) that keeps
one rate-limit window for the token: 1000 requests an hour from the first request, the
``x-ratelimit-*`` headers on every response, 429 once it is spent. A step starts a build,
waits for it, and starts the next, for 30 minutes; builds of a step's job take a duration
drawn as in detection_latency.py (typical 40 s to 30 min, per-build noise, cache misses,
failures), and each job has 10 earlier builds for the forecast. Logs are on (one socket per
build, counted as a request; it closes when the build concludes).

Time is shared and virtual: only one thread runs at a time, and the clock jumps to the
earliest wake-up once every thread sleeps, so 30 minutes take seconds and runs repeat.
"without the shared-budget estimate" replaces it with the rule before issue #6 (spread
the rest of the budget only below 10% remaining), to show what it prevents.
Run: make bench
"""

from __future__ import annotations

import heapq
import random
import statistics
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import figures
import httpx
from detection_latency import HISTORY, ClosingTail, SimBuild, job_builds
from log_requests import Quiet, iso

from northflank_build.api import ratelimit
from northflank_build.api.client import NorthflankClient
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.run import run_step
from northflank_build.inputs.config import parse_inputs
from virtual_clock import EPOCH

STEPS = 20
SPAN_S = 1800.0
LIMIT = 1000
WINDOW_S = 3600.0
SEED = 20261124


class SharedTime:
    """Virtual time for many threads: the clock moves only when every thread sleeps."""

    def __init__(self, parties: int) -> None:
        self.now = 0.0
        self._lock = threading.Lock()
        self._running = parties
        self._sleepers: list[tuple[float, int, threading.Event]] = []
        self._seq = 0

    def _advance(self) -> None:
        if self._running == 0 and self._sleepers:
            wake, _, event = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            self._running += 1
            event.set()

    def sleep(self, seconds: float) -> None:
        event = threading.Event()
        with self._lock:
            self._seq += 1
            heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._seq, event))
            self._running -= 1
            self._advance()
        event.wait()

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            self._advance()


class SharedClock:
    """One step's view of the time all the steps share (not a virtual clock of its own)."""

    def __init__(self, shared: SharedTime) -> None:
        self.shared = shared

    def monotonic(self) -> float:
        return self.shared.now

    def wall(self) -> float:
        return EPOCH + self.shared.now

    def sleep(self, seconds: float) -> bool:
        self.shared.sleep(seconds)
        return False


class Token:
    """The rate-limit window every step shares."""

    def __init__(self, time: SharedTime) -> None:
        self.time = time
        self.window_start: float | None = None
        self.used = 0
        self.requests = 0
        self.rejected: Counter[str] = Counter()  # 429s by kind of request

    def spend(self, kind: str) -> tuple[bool, dict[str, str]]:
        now = self.time.now
        if self.window_start is None or now >= self.window_start + WINDOW_S:
            self.window_start, self.used = now, 0
        self.requests += 1
        allowed = self.used < LIMIT
        if allowed:
            self.used += 1
        else:
            self.rejected[kind] += 1
        reset = self.window_start + WINDOW_S - now
        return allowed, {
            "x-ratelimit-limit": str(LIMIT),
            "x-ratelimit-remaining": str(LIMIT - self.used),
            "x-ratelimit-reset": f"{reset:.0f}",
        }


class Step:
    def __init__(
        self, n: int, time: SharedTime, token: Token, builds: list[SimBuild], logs: bool
    ) -> None:
        self.n, self.time, self.token, self.logs = n, time, token, logs
        self.clock = SharedClock(time)
        self.history = builds[:HISTORY]
        self.upcoming = builds[HISTORY:]
        self.current: tuple[float, SimBuild] | None = None
        self.latencies: list[float] = []
        self.outcomes: list[Outcome] = []

    def view(self, build_id: str, started: float, build: SimBuild) -> dict[str, Any]:
        done = self.clock.monotonic() >= started + build.duration
        status = ("SUCCESS" if build.succeeded else "FAILURE") if done else "BUILDING"
        view: dict[str, Any] = {"id": build_id, "status": status, "concluded": done,
                                "success": done and build.succeeded, "createdAt": iso(started)}  # fmt: skip
        if done:
            view["buildConcludedAt"] = EPOCH + started + build.duration
        return view

    def handler(self, request: httpx.Request) -> httpx.Response:
        kind = (
            "start"
            if request.method == "POST"
            else "list"
            if request.url.path.endswith("/build")
            else "status"
        )
        allowed, headers = self.token.spend(kind)
        if not allowed:
            return httpx.Response(429, headers=headers, text="Too Many Requests")
        if request.method == "POST":
            build = self.upcoming.pop(0) if self.upcoming else self.history[-1]
            self.current = (self.clock.monotonic(), build)
            return httpx.Response(
                200, headers=headers, json={"data": self.view(f"s{self.n}-now", *self.current)}
            )
        if request.url.path.endswith("/build"):
            past = [
                self.view(f"s{self.n}-old{k}", -3600.0 * (k + 1), b)
                for k, b in enumerate(self.history)
            ]
            return httpx.Response(200, headers=headers, json={"data": {"builds": past}})
        assert self.current is not None
        return httpx.Response(
            200, headers=headers, json={"data": self.view(f"s{self.n}-now", *self.current)}
        )

    def open_tail(self, _url: str, _token: str, _timeout: float) -> ClosingTail:
        self.token.spend("socket")  # the upgrade request counts
        assert self.current is not None
        started, build = self.current
        return ClosingTail(self.clock.monotonic, started + build.duration + 0.3)

    def run(self) -> None:
        try:
            values = {"api-token": "t", "project-id": "p", "job-id": f"j{self.n}", "sha": "a" * 40,
                      "show-logs": "true" if self.logs else "false"}  # fmt: skip
            config = parse_inputs(values.get, {}, Path.cwd(), lambda _s: None)
            client = NorthflankClient(api_url="https://api.example.com", token="t", project_id="p",
                                      team_id=None, clock=self.clock,
                                      transport=httpx.MockTransport(self.handler))  # fmt: skip
            # Staggered starts over the first minute, as jobs of one push would be.
            self.clock.sleep(self.n * 3.0)
            while self.clock.monotonic() < SPAN_S and self.upcoming:
                report = run_step(config, client, self.clock, CancelScope(), Quiet(),
                                   open_tail=self.open_tail)  # fmt: skip
                self.outcomes.append(report.outcome)
                build_seen = report.builds[0].build if report.builds else None
                if self.current is not None and build_seen is not None and build_seen.finished:
                    started, build = self.current
                    self.latencies.append(self.clock.monotonic() - (started + build.duration))
                # The next push: a short pause between builds of one step.
                self.clock.sleep(20.0)
        finally:
            self.time.leave()


def simulate(scenario: str, shared_estimate: bool, logs: bool = True) -> None:
    rng = random.Random(SEED)
    time = SharedTime(STEPS)
    token = Token(time)
    if scenario == LONG:
        # One build per step, of a job whose builds take about 30 minutes.
        jobs = [job_builds(rng, typical=SPAN_S)[: HISTORY + 1] for _ in range(STEPS)]
    else:
        jobs = [job_builds(rng) + job_builds(rng) for _ in range(STEPS)]
    steps = [Step(n, time, token, builds, logs) for n, builds in enumerate(jobs)]
    original = ratelimit.SharedBudget.pacing_delay
    if not shared_estimate:

        def old_rule(self: ratelimit.SharedBudget, now: float) -> float:
            return self.last.pacing_delay(now) if self.last else 0.0

        ratelimit.SharedBudget.pacing_delay = old_rule  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=s.run, daemon=True) for s in steps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    finally:
        ratelimit.SharedBudget.pacing_delay = original  # type: ignore[method-assign]
    latencies = sorted(x for s in steps for x in s.latencies)
    outcomes = [o for s in steps for o in s.outcomes]
    errors = sum(o is Outcome.ERROR for o in outcomes)
    seen = (
        f"detection latency median {statistics.median(latencies):.1f} s, "
        f"p95 {figures.p95(latencies):.1f} s"
        if latencies
        else "no build was seen to conclude"
    )
    by_kind = (
        f" ({', '.join(f'{k} {n}' for k, n in token.rejected.items())})" if token.rejected else ""
    )
    name = "with the shared-budget estimate" if shared_estimate else "without it (rule before #6)"
    name += "" if logs else ", logs off"
    print(
        f"  {name}: {token.requests} requests in {time.now / 60:.0f} min, {token.rejected.total()} answered 429{by_kind}; "
        f"{len(outcomes)} builds, {errors} ended in an error; " + seen
    )


LONG = f"{STEPS} steps on one token ({LIMIT} requests/hour), each waiting on a ~30 min build"
BACK_TO_BACK = f"stress: {STEPS} steps starting builds of the mix back to back for 30 min"


def main() -> None:
    for scenario in (LONG, BACK_TO_BACK):
        print(scenario + ":")
        simulate(scenario, shared_estimate=True)
        if scenario == LONG:
            simulate(scenario, shared_estimate=True, logs=False)
        simulate(scenario, shared_estimate=False)


if __name__ == "__main__":
    main()
