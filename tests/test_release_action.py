"""``make release-action IMAGE=<ref>``: action.yml pointed at a prebuilt image, nothing else
changed, and still valid for GitHub's schema and for actionlint."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from release_action import RefusedRef, check_ref, main, rewrite

DIGEST = "ghcr.io/octo-org/northflank-build@sha256:" + "3f" * 32
BIN = Path(sys.executable).parent


def test_only_the_image_line_changes() -> None:
    original = (ROOT / "action.yml").read_text()
    rewritten = rewrite(original, DIGEST)
    changed = [
        line
        for line in difflib.ndiff(original.splitlines(), rewritten.splitlines())
        if line[:1] in "+-"
    ]
    assert changed == ['-   image: "Dockerfile"', f'+   image: "docker://{DIGEST}"']
    assert rewritten.endswith(original[original.index("  post-entrypoint:") :])


@pytest.mark.parametrize(
    "ref",
    [
        "Dockerfile",
        "ubuntu:22.04",  # no registry
        "ghcr.io/octo-org/app",  # neither tag nor digest
        "ghcr.io/octo-org/app@sha256:abc",
        "ghcr.io/Octo-Org/app:v1",  # repository names are lower case
        "ghcr.io/octo-org/app:v1\nimage: x",
        'ghcr.io/octo-org/app:v1" # x',
        "docker://ghcr.io/octo-org/app:v1",
    ],
)
def test_refs_that_cannot_be_pinned_are_refused_with_a_clear_message(
    ref: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(RefusedRef, match="registry/name@sha256"):
        check_ref(ref)
    target = tmp_path / "action.yml"
    shutil.copy(ROOT / "action.yml", target)
    assert main([ref, "--file", str(target)]) == 2
    assert "registry/name@sha256:<64 hex>" in capsys.readouterr().err
    assert target.read_text() == (ROOT / "action.yml").read_text(), "nothing written"


def test_tags_and_registries_with_ports_are_accepted() -> None:
    for ref in ("ghcr.io/octo-org/app:v1.2.3", "localhost:5000/a/b:latest", DIGEST):
        assert check_ref(ref) == ref


def test_the_rewritten_file_passes_the_schema_and_actionlint(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # actionlint finds the project root (and ./action.yml) by it
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    example = (ROOT / ".github/workflows/example.yml").read_text()
    (workflows / "example.yml").write_text(example)
    (tmp_path / "action.yml").write_text(rewrite((ROOT / "action.yml").read_text(), DIGEST))
    schema = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr
    lint = subprocess.run(
        [BIN / "actionlint", ".github/workflows/example.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # And actionlint does read that action.yml: a misspelled input is caught.
    (workflows / "example.yml").write_text(example.replace("project-id:", "projectid:"))
    caught = subprocess.run(
        [BIN / "actionlint", ".github/workflows/example.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert caught.returncode == 1
    assert "projectid" in caught.stdout
