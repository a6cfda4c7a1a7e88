"""The GitHub edge on its own: what reaches the runner's files and log, and when."""

from __future__ import annotations

from pathlib import Path

import github_action_utils as gha
import pytest

from northflank_build.api.models import Build
from northflank_build.api.routes import BuildTarget
from northflank_build.github.commands import inert
from northflank_build.github.events import ActionEvents
from runneremu import parse_file_command


def test_build_id_is_written_the_moment_the_build_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_OUTPUT", "GITHUB_STATE"):
        (tmp_path / name).touch()
        monkeypatch.setenv(name, str(tmp_path / name))
    target = BuildTarget("job", "demo-job")
    ActionEvents().started(0, target, Build(id="joyous-view-6290", status="PENDING"), adopted=False)
    output = parse_file_command((tmp_path / "GITHUB_OUTPUT").read_text())
    state = parse_file_command((tmp_path / "GITHUB_STATE").read_text())
    assert output == [("build-id", "joyous-view-6290")]
    assert state == [("build_id", "joyous-view-6290"), ("target", "job:demo-job")]


@pytest.mark.parametrize(
    "hostile",
    [
        "::error::x",
        "  ::add-mask::main",
        "a\n::set-output name=x::y",
        "ok\r::warning::x",
        "x ##[error]y",
        "\u2028::debug::z",
    ],
)
def test_inert_lines_cannot_be_workflow_commands(hostile: str) -> None:
    line = inert(hostile)
    assert "\n" not in line and "\r" not in line
    assert not line.lstrip().startswith("::") and "##[" not in line


def test_output_values_cannot_inject_other_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out"
    path.touch()
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    hostile = "main\nbuild-id=evil\nEOF\nx<<EOF"
    gha.set_output("branch", hostile)
    gha.set_output("build-id", "real")
    records = dict(parse_file_command(path.read_text()))
    assert records == {"branch": hostile, "build-id": "real"}
