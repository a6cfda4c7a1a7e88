"""How many API requests one 10-minute build costs, with build logs off and on.

Runs the action's core (run_step) in virtual time against a mock Northflank (httpx
MockTransport): statuses change on a 600 s timeline, the log grows by 2 lines a second.
Modes: logs off; logs on through the live tail (one WebSocket for the whole build, counted
as one request); logs on with the tail unavailable (the HTTP range fallback).
The job's 10 earlier builds took 570 to 630 s, so the forecast's window is in play.
Run: make bench  (or PYTHONPATH=src .venv/bin/python bench/log_requests.py)
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.logs import LogLine, TailUnavailable
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.run import run_step
from northflank_build.inputs.config import parse_inputs
from virtual_clock import EPOCH, VirtualClock

PHASES = (("PENDING", 15.0), ("CLONING", 25.0), ("BUILDING", 540.0), ("UPLOADING", 20.0))
DURATION = sum(seconds for _, seconds in PHASES)
LINES_PER_SECOND = 2


def iso(t: float) -> str:
    return (
        datetime.fromtimestamp(EPOCH + t, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def history() -> list[dict[str, Any]]:
    """Earlier builds of the job, for the forecast: 10 successes of 570 to 630 s, hours ago."""
    builds = []
    for n in range(10):
        created = -3600.0 * (n + 1)
        builds.append({"id": f"old-{n}", "status": "SUCCESS", "concluded": True, "success": True,
                       "createdAt": iso(created),
                       "buildConcludedAt": EPOCH + created + DURATION * (0.95 + 0.01 * n)})  # fmt: skip
    return builds


def status(t: float) -> tuple[str, bool]:
    for name, seconds in PHASES:
        if t < seconds:
            return name, False
        t -= seconds
    return "SUCCESS", True


def lines_until(t: float) -> list[dict[str, Any]]:
    count = int(min(t, DURATION) * LINES_PER_SECOND)
    return [
        {"containerId": "c", "log": f"stdout F line {n}", "ts": iso(n / LINES_PER_SECOND)}
        for n in range(count)
    ]


class Quiet:
    """Events and each build's listener, saying nothing."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *args, **kwargs: None

    def watch(self, *_args: object, **_kwargs: object) -> Quiet:
        return self


class VirtualTail:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock, self.sent = clock, 0

    def drain(self) -> list[LogLine]:
        lines = lines_until(self.clock.now)[self.sent :]
        self.sent += len(lines)
        return [line for line in map(LogLine.from_api, lines) if line is not None]

    @property
    def broken(self) -> bool:
        return False

    @property
    def ended(self) -> bool:
        return status(self.clock.now)[1] and self.sent == len(lines_until(DURATION))

    def close(self) -> None:
        pass


def measure(mode: str, poll: str) -> Counter[str]:
    clock = VirtualClock()
    counts: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            counts["start"] += 1
            return httpx.Response(
                200,
                json={
                    "data": {
                        "id": "b1",
                        "status": "PENDING",
                        "concluded": False,
                        "createdAt": iso(0),
                    }
                },
            )
        if path.endswith("/build-logs"):
            counts["log pages"] += 1
            start = request.url.params.get("startTime") or ""
            limit = int(request.url.params["lineLimit"])
            rest = [line for line in lines_until(clock.now) if line["ts"] >= start]
            return httpx.Response(
                200, json={"data": rest[:limit], "pagination": {"hasNextPage": len(rest) > limit}}
            )
        if path.endswith("/build"):
            counts["forecast list"] += 1
            return httpx.Response(200, json={"data": {"builds": history()}})
        counts["status polls"] += 1
        name, done = status(clock.now)
        return httpx.Response(
            200, json={"data": {"id": "b1", "status": name, "concluded": done, "success": done}}
        )

    values = {"api-token": "t", "project-id": "p", "job-id": "j", "sha": "a" * 40, "poll-interval-seconds": poll,
              "show-logs": "false" if mode == "logs off" else "true"}  # fmt: skip
    config = parse_inputs(values.get, {}, Path.cwd(), lambda _s: None)

    def open_tail(_url: str, _token: str, _timeout: float) -> VirtualTail:
        if mode == "logs on, tail unavailable (HTTP fallback)":
            raise TailUnavailable("refused")
        counts["tail connection"] += 1
        return VirtualTail(clock)

    client = NorthflankClient(api_url="https://api.example.com", token="t", project_id="p", team_id=None,
                              clock=clock, transport=httpx.MockTransport(handler))  # fmt: skip
    report = run_step(config, client, clock, CancelScope(), Quiet(), open_tail=open_tail)
    assert report.outcome.value == "succeeded", report.outcome
    return counts


def main() -> None:
    modes = ("logs off", "logs on, live tail", "logs on, tail unavailable (HTTP fallback)")
    rows = []
    for poll in ("10", "30"):
        for mode in modes:
            counts = measure(mode, poll)
            rows.append(
                {
                    "poll-interval-seconds": poll,
                    "mode": mode,
                    **counts,
                    "total": sum(counts.values()),
                }
            )
    print(
        f"Requests for one {DURATION:.0f} s build ({LINES_PER_SECOND} log lines/s), virtual time:"
    )
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
