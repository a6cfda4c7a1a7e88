"""Image size, build time and start-up for ways of installing the action, with container-check.

The runner rebuilds a Dockerfile action's image on every workflow run, so build time and
size are paid by every user. Each variant is built from a copy of the project with
container-check (no Docker engine; a stand-in for python:3.12-slim), first with no layer
cached (``--no-cache``, the base itself cached, as on a runner that has pulled it) and then
again with the layer cache. Start-up is measured in the container as the runner runs it:
from ``container-check run --no-build`` starting to the first request reaching a loopback
server (median of 5; container start-up is included and is the same for every variant).

Variants: the plain way (``pip install /app``, resolving the dependencies from PyPI), this
action's Dockerfile (hash-locked pip, the package's source copied, the standard library's
bytecode compiled for what the action imports), and that Dockerfile changed in one respect:
without warming the bytecode (the slim base ships none for the standard library, so each
run compiles), with no bytecode at all, with uv installing the dependencies, and with the
package pip-installed (this project's Dockerfile before issue #6).
Run: make bench-image (needs root and apt, like make container; a few minutes)
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from startup_memory import FirstByte  # noqa: E402

TOOL = ROOT.parent / "shared" / "tools" / "container-check"
RUNS = 5
HEAD = """FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
"""
PLAIN = (
    HEAD
    + """COPY pyproject.toml /app/
COPY src/ /app/src/
RUN pip install /app
ENTRYPOINT ["python", "-m", "northflank_build"]
"""
)
DEPS = "RUN pip install --no-deps --require-hashes -r /tmp/requirements.lock"
WARM = re.compile(r" \\\n    && PYTHONDONTWRITEBYTECODE='' python -c .*?close\(\)\"", re.S)
# The CA file exists only under container-check (this machine's TLS proxy); pip finds it
# through pip.conf, uv needs SSL_CERT_FILE.
UV = """RUN if [ -f /etc/xdg/pip/host-ca.crt ]; then export SSL_CERT_FILE=/etc/xdg/pip/host-ca.crt; fi \\
    && pip install uv && uv pip install --system --no-cache --compile-bytecode --no-deps \\
      --require-hashes -r /tmp/requirements.lock && pip uninstall -y uv"""
PIP_PACKAGE = """COPY pyproject.toml /app/
COPY src/ /app/src/
RUN pip install --no-deps /app && rm -rf /app
"""


def variant(name: str, dockerfile: str) -> str:
    """This action's Dockerfile, changed in one respect."""
    assert DEPS in dockerfile and WARM.search(dockerfile), "Dockerfile changed: update bench"
    if name == "without warming the bytecode":
        return WARM.sub("", dockerfile)
    if name == "no bytecode at all (--no-compile)":
        return WARM.sub("", dockerfile).replace(
            DEPS, DEPS.replace("--no-deps", "--no-compile --no-deps")
        )
    if name == "uv for the dependencies":
        return dockerfile.replace(DEPS, UV)
    if name == "pip-installing the package (before)":
        copy = (
            "COPY src/northflank_build/ /usr/local/lib/python3.12/site-packages/northflank_build/\n"
        )
        return dockerfile.replace(copy, PIP_PACKAGE)
    return dockerfile


VARIANTS = (
    "plain pip (baseline)",
    "this action's Dockerfile",
    "without warming the bytecode",
    "no bytecode at all (--no-compile)",
    "uv for the dependencies",
    "pip-installing the package (before)",
)


def project_copy(dockerfile: str, into: Path) -> Path:
    for name in ("action.yml", "pyproject.toml", "requirements.lock", "README.md"):
        shutil.copy(ROOT / name, into / name)
    shutil.copytree(ROOT / "src", into / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (into / "Dockerfile").write_text(dockerfile)
    return into


def build(project: Path, cold: bool) -> dict[str, float]:
    report = project / "report.json"
    argv = [str(TOOL), "build", "-q", "-C", str(project), "--json", str(report)]
    subprocess.run(argv + (["--no-cache"] if cold else []), check=True, capture_output=True)
    data = json.loads(report.read_text())["build"]
    return {"seconds": data["build_seconds"], "mb": data["size_bytes"] / 1e6,
            "base_mb": data["base_size_bytes"] / 1e6}  # fmt: skip


def startup(project: Path, server: FirstByte) -> float:
    times = []
    for _ in range(RUNS):
        before = len(server.arrivals)
        start = time.perf_counter()
        subprocess.run(
            [str(TOOL), "run", "-q", "--no-build", "-C", str(project), "--empty-workspace",
             "-i", "api-token=t", "-i", f"api-url={server.url}", "-i", "project-id=p",
             "-i", "job-id=j", "-i", "sha=" + "a" * 40],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        if len(server.arrivals) > before:
            times.append(server.arrivals[before] - start)
    return statistics.median(times) if times else float("nan")


def main() -> None:
    if not TOOL.exists():
        print(f"skipped: {TOOL} not found")
        return
    server = FirstByte()
    print(
        f"{'variant':38} {'cold build':>10} {'cached':>7} {'size':>9} {'over base':>9} {'start-up':>9}"
    )
    ours = (ROOT / "Dockerfile").read_text()
    for name in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            dockerfile = PLAIN if name == VARIANTS[0] else variant(name, ours)
            project = project_copy(dockerfile, Path(tmp))
            cold = build(project, cold=True)
            build(project, cold=False)  # a --no-cache build may leave no layers to reuse
            cached = build(project, cold=False)
            first = startup(project, server)
        print(
            f"{name:38} {cold['seconds']:9.1f}s {cached['seconds']:6.1f}s {cold['mb']:7.1f}MB "
            f"{cold['mb'] - cold['base_mb']:7.1f}MB {first * 1000:7.0f}ms"
        )


if __name__ == "__main__":
    main()
