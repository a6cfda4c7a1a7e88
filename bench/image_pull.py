"""What a user pulls: the image's compressed size (its layers as gzip, as a registry serves
them) and uncompressed size, split into the base and the action's own layers, for this
Dockerfile on the bases container-check can build here.

Each variant is this project's Dockerfile with the ``FROM`` line (and the site-packages path
that follows the Python version) changed, built with container-check, then written as an
OCI layout with gzip layers by buildah (``buildah push --compression-format gzip``) and its
blobs summed. The bases are container-check's stand-ins for the official images (Debian
minbase plus pyenv's CPython: about 35 MB more than the official slim images, see
../shared/tools/README.md), so the base figures are upper bounds and the action's own layers
are the comparable part. Run: make bench-image-pull (needs root and apt, like make container)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT.parent / "shared" / "tools" / "container-check"
# container-check's documented private store (../shared/tools/README.md)
STORE = Path(os.environ.get("CONTAINER_CHECK_HOME", "/var/tmp/container-check"))  # noqa: S108
# (label, FROM image, Python version of its site-packages)
VARIANTS = [
    ("python:3.12-slim (bookworm; the Dockerfile today)", "python:3.12-slim", "3.12"),
    ("python:3.12-slim-trixie", "python:3.12-slim-trixie", "3.12"),
    ("python:3.13-slim (bookworm)", "python:3.13-slim", "3.13"),
]
MB = 1_000_000


def buildah(*args: str) -> str:
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(STORE / "conf" / "storage.conf")}
    tool = shutil.which("buildah") or "/usr/bin/buildah"  # container-check installs it
    done = subprocess.run([tool, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def gzip_sizes(image: str) -> tuple[list[int], int]:
    """The image's layers as gzip blobs (bytes each, base first) and its config's size."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "oci"
        buildah("push", "--quiet", "--format", "oci", "--compression-format", "gzip",
                image, f"oci:{layout}")  # fmt: skip
        index = json.loads((layout / "index.json").read_text())
        digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
        return [layer["size"] for layer in manifest["layers"]], manifest["config"]["size"]


def build(from_image: str, python: str, workdir: Path) -> dict[str, object]:
    project = workdir / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "*cache*"))
    dockerfile = (ROOT / "Dockerfile").read_text()
    dockerfile = re.sub(r"^FROM .*$", f"FROM {from_image}", dockerfile, count=1, flags=re.M)
    dockerfile = dockerfile.replace("/python3.12/", f"/python{python}/")
    (project / "Dockerfile").write_text(dockerfile)
    report = workdir / "report.json"
    subprocess.run([str(TOOL), "build", "-q", "--json", str(report)], cwd=project, check=True,
                   capture_output=True)  # fmt: skip
    result: dict[str, object] = json.loads(report.read_text())["build"]
    return result


def main() -> int:
    if not TOOL.exists() or os.geteuid() != 0:
        print("bench/image_pull.py: needs ../shared/tools/container-check and root")
        return 0
    print(f"{'base':50} {'pulled (gzip)':>14} {'base':>8} {'own':>7} {'on disk':>9} {'own':>7}")
    for label, from_image, python in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            built = build(from_image, python, Path(tmp))
        layers, config = gzip_sizes(str(built["image"]))
        base_layers = len(gzip_sizes(_base_of(str(built["base"])))[0])
        base, own = sum(layers[:base_layers]), sum(layers[base_layers:]) + config
        size, base_size = int(str(built["size_bytes"])), int(str(built["base_size_bytes"]))
        print(
            f"{label:50} {(base + own) / MB:11.1f} MB {base / MB:5.1f} MB {own / MB:4.1f} MB "
            f"{size / MB:6.1f} MB {(size - base_size) / MB:4.1f} MB"
        )
    return 0


def _base_of(description: str) -> str:
    """container-check's "docker.io/library/python:3.12-slim = stand-in (...)": the tag."""
    return description.split(" = ", 1)[0]


if __name__ == "__main__":
    sys.exit(main())
