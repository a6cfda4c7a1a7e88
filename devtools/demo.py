"""``make demo``: the action end to end, as the runner runs it, against the simulator.

Starts the Northflank API simulator on loopback, runs the action's entrypoint with the
runner's INPUT_* variables and file-command files (devtools/runneremu), shows the step log
as it happens, then the outputs and the job summary, for a successful and a failing build,
a service build deployed to two services followed by a job run, and a build followed by a
pipeline stage's release flow.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from ghsim import GitHubSim, Served
from nfsim import BuildPlan, Simulator
from runneremu import run_action

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"


def show(
    title: str,
    sim: Simulator,
    plan: BuildPlan,
    extra: dict[str, str],
    event: dict[str, Any] | None = None,
    gh: GitHubSim | None = None,
) -> int:
    sim.set_plan(plan)
    print(
        f"\n===== {title} =====\n--- step log (as the runner shows it, secrets masked) ---",
        flush=True,
    )
    with_ = {
        "api-token": "nf-demo-token-0123456789",
        "api-url": sim.url,
        "project-id": "demo-project",
        "job-id": "demo-job",
        "poll-interval-seconds": "2",
        "build-arguments": "NODE_ENV=production\n# comments and blank lines are ignored\n\nAPP_VERSION=1.2.3",
        **extra,
    }
    github: dict[str, str] | None = {"event_name": "pull_request"} if event else None
    if gh is not None and github is not None:
        github.update(api_url=gh.base, token="ghs-demo-token-0123456789", workflow="preview",
                      job="deploy", server_url="https://github.example")  # fmt: skip
    result = run_action(
        ROOT,
        with_,
        echo=True,
        env={"NPMRC": "//registry.npmjs.org/:_authToken=npm-demo-secret"},
        event=event,
        github=github,
    )
    print(f"--- exit code {result.exit_code}, step conclusion: {result.conclusion} ---")
    print("--- outputs (steps.<id>.outputs) ---")
    for name, value in result.outputs.items():
        print(f"  {name} = {value}")
    print("--- annotations ---")
    for note in result.annotations:
        print(f"  {note.kind} [{note.properties.get('title', '')}] {note.message}")
    print("--- job summary (Markdown) ---")
    print(result.summary)
    OUT.mkdir(exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", title.split(maxsplit=1)[0].lower()).strip("-")
    (OUT / f"summary-{slug}.md").write_text(result.summary)
    if gh is not None:
        show_github(gh)
    sent = [f"{r.method} {r.path}" for r in sim.requests]
    print(f"--- {len(sent)} requests reached the simulator: {', '.join(sorted(set(sent)))}")
    sim.requests.clear()
    return result.exit_code or 0


def main() -> int:
    with Simulator() as sim:
        print(f"Northflank API simulator listening on {sim.url}")
        # Earlier builds of the job, so the forecast of when this one ends is shown.
        sim.world.add_history("demo-project", "job", "demo-job", [7.6, 8.1, 7.9, 8.3, 8.0])
        ok = show(
            "Successful build",
            sim,
            BuildPlan(
                phases=(
                    ("PENDING", 1),
                    ("STARTING", 1),
                    ("CLONING", 1),
                    ("BUILDING", 4),
                    ("UPLOADING", 1),
                )
            ),
            {"build-files": "/app/.npmrc=env:NPMRC"},
        )
        failed = show(
            "Failing build",
            sim,
            BuildPlan(phases=(("PENDING", 1), ("BUILDING", 2)), outcome="FAILURE"),
            {},
        )
        shipped = show(
            "Shipped: build a service, deploy it, run a migration job",
            sim,
            BuildPlan(phases=(("PENDING", 1), ("BUILDING", 2))),
            {"job-id": "", "service-id": "demo-service", "branch": "main",
             "deploy-services": "demo-web\ndemo-worker", "run-job": "demo-migrate",
             "run-job-environment": "MIGRATION_MODE=up"},
        )  # fmt: skip
        promoted = show(
            "Promoted: build, then the staging stage's release flow",
            sim,
            BuildPlan(phases=(("PENDING", 1), ("BUILDING", 2))),
            {"release-flow": "demo-pipeline/staging", "template-arguments": "TAG=v1.2.3"},
        )
        preview = {
            "job-id": "",
            "preview-blueprint": "demo-preview",
            "preview-git-trigger": "git",
            "github-deployment": "pr-42",
            "pr-comment": "true",
        }
        gh = GitHubSim()
        served = Served(gh)
        pr = [
            show(
                f"Pull request {action}: preview {'deleted' if action == 'closed' else 'up'}",
                sim,
                BuildPlan(),
                preview,
                pull_request(action),
                gh,
            )
            for action in ("opened", "synchronize", "closed")
        ]
        served.stop()  # fmt: skip
    codes = (ok, failed, shipped, promoted, *pr)
    print(
        f"\nSummaries written to {OUT}/. Exit codes: success run {ok}, failing run {failed}, "
        f"shipped run {shipped}, promoted run {promoted}, pull request opened, pushed and "
        f"closed {pr} (expected 0, 1, 0, 0 and [0, 0, 0])."
    )
    return 0 if codes == (0, 1, 0, 0, 0, 0, 0) else 1


def show_github(gh: GitHubSim) -> None:
    """What GitHub would show on the pull request: each deployment's statuses, and the
    comment as it would be rendered (its Markdown)."""
    print("--- GitHub: deployments of environment pr-42 and their statuses ---")
    for deployment in gh.deployments:
        states = ", ".join(
            f"{s['state']}" + (f" ({s['environment_url']})" if s.get("environment_url") else "")
            for s in gh.statuses[deployment["id"]]
        )
        print(f"  deployment {deployment['id']} at {deployment['sha'][:12]}: {states}")
    print("--- GitHub: the pull request's comment (Markdown, as GitHub renders it) ---")
    for comment in gh.comments.get(42, []):
        print(comment["body"])


def pull_request(action: str) -> dict[str, Any]:
    """The event of pull request #42 of the demo repository."""
    repo = {"full_name": "octo-org/octo-repo", "fork": False}
    head = {"ref": "feature", "sha": "ffac537e6cbbf934b08745a378932722df287a53", "repo": repo}
    return {
        "action": action,
        "number": 42,
        "pull_request": {"number": 42, "head": head, "base": {"repo": repo}},
    }


if __name__ == "__main__":
    sys.exit(main())
