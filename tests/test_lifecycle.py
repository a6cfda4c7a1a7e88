"""The operation lifecycle with a kind declared here alone (issue 19): started, followed,
aborted on a cancel, recorded for the post step, reported in the outputs and the summary,
with nothing of it in the package. The lifecycle is engine/lifecycle.py; what a kind
declares is engine/kind.py and engine/operation.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from northflank_build import post
from northflank_build.api.adopt import Claim
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import CreateOutcomeUnknown
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.context import StepContext
from northflank_build.engine.kind import Kind, OperationReport, Reached, Record
from northflank_build.engine.lifecycle import run_one
from northflank_build.engine.logs import LogFollower
from northflank_build.engine.outcome import Failure, OperationFailed, Outcome, TimedOut
from northflank_build.engine.outputs import outputs, result
from northflank_build.engine.report import StepReport
from northflank_build.engine.schedule import Forecast
from northflank_build.github import commands as runner
from northflank_build.github.events import ActionEvents
from northflank_build.github.state import STATE_OPERATIONS, decode, encode
from northflank_build.github.summary import summary
from northflank_build.inputs.config import parse_inputs
from runneremu import parse_file_command
from testdata import SHA, TOKEN
from virtual_clock import VirtualClock

# -- the fake kind: a "fake run" of an owner, on an in-memory server ------------------------


@dataclass
class Snap:
    id: str
    status: str
    finished: bool = False
    message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"


@dataclass
class Server:
    """The fake runs: each ends after ``lasts`` reads (None: never), as ``ends``."""

    lasts: int | None = 2
    ends: str = "SUCCESS"
    runs: dict[str, int] = field(default_factory=dict)  # id -> reads so far
    aborted: list[str] = field(default_factory=list)
    lose_answer: bool = False  # the start makes a run, its answer is lost

    def start(self, at: float) -> Snap:
        run_id = f"fake-{len(self.runs) + 1}"
        self.runs[run_id] = 0
        if self.lose_answer:
            raise CreateOutcomeUnknown("the answer to the start was lost", sent_at=at)
        return Snap(run_id, "QUEUED")

    def read(self, run_id: str) -> Snap:
        if run_id in self.aborted:
            return Snap(run_id, "ABORTED", finished=True)
        self.runs[run_id] += 1
        if self.lasts is not None and self.runs[run_id] >= self.lasts:
            return Snap(run_id, self.ends, finished=True)
        return Snap(run_id, "RUNNING")

    def abort(self, run_id: str) -> None:
        self.aborted.append(run_id)


class FakeKind(Kind):
    name = "fake-run"
    noun = "fake run"
    title = "Fake run"
    outputs = ("fake-run-id",)

    def __init__(self, server: Server, abortable: bool = True) -> None:
        self.server = server
        self.abortable = abortable

    def values(self, report: OperationReport | None) -> dict[str, str]:
        return {"fake-run-id": report.id if report else ""}

    def reach(self, client: NorthflankClient, record: Record) -> Reached | None:
        return _Reached(self.server, record.id) if record.id.startswith("fake-") else None

    def find(self, client: NorthflankClient, record: Record) -> Claim[Any] | None:
        return Claim(Snap(next(iter(self.server.runs)), "RUNNING")) if self.server.runs else None


@dataclass
class _Reached:
    server: Server
    run_id: str

    def read(self) -> Snap:
        return self.server.read(self.run_id)

    def abort(self) -> None:
        self.server.abort(self.run_id)


@dataclass
class FakeOperation:
    kind: FakeKind
    run_id: str

    @property
    def label(self) -> str:
        return f"fake run {self.run_id}"

    @property
    def owner(self) -> str:
        return "owner 'o'"

    def read(self) -> Snap:
        return self.kind.server.read(self.run_id)

    def abort(self) -> None:
        self.kind.server.abort(self.run_id)

    def forecast(self) -> Forecast | None:
        return None

    def open_logs(self) -> LogFollower | None:
        return None

    def failed(self, last: Snap, log_shown: bool) -> Failure:
        return OperationFailed(
            noun="fake run",
            subject=f"Fake run {last.id}",
            status=last.status,
            log_shown=log_shown,
            look="Look.",
        )


@dataclass
class FakeStart:
    kind: FakeKind
    clock: VirtualClock
    key: str = "fake-run"
    owner: str = "o"
    owner_label: str = "owner 'o'"
    sha: str = ""
    run_name: str = ""
    output: str | None = "fake-run-id"
    where: str = "https://app.example/fakes"

    def announce(self) -> tuple[str, ...]:
        return ("Starting a fake run.",)

    def said_started(self, first: Snap, adopted: bool) -> str:
        return f"Fake run {first.id} started."

    def send(self) -> tuple[Snap, bool]:
        return self.kind.server.start(self.clock.wall()), False

    def find_lost(self, sent_at: float) -> Claim[Snap]:
        found = self.kind.find(None, Record(self.kind.name, self.owner, sent_at=sent_at))  # type: ignore[arg-type]
        return found or Claim(None)

    def link(self, op_id: str) -> str:
        return f"{self.where}/{op_id}"

    def operation(self, first: Snap, note: Callable[[str], None]) -> FakeOperation:
        return FakeOperation(self.kind, first.id)


# -- the step around it ---------------------------------------------------------------------

INPUTS = {
    "api-token": TOKEN,
    "api-url": "https://api.northflank.test",
    "project-id": "demo-project",
    "job-id": "demo-job",
    "sha": SHA,
    "poll-interval-seconds": "1",
    "timeout-seconds": "60",
}


def nothing_sent(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the fake kind sends nothing to Northflank: {request.url}")


@pytest.fixture
def runner_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY"):
        (tmp_path / name).touch()
        monkeypatch.setenv(name, str(tmp_path / name))
    for name, value in INPUTS.items():
        monkeypatch.setenv(f"INPUT_{name.upper()}", value)
    runner.RunnerFiles.problem = None
    yield tmp_path


def context(clock: VirtualClock) -> StepContext:
    config = parse_inputs(runner.get_input, {}, Path.cwd(), lambda _s: None)
    client = NorthflankClient(
        api_url=config.connection.api_url, token=TOKEN, project_id="demo-project", team_id=None,
        clock=clock, transport=httpx.MockTransport(nothing_sent), deadline=clock.now + 60,
    )  # fmt: skip
    return StepContext(config, client, clock, clock.cancel, ActionEvents())


def recorded(files: Path) -> list[list[Record]]:
    """Each value the state was given, in order."""
    entries = parse_file_command((files / "GITHUB_STATE").read_text())
    return [decode(value) for name, value in entries if name == STATE_OPERATIONS]


def test_a_fake_kind_is_started_followed_and_reported(runner_files: Path) -> None:
    clock = VirtualClock(CancelScope())
    kind = FakeKind(Server(lasts=3))
    report = run_one(context(clock), FakeStart(kind, clock), "o")
    assert report.outcome is Outcome.SUCCEEDED
    assert (report.id, report.status, report.concluded) == ("fake-1", "SUCCESS", True)
    assert report.leftover is None, "concluded: nothing for the post step"
    # Recorded before the start went out, then with its id.
    first, second = recorded(runner_files)
    assert [(r.kind, r.id, r.sent_at is not None) for r in first] == [("fake-run", "", True)]
    assert [(r.kind, r.id) for r in second] == [("fake-run", "fake-1")]
    step = StepReport(Outcome.SUCCEEDED, operations=(report,))
    values = outputs(step)
    assert values["fake-run-id"] == "fake-1"
    assert values["concluded"] == "true", "an operation alone: concluded is its own"
    entry = json.loads(values["result"])["fake-run"]
    assert entry == {"id": "fake-1", "status": "SUCCESS", "concluded": True, "success": True}
    shown = summary(step)
    assert "| Fake run | Status | Duration | Note |" in shown
    assert "| o [`fake-1`](https://app.example/fakes/fake-1) | `SUCCESS` |" in shown
    assert "Northflank fake run succeeded" in shown


def test_a_failed_fake_run_fails_with_the_kinds_own_failure(runner_files: Path) -> None:
    clock = VirtualClock(CancelScope())
    report = run_one(context(clock), FakeStart(FakeKind(Server(ends="FAILED")), clock), "o")
    assert report.outcome is Outcome.FAILED
    assert isinstance(report.failure, OperationFailed)
    assert report.failure.subject == "Fake run fake-1"
    assert "Northflank fake run failed" in summary(StepReport(Outcome.FAILED, operations=(report,)))


def test_a_cancel_aborts_it_first_and_leaves_nothing_for_the_post_step(runner_files: Path) -> None:
    clock = VirtualClock(CancelScope())
    clock.cancel_at = 5.0
    server = Server(lasts=None)
    report = run_one(context(clock), FakeStart(FakeKind(server), clock), "o")
    assert report.outcome is Outcome.CANCELLED
    assert server.aborted == ["fake-1"], "one abort"
    assert report.aborted is True
    assert report.leftover is None


def test_a_kind_that_cannot_abort_is_left_to_go_on(
    runner_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = VirtualClock(CancelScope())
    clock.cancel_at = 5.0
    server = Server(lasts=None)
    report = run_one(context(clock), FakeStart(FakeKind(server, abortable=False), clock), "o")
    assert report.outcome is Outcome.CANCELLED
    assert server.aborted == []
    assert report.aborted is None
    assert "a fake run cannot be aborted and goes on at Northflank" in capsys.readouterr().out


def test_one_that_never_ends_times_out_and_is_aborted(runner_files: Path) -> None:
    clock = VirtualClock(CancelScope())
    server = Server(lasts=None)
    report = run_one(context(clock), FakeStart(FakeKind(server), clock), "o")
    assert report.outcome is Outcome.TIMED_OUT
    assert isinstance(report.failure, TimedOut)
    assert report.failure.subject == "Fake run fake-1 of owner 'o'"
    assert report.failure.aborted is True
    assert server.aborted == ["fake-1"]
    assert clock.now <= 60.5, "within timeout-seconds"


def test_a_lost_start_is_left_to_the_post_step_which_finds_it_and_aborts_it(
    runner_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock(CancelScope())
    server = Server(lasts=None, lose_answer=True)
    kind = FakeKind(server)
    report = run_one(context(clock), FakeStart(kind, clock), "o")
    assert report.outcome is Outcome.ERROR
    assert report.start_unknown
    assert report.leftover is not None
    assert (report.leftover.kind, report.leftover.id) == ("fake-run", "")
    # The end of the main step writes what is left; the post step reads it back.
    left = StepReport(Outcome.ERROR, operations=(report,)).leftovers
    monkeypatch.setenv(f"STATE_{STATE_OPERATIONS}", encode(left))
    code = post.main(
        transport=httpx.MockTransport(nothing_sent), clock=clock, kinds={kind.name: kind}
    )
    assert code == 0
    assert server.aborted == ["fake-1"]


def test_the_post_step_reaches_a_recorded_fake_run(
    runner_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(lasts=None)
    kind = FakeKind(server)
    server.start(0.0)
    monkeypatch.setenv(f"STATE_{STATE_OPERATIONS}", encode([Record("fake-run", "o", "fake-1")]))
    clock = VirtualClock(CancelScope())
    assert (
        post.main(transport=httpx.MockTransport(nothing_sent), clock=clock, kinds={kind.name: kind})
        == 0
    )
    assert server.aborted == ["fake-1"]
    # A kind the post step does not know is skipped, and nothing is sent.
    assert post.main(transport=httpx.MockTransport(nothing_sent), clock=clock, kinds={}) == 0
    assert server.aborted == ["fake-1"]


def test_the_result_has_the_fake_kind_and_the_packages_own(runner_files: Path) -> None:
    clock = VirtualClock(CancelScope())
    report = run_one(context(clock), FakeStart(FakeKind(Server()), clock), "o")
    whole = result(StepReport(Outcome.SUCCEEDED, operations=(report,)))
    assert whole["job-run"] is None, "the package's kinds are listed, empty"
    assert whole["fake-run"]["id"] == "fake-1"
