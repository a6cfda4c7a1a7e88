"""Build the real image with container-check and run it as the runner does, against the simulator.

Checks: a successful build gives exit 0 and success=true with exactly one start request; a
cancelled step makes the container (Python as PID 1) abort the remote build. Prints the
image size and build time container-check measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nfsim import BuildPlan, Simulator

ROOT = Path(__file__).resolve().parent.parent


def run(
    tool: str, sim: Simulator, extra: list[str], workdir: Path, name: str
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    outputs, report = workdir / f"{name}-outputs.json", workdir / f"{name}-report.json"
    argv = [
        tool,
        "run",
        "-q",
        "--json",
        str(report),
        "--outputs-json",
        str(outputs),
        "--empty-workspace",
        "-i",
        "api-token=nf-container-token-42",
        "-i",
        f"api-url={sim.url}",
        "-i",
        "project-id=demo-project",
        "-i",
        "job-id=demo-job",
        "-i",
        "poll-interval-seconds=1",
        *extra,
    ]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    # The runner consumes ::add-mask:: lines; container-check shows raw stdout, so skip them.
    shown = [
        ln
        for ln in (proc.stdout + proc.stderr).splitlines()
        if not ln.lstrip().startswith("::add-mask")
    ]
    if any("nf-container-token-42" in ln for ln in shown):
        print("FAIL: the token appeared unmasked in the container's log")
        return 99, {}, {}
    print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
    return proc.returncode, _load(outputs), _load(report)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return data


def main() -> int:
    tool = sys.argv[1]
    failures = []
    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim.set_plan(BuildPlan(phases=(("PENDING", 0.5), ("BUILDING", 1.0))))
        code, out, report = run(tool, sim, [], work, "success")
        build = report.get("build", {})
        print(
            f"image: {json.dumps({k: v for k, v in build.items() if 'size' in k or 'second' in k or 'time' in k})}"
        )
        outputs = out.get("outputs", {})
        starts = len(sim.calls("start"))
        if code != 0 or outputs.get("success") != "true" or starts != 1:
            failures.append(
                f"success run: exit {code}, success={outputs.get('success')!r}, {starts} start requests"
            )
        sim.requests.clear()
        sim.set_plan(BuildPlan(phases=(("PENDING", 0.5), ("BUILDING", 60.0))))
        began = time.monotonic()
        code, out, _ = run(tool, sim, ["--cancel-after", "4", "--no-build"], work, "cancel")
        aborts = sim.calls("abort")
        if not aborts:
            failures.append(f"cancel run: no DELETE reached the simulator (exit {code})")
        else:
            print(
                f"cancel run: DELETE {aborts[0].at - began:.1f} s after the run began (cancel at 4 s); exit {code}"
            )
        if out.get("outputs", {}).get("build-id", "") == "":
            failures.append("cancel run: build-id output missing")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("container: ok" if not failures else "container: FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
