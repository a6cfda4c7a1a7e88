"""Run the simulator: ``python -m nfsim --port 8080 --plan PENDING:1,BUILDING:5``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .deploys import RolloutPlan, RunPlan
from .server import Fault, Simulator
from .state import BuildPlan, DurationMix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nfsim", description="Northflank API simulator (loopback only)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument(
        "--plan",
        default="PENDING:1,STARTING:1,CLONING:1,BUILDING:3,UPLOADING:1",
        help="STATUS:SECONDS,...",
    )
    parser.add_argument(
        "--outcome", default="SUCCESS", help="final status: SUCCESS, FAILURE, CRASHED, ..."
    )
    parser.add_argument("--token", action="append", help="accept only these tokens (default: any)")
    parser.add_argument("--rate-limit", type=int, default=1000)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        help='JSON of a Fault, e.g. \'{"route": "get", "times": 2}\'',
    )
    parser.add_argument(
        "--duration-median",
        type=float,
        help="draw each build's duration (s) from a log-normal with this median",
    )
    parser.add_argument("--duration-sigma", type=float, default=0.1)
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="this many earlier successful builds of demo-job (durations from the mix)",
    )
    parser.add_argument(
        "--rollout-seconds",
        type=float,
        default=2.0,
        help="how long a deployment service's rollout stays IN_PROGRESS (after 0.5 s PENDING)",
    )
    parser.add_argument(
        "--fail-rollout", action="append", default=[], metavar="SERVICE",
        help="rollouts of this deployment service end FAILED (demo-web, demo-worker)",
    )  # fmt: skip
    parser.add_argument("--run-seconds", type=float, default=2.0, help="how long a job run lasts")
    parser.add_argument("--run-outcome", default="SUCCESS", help="SUCCESS or FAILED")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    sim = Simulator(
        host=args.host,
        port=args.port,
        plan=BuildPlan.parse(args.plan, args.outcome),
        tokens=set(args.token) if args.token else None,
        rate_limit=args.rate_limit,
        verbose=args.verbose,
    )
    if args.duration_median:
        sim.world.durations = DurationMix(args.duration_median, args.duration_sigma)
    mix = sim.world.durations or DurationMix(sim.world.plan.duration, 0.0)
    sim.world.add_history(
        "demo-project", "job", "demo-job", [mix.draw(sim.world.rng) for _ in range(args.history)]
    )
    rollout = RolloutPlan(pending_s=0.5, in_progress_s=args.rollout_seconds)
    for deployment in sim.world.deployments["demo-project"].values():
        deployment.plan = rollout
    sim.world.rollout, sim.world.rollout_failures = rollout, set(args.fail_rollout)
    sim.world.run_plan = RunPlan(duration_s=args.run_seconds, outcome=args.run_outcome)
    for spec in args.fault:
        sim.add_fault(Fault(**json.loads(spec)))
    sim.start()
    if args.port_file:
        args.port_file.write_text(sim.url.rsplit(":", 1)[1])
    print(f"nfsim listening on {sim.url}", file=sys.stderr, flush=True)
    print(catalogue(sim, tokens=args.token), file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


def catalogue(sim: Simulator, tokens: list[str] | None = None) -> str:
    """What a newcomer can point the action or the CLI at."""
    world, lines = sim.world, []
    for project in sorted(world.projects):
        lines.append(f"  project {project}")
        lines.append(f"    jobs:                {', '.join(sorted(world.projects[project]))}")
        services = world.services.get(project, {})
        lines.append(f"    build services:      {', '.join(sorted(services))}")
        deployments = world.deployments.get(project, {})
        lines.append(f"    deployment services: {', '.join(sorted(deployments))}")
        runs = [r.id for r in world.runs if r.project == project]
        lines.append(f"    job runs:            {', '.join(runs) or '(none yet)'}")
        flows = [
            f"{pipeline}/{stage}"
            for pipeline, stages in sorted(world.pipelines.get(project, {}).items())
            for stage in sorted(stages)
        ]
        lines.append(f"    release flows:       {', '.join(flows) or '(none)'}")
        workflows = sorted(world.workflows.get(project, set()))
        lines.append(f"    workflows:           {', '.join(workflows) or '(none)'}")
    lines.append(f"  teams: {', '.join(sorted(world.teams))}")
    lines.append(
        "  token: "
        + (f"one of {len(tokens)} given (--token)" if tokens else "any token is accepted")
    )
    lines.append(
        f"  try: NORTHFLANK_API_TOKEN=any .venv/bin/northflank-build build --api-url {sim.url} "
        "--project-id demo-project --job-id demo-job"
    )
    return "\n".join(["catalogue:", *lines])


if __name__ == "__main__":
    sys.exit(main())
