"""Detection latency and requests of the waiting loop, in virtual time, against fixed pollers.

Latency is the time from the moment a build concludes to the moment the waiting loop
returns. Every poller sees the same builds, a seeded mix meant to look like CI image builds:

- 40 jobs whose typical duration is log-uniform from 40 s to 30 min;
- each build of a job: typical x log-normal noise, sigma 0.03 to 0.15 per job (layer caches
  make builds of one job similar);
- 5% cache misses (1.5 to 3 times longer), 8% failures at a random point of the build;
- 10 builds of history per job before the 12 that are measured (480 measured builds).

"this action" runs the real schedule (``PollSchedule`` with a ``Forecast`` from the job's
previous builds) in the real waiting loop, and counts the list request the forecast costs.
With the live stream (logs on; and logs off, where the stream is only the end signal) it
also runs the real log-pumping clock, with a stream that closes when the build concludes
plus 0 to 1 s (the simulator closes 0.2 to 0.4 s after; Northflank's behaviour is
undocumented), and counts the socket's upgrade as one request. Run: make bench
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import figures

from northflank_build.api.logs import LogLine
from northflank_build.api.models import Build
from northflank_build.engine.logs import LogFollower
from northflank_build.engine.schedule import Forecast, PollSchedule
from northflank_build.engine.waiting import Schedule
from virtual_clock import VirtualClock
from waitfor import WaitPolicy, wait_for

SEED = 20261123
JOBS = 40
HISTORY = 10
MEASURED = 12
FAILURE_RATE = 0.08
CACHE_MISS_RATE = 0.05
CLOSE_DELAY_MAX_S = 1.0


@dataclass(frozen=True)
class SimBuild:
    duration: float
    succeeded: bool


def job_builds(rng: random.Random, typical: float | None = None) -> list[SimBuild]:
    typical = typical or math.exp(rng.uniform(math.log(40), math.log(1800)))
    sigma = rng.uniform(0.03, 0.15)
    builds = []
    for _ in range(HISTORY + MEASURED):
        duration = typical * rng.lognormvariate(0, sigma)
        if rng.random() < CACHE_MISS_RATE:
            duration *= rng.uniform(1.5, 3.0)
        if rng.random() < FAILURE_RATE:
            builds.append(SimBuild(duration * rng.uniform(0.02, 1.0), False))
        else:
            builds.append(SimBuild(duration, True))
    return builds


class Fixed:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def pause(self, elapsed: float, polls: int) -> float:
        return self.seconds


class ClosingTail:
    """A live stream with no lines that closes at ``closes_at`` (after the build concludes)."""

    def __init__(self, now: Callable[[], float], closes_at: float) -> None:
        self.now, self.closes_at = now, closes_at

    def drain(self) -> list[LogLine]:
        return []

    @property
    def broken(self) -> bool:
        return False

    @property
    def ended(self) -> bool:
        return self.now() >= self.closes_at

    def close(self) -> None:
        pass


def measure(
    schedule: Schedule, build: SimBuild, closes_at: float | None, show: bool = True
) -> tuple[float, int]:
    clock = VirtualClock()
    requests = 0

    def fetch() -> Build:
        nonlocal requests
        requests += 1
        done = clock.now >= build.duration
        status = ("SUCCESS" if build.succeeded else "FAILURE") if done else "BUILDING"
        return Build(id="b", status=status, concluded=done)

    logs = None
    if closes_at is not None:
        logs = LogFollower(
            lambda _s, _n, _b: ([], False),
            clock.monotonic,
            ClosingTail(clock.monotonic, closes_at),
            lambda _n: None,
            clock.sleep,
            show=show,
        )
    wait_for(Build(id="b", status="PENDING", concluded=False), fetch,
             WaitPolicy(timeout_s=1e9, schedule=schedule), clock,
             on_change=lambda *_: None, on_trouble=lambda *_: None, follow=logs)  # fmt: skip
    return clock.now - build.duration, requests


Poller = Callable[[list[SimBuild]], tuple[Schedule, int]]


def ours(max_interval: float) -> Poller:
    def make(previous: list[SimBuild]) -> tuple[Schedule, int]:
        successes = [b.duration for b in previous if b.succeeded][::-1]
        return PollSchedule(max_interval, Forecast.from_durations(successes)), 1

    return make


def plain(max_interval: float) -> Poller:
    return lambda _previous: (PollSchedule(max_interval), 0)


def fixed(seconds: float) -> Poller:
    return lambda _previous: (Fixed(seconds), 0)


def main() -> None:
    rng = random.Random(SEED)
    jobs = [job_builds(rng) for _ in range(JOBS)]
    closing = random.Random(SEED + 1)
    close_delays = [[closing.uniform(0, CLOSE_DELAY_MAX_S) for _ in job] for job in jobs]
    measured = [b for job in jobs for b in job[HISTORY:]]
    durations = sorted(b.duration for b in measured)
    print(
        f"{len(measured)} builds of {JOBS} jobs: duration median {statistics.median(durations):.0f} s, "
        f"p5 {durations[len(durations) // 20]:.0f} s, p95 {durations[-len(durations) // 20]:.0f} s; "
        f"{sum(not b.succeeded for b in measured)} failures"
    )
    # (poller, live stream, lines shown)
    pollers: dict[str, tuple[Poller, bool, bool]] = {
        "fixed 10 s": (fixed(10), False, False),
        "fixed 30 s": (fixed(30), False, False),
        "growing 1 s -> 10 s (before #6)": (plain(10), False, False),
        "this action, logs off, schedule alone (before)": (ours(30), False, False),
        "this action, logs off (stream as end signal)": (ours(30), True, False),
        "this action, logs on (stream closes at the end)": (ours(30), True, True),
    }
    baseline = 0
    print(f"{'poller':50} {'median':>7} {'p95':>7} {'max':>7} {'requests/build':>15}")
    for name, (poller, hinted, show) in pollers.items():
        latencies, requests = [], 0
        for job, delays in zip(jobs, close_delays, strict=True):
            for n in range(HISTORY, HISTORY + MEASURED):
                schedule, extra = poller(job[:n])
                closes_at = job[n].duration + delays[n] if hinted else None
                latency, made = measure(schedule, job[n], closes_at, show)
                latencies.append(latency)
                requests += made + extra + (1 if hinted else 0)  # the socket's upgrade
        latencies.sort()
        p95 = figures.p95(latencies)
        baseline = baseline or requests
        print(
            f"{name:50} {statistics.median(latencies):6.2f}s {p95:6.2f}s {latencies[-1]:6.1f}s "
            f"{requests / len(latencies):8.1f} ({requests / baseline:4.0%})"
        )
    print("targets: median <= 1 s, p95 <= 3 s, requests <= fixed 10 s (100%)")


if __name__ == "__main__":
    main()
