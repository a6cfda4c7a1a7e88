"""Detection latency and requests of the waiting loop, in virtual time, against fixed pollers.

Latency is the time from the moment a build concludes to the moment the loop returns; the
build durations are a seeded log-normal mix (median 5 min, 1st percentile about 40 s, 99th
about 40 min). Every poller sees the same builds. Run: make bench
"""

from __future__ import annotations

import random
import statistics

from virtual_clock import VirtualClock

from northflank_build.models import Build
from northflank_build.waiting import WaitPolicy, wait_for_build

BUILDS = 500
SEED = 20261123


def durations() -> list[float]:
    rng = random.Random(SEED)
    return [min(7200.0, max(20.0, rng.lognormvariate(5.7, 0.9))) for _ in range(BUILDS)]


def run(policy: WaitPolicy, duration: float) -> tuple[float, int]:
    clock = VirtualClock()
    requests = 0

    def fetch() -> Build:
        nonlocal requests
        requests += 1
        done = clock.now >= duration
        return Build(id="b", status="SUCCESS" if done else "BUILDING", concluded=done)

    wait_for_build(Build(id="b", status="PENDING", concluded=False), fetch, policy, clock,
                   on_change=lambda *_: None, on_trouble=lambda *_: None)  # fmt: skip
    return clock.now - duration, requests


def main() -> None:
    mix = durations()
    print(f"{BUILDS} builds, durations median {statistics.median(mix):.0f} s, "
          f"p5 {sorted(mix)[BUILDS // 20]:.0f} s, p95 {sorted(mix)[-BUILDS // 20]:.0f} s")  # fmt: skip
    pollers = {
        "this action (1 s growing x1.5 to 10 s)": WaitPolicy(timeout_s=1e9, max_interval_s=10),
        "fixed 10 s": WaitPolicy(timeout_s=1e9, max_interval_s=10, first_interval_s=10),
        "fixed 30 s": WaitPolicy(timeout_s=1e9, max_interval_s=30, first_interval_s=30),
    }
    for name, policy in pollers.items():
        results = [run(policy, d) for d in mix]
        latency = sorted(r[0] for r in results)
        requests = [r[1] for r in results]
        print(f"{name}: latency median {statistics.median(latency):.1f} s, p95 {latency[int(0.95 * BUILDS)]:.1f} s; "
              f"requests per build mean {statistics.mean(requests):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
