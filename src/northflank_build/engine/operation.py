"""What one operation declares to be followed (``Operation``) and started (``Start``), and
what following it learned (``Followed``). engine/lifecycle.py does the rest, once for every
kind: engine/builds.py, engine/rollout.py and engine/jobrun.py declare theirs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from northflank_build.api.adopt import Claim
from northflank_build.api.logs import LogLine
from northflank_build.engine.kind import Kind
from northflank_build.engine.logs import LogFollower
from northflank_build.engine.outcome import Failure
from northflank_build.engine.schedule import Forecast
from northflank_build.engine.waiting import S, Snapshot, WaitEnd

S_contra = TypeVar("S_contra", bound=Snapshot, contravariant=True)


class Operation(Protocol[S]):
    """One operation being followed."""

    @property
    def kind(self) -> Kind: ...
    @property
    def label(self) -> str:
        """For messages: "build joyous-view-6290"."""
        ...

    @property
    def owner(self) -> str:
        """What it belongs to: "job 'my-job'"."""
        ...

    def read(self) -> S:
        """One status read (raises NorthflankError)."""
        ...

    def abort(self) -> None:
        """One short abort (raises NorthflankError); exempt from the deadline. Never called
        for a kind that is not ``abortable``."""
        ...

    def forecast(self) -> Forecast | None:
        """How long such operations took lately, for the schedule; None when unknown."""
        ...

    def open_logs(self) -> LogFollower | None:
        """Its logs, followed while waiting (or only the end signal); None when none."""
        ...

    def failed(self, last: S, log_shown: bool) -> Failure:
        """What it failed with, when it concluded without success."""
        ...


class Start(Protocol[S]):
    """One start of an operation: the request, and how to find what a lost one made."""

    @property
    def kind(self) -> Kind: ...
    @property
    def key(self) -> str:
        """Its place among the step's operations ("build", "build_2", "job-run")."""
        ...

    @property
    def owner(self) -> str:
        """What the post step needs besides the id ("job:api", a job's id)."""
        ...

    @property
    def owner_label(self) -> str:
        """What it belongs to, in a sentence: "job 'api'"."""
        ...

    @property
    def sha(self) -> str: ...
    @property
    def run_name(self) -> str:
        """The name the start gives what it makes (a template run's), or ""."""
        ...

    @property
    def output(self) -> str | None:
        """The output that gets its id the moment it exists."""
        ...

    @property
    def where(self) -> str:
        """The dashboard page that lists such operations (to look at after a lost start)."""
        ...

    def announce(self) -> tuple[str, ...]:
        """What goes out, in a few lines."""
        ...

    def said_started(self, first: S, adopted: bool) -> str:
        """The line that says it started."""
        ...

    def send(self) -> tuple[S, bool]:
        """The start request: the first snapshot, and whether it was found after a lost
        answer (api/http.py: Session.call's ``find``)."""
        ...

    def find_lost(self, sent_at: float) -> Claim[S]:
        """One quick look, after a cancel, for what the start sent at ``sent_at`` made."""
        ...

    def link(self, op_id: str) -> str:
        """The dashboard page of one operation."""
        ...

    def operation(self, first: S, note: Callable[[str], None]) -> Operation[S]: ...


class Listener(Protocol[S_contra]):
    def note(self, message: str) -> None: ...
    def status(self, snapshot: S_contra, elapsed: float) -> None: ...
    def trouble(self, problem: Exception, elapsed: float) -> None: ...
    def log_lines(self, lines: list[LogLine]) -> None: ...
    def log_group(self, snapshot: S_contra, source: str) -> None: ...
    def log_group_end(self) -> None: ...


@dataclass(frozen=True)
class Watch(Generic[S]):
    """One operation to follow: as first seen, who hears about it, and whether this step
    started it (a build it did not start belongs to someone else: never aborted)."""

    op: Operation[S]
    first: S
    listener: Listener[S]
    ours: bool = True

    @property
    def abortable(self) -> bool:
        return self.ours and self.op.kind.abortable


@dataclass(frozen=True)
class Followed(Generic[S]):
    end: WaitEnd | None  # None: an API error stopped the wait (``failure``)
    last: S
    timeline: tuple[tuple[str, float], ...]
    waited_s: float
    log_tail: tuple[str, ...]
    aborted: bool | None  # None: no abort was tried
    failure: Failure | None = None
