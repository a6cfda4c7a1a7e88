"""The GitHub edge on its own: what reaches the runner's files and log, and when."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import github_action_utils as gha
import pytest

from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.models import Build
from northflank_build.api.routes import BuildTarget
from northflank_build.engine.builds import BuildStart
from northflank_build.engine.kind import Record
from northflank_build.github.commands import inert
from northflank_build.github.events import ActionEvents
from northflank_build.github.state import decode
from runneremu import parse_file_command
from testdata import SHA


def _start(index: int, job: str, several: bool) -> BuildStart:
    # What the events read of a start needs no client: no context.
    ctx = cast(Any, None)
    return BuildStart(ctx, BuildTarget("job", job), StartBuildRequest(sha=SHA), index, several)


def test_build_id_is_written_the_moment_the_build_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_OUTPUT", "GITHUB_STATE"):
        (tmp_path / name).touch()
        monkeypatch.setenv(name, str(tmp_path / name))
    events = ActionEvents()
    start = _start(0, "demo-job", several=False)
    events.starting(start, 1_795_000_000.0)
    events.started(start, Build(id="joyous-view-6290", status="PENDING"), False)
    output = parse_file_command((tmp_path / "GITHUB_OUTPUT").read_text())
    state = parse_file_command((tmp_path / "GITHUB_STATE").read_text())
    assert output == [("build-id", "joyous-view-6290")]
    sent = Record("build", "job:demo-job", sent_at=1_795_000_000.0, sha=SHA)
    assert [decode(value) for _name, value in state] == [
        [sent],
        [Record("build", "job:demo-job", "joyous-view-6290", sha=SHA)],
    ]


def test_each_target_of_several_is_recorded_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("GITHUB_STATE", str(tmp_path / "state"))
    events = ActionEvents(targets=2)
    for index, (job, build_id) in enumerate((("job-a", "build-a"), ("job-b", "build-b"))):
        start = _start(index, job, several=True)
        events.starting(start, 1_795_000_000.0)
        events.started(start, Build(id=build_id, status="PENDING"), False)
    last = parse_file_command((tmp_path / "state").read_text())[-1][1]
    assert [(r.owner, r.id) for r in decode(last)] == [
        ("job:job-a", "build-a"),
        ("job:job-b", "build-b"),
    ]
    assert not (tmp_path / "out").exists(), "several targets: build-id stays empty"


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
    assert "\n" not in line
    assert "\r" not in line
    assert not line.lstrip().startswith("::")
    assert "##[" not in line


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
