"""Start-up and memory of the action process, measured side by side with a baseline.

Start-up: from process start to the first request on the wire, for the action
(``python -m northflank_build`` with the runner's INPUT_* variables) and for a minimal
script that imports httpx and pydantic and sends one request; alternated, medians of N runs.
Memory: peak RSS of the action process through a build with logs on (simulator on loopback,
a 20 s build printing 20 log lines a second), from getrusage of the finished child.
Run: make bench
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devtools"))

from nfsim import BuildPlan, Simulator  # noqa: E402

RUNS = 15
BASELINE = "import httpx, pydantic, sys; httpx.post(sys.argv[1] + '/v1/x', json={})"


class FirstByte:
    """A loopback server that notes when each connection's first bytes arrive, answers 401."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.arrivals: list[float] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            conn.recv(65536)
            self.arrivals.append(time.perf_counter())
            body = b'{"error":{"status":401,"message":"no"}}'
            conn.sendall(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )
            conn.close()


def action_env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", "INPUT_API-TOKEN": "t", "INPUT_API-URL": url,
           "INPUT_PROJECT-ID": "demo-project", "INPUT_JOB-ID": "demo-job", "INPUT_SHA": "a" * 40,
           "INPUT_POLL-INTERVAL-SECONDS": "1"}  # fmt: skip
    env.update(extra or {})
    return env


def time_to_first_request(server: FirstByte, argv: list[str], env: dict[str, str]) -> float:
    before = len(server.arrivals)
    start = time.perf_counter()
    subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=60
    )
    return server.arrivals[before] - start


def startup() -> None:
    server = FirstByte()
    action = [sys.executable, "-m", "northflank_build"]
    baseline = [sys.executable, "-c", BASELINE, server.url]
    ours, base = [], []
    for _ in range(RUNS):
        ours.append(time_to_first_request(server, action, action_env(server.url)))
        base.append(time_to_first_request(server, baseline, {"PATH": os.environ["PATH"]}))
    a, b = statistics.median(ours), statistics.median(base)
    print(
        f"start-up to first request, median of {RUNS}: action {a * 1000:.0f} ms, baseline {b * 1000:.0f} ms, ratio {a / b:.2f} (target <= 1.30)"
    )


def memory() -> None:
    plan = BuildPlan(phases=(("PENDING", 1.0), ("BUILDING", 20.0)), lines_per_second=20)
    with Simulator(plan=plan) as sim, tempfile.TemporaryDirectory() as tmp:
        files = {name: Path(tmp) / name for name in ("out", "state", "summary")}
        for path in files.values():
            path.touch()
        env = action_env(sim.url, {"GITHUB_OUTPUT": str(files["out"]), "GITHUB_STATE": str(files["state"]),
                                   "GITHUB_STEP_SUMMARY": str(files["summary"]), "GITHUB_ACTIONS": "true"})  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(
            [sys.executable, "-m", "northflank_build"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        lines = sum(1 for line in proc.stdout.splitlines() if line.startswith("  | "))
        assert proc.returncode == 0 and lines > 300, (proc.returncode, lines)
        note = (
            ""
            if peak_kib > before
            else " (an earlier child peaked higher; figure is an upper bound)"
        )
        print(
            f"peak RSS through a 21 s build with logs on ({lines} log lines shown): {peak_kib / 1024:.1f} MiB (target <= 60 MiB){note}"
        )


if __name__ == "__main__":
    memory()  # first, so no earlier child's peak is mixed in
    startup()
