"""Detection latency in real time: the action, run as a process, against the simulator.

Confirms the virtual-time figures of detection_latency.py on the wire. The job has 10
earlier builds; each new build lasts a duration drawn from the same log-normal mix (median
8 s, sigma 0.05). Latency is from the moment the simulator concludes the build to the
moment the action's process has exited. ``poll-interval-seconds`` is left at its default.
Requests are printed too, but builds this short cost more than a fixed 10 s poller (the
growing start checks at 1, 2.5, 4.75 s...); the request comparison is the virtual-time mix.
Run: make bench
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devtools"))

from nfsim import BuildPlan, DurationMix, Simulator  # noqa: E402

RUNS = 5
MIX = DurationMix(median_s=8.0, sigma=0.05)
PLAN = BuildPlan(phases=(("PENDING", 1.0), ("BUILDING", 6.0), ("UPLOADING", 1.0)))


def run_once(sim: Simulator, show_logs: str, tmp: Path) -> tuple[float, int]:
    out = tmp / "out"
    out.write_text("")
    env = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", "GITHUB_OUTPUT": str(out),
           "INPUT_API-TOKEN": "t", "INPUT_API-URL": sim.url, "INPUT_PROJECT-ID": "demo-project",
           "INPUT_JOB-ID": "demo-job", "INPUT_SHA": "a" * 40, "INPUT_SHOW-LOGS": show_logs}  # fmt: skip
    before = len(sim.requests)
    proc = subprocess.run([sys.executable, "-m", "northflank_build"], env=env,
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    exited = time.monotonic()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = sim.world.builds[-1]
    return exited - (build.created_mono + build.plan.duration), len(sim.requests) - before


def main() -> None:
    with Simulator(plan=PLAN) as sim, tempfile.TemporaryDirectory() as tmp:
        sim.world.durations = MIX
        sim.world.add_history(
            "demo-project", "job", "demo-job", [MIX.draw(sim.world.rng) for _ in range(10)]
        )
        for show_logs in ("true", "false"):
            results = [run_once(sim, show_logs, Path(tmp)) for _ in range(RUNS)]
            latencies = sorted(r[0] for r in results)
            print(
                f"real time, logs {'on ' if show_logs == 'true' else 'off'}: {RUNS} builds of ~8 s, "
                f"conclusion to exit median {statistics.median(latencies):.2f} s, "
                f"max {latencies[-1]:.2f} s; requests per build {statistics.mean(r[1] for r in results):.1f} "
                "(start, forecast list, socket, checks)"
            )


if __name__ == "__main__":
    main()
