"""A kind of operation, declared once (``Kind``), what one operation of it left for the
post step (``Record``), and what following one learned (``OperationReport``).

A kind is a subclass of ``Kind``: its name, its noun, whether it can be aborted, the outputs
it fills, its entry in ``result``, and how the post step reaches one from a ``Record``.
engine/jobrun.py declares the job run; tests/test_lifecycle.py a fake kind, with no change
to the package. The lifecycle around it is written once, in engine/lifecycle.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from northflank_build.engine.outcome import Failure, Outcome

if TYPE_CHECKING:  # the client is only a type here
    from northflank_build.api.adopt import Claim
    from northflank_build.api.client import NorthflankClient
    from northflank_build.engine.waiting import Snapshot


@dataclass(frozen=True)
class Record:
    """What the post step needs to find one operation this step started and abort it:
    its kind, its owner (``job:api`` for a build, the job's id for a run), its id once
    known, when a start whose answer has not come went out (epoch seconds), and what the
    start named (the commit, the run's name)."""

    kind: str
    owner: str
    id: str = ""
    sent_at: float | None = None
    sha: str = ""
    name: str = ""


@dataclass(frozen=True)
class Part:
    """One step of an operation (a template run's node), for the summary and ``result``."""

    kind: str
    ref: str
    name: str
    status: str
    duration_s: float | None = None
    error: str = ""


class Reached(Protocol):
    """One recorded operation, as the post step reaches it."""

    def read(self) -> Snapshot: ...
    def abort(self) -> None: ...


# The post step's abort: it has the runner's whole post window, not a cancel's seconds.
POST_ABORT_S = 10.0


@dataclass(frozen=True)
class Reaching:
    """A Reached made of the two requests (a kind's ``reach``)."""

    read: Callable[[], Snapshot]
    abort: Callable[[], None]


@dataclass(frozen=True, kw_only=True)
class OperationReport:
    """One operation of a kind other than a build: how it ended, as last seen."""

    kind: Kind
    owner: str  # the id of what it belongs to (a job's id)
    outcome: Outcome
    id: str = ""
    status: str = ""
    concluded: bool = False
    failure: Failure | None = None
    duration_s: float | None = None
    log_tail: tuple[str, ...] = ()
    aborted: bool | None = None
    start_unknown: bool = False  # a start that may have made one, unseen: the post step looks
    skipped: bool = False  # not started: something before it did not succeed
    leftover: Record | None = None  # what the post step must look after, if anything
    url: str = ""  # its dashboard page
    parts: tuple[Part, ...] = ()  # its steps, when it has any (a template run's nodes)
    detail: Any = None  # what the kind keeps besides (its own type)


class Kind:
    """A kind of operation. Subclasses set the names and override what differs."""

    name = ""  # its key in the post step's state (and in ``result``, unless result_key)
    result_key = ""  # its key in the ``result`` output, when not its name
    noun = ""  # in sentences: "job run"
    title = ""  # the summary table's first column: "Job run"
    abortable = True
    reread = False  # the start's answer holds the id only: one read before the wait
    outputs: tuple[str, ...] = ()  # the step outputs it fills (written empty without one)
    booleans: tuple[str, ...] = ()  # those of them that are true or false (typed in --json)

    def duration(self, last: Any) -> float | None:
        """How long the last snapshot says it ran, when it says."""
        return None

    def detail(self, last: Any) -> Any:
        """What the report keeps of the last snapshot besides the common fields."""
        return None

    def parts(self, last: Any) -> tuple[Part, ...]:
        """The steps the last snapshot shows (none by default)."""
        return ()

    def told(self, report: OperationReport) -> str:
        """The report in a few words, for the step's last line."""
        what = "skipped" if report.skipped else report.status or report.outcome.value
        return f"{self.noun} {report.id + ' ' if report.id else ''}{what}"

    def did(self, report: OperationReport) -> str:
        """What it did, in the summary's headline: "job run"."""
        return self.noun

    def facts(self, report: OperationReport) -> tuple[tuple[str, str], ...]:
        """What the summary shows besides the operation's row: (what, value) pairs; a value
        that is an https URL becomes a link."""
        return ()

    def near_end(self, last: Any) -> bool:
        """Whether the last snapshot shows its last step under way: then it is checked
        densely (engine/waiting.py), whatever the forecast said."""
        return False

    @property
    def result_name(self) -> str:
        return self.result_key or self.name

    def values(self, report: OperationReport | None) -> dict[str, str]:
        """Its step outputs (every name in ``outputs``)."""
        return dict.fromkeys(self.outputs, "")

    def result(self, report: OperationReport) -> dict[str, Any]:
        """Its entry in the ``result`` output."""
        return {
            "id": report.id,
            "status": report.status,
            "concluded": report.concluded,
            "success": report.outcome is Outcome.SUCCEEDED,
        }

    def owner_label(self, owner: str) -> str:
        """A recorded owner in a sentence."""
        return owner

    def short(self, owner: str) -> str:
        """A report's owner in a table cell."""
        return owner

    def reach(self, client: NorthflankClient, record: Record) -> Reached | None:
        """The recorded operation (``record.id`` set), for the post step; None when the
        record is not one this kind could have written."""
        return None

    def find(self, client: NorthflankClient, record: Record) -> Claim[Snapshot] | None:
        """What a start sent at ``record.sent_at`` provably made (api/adopt.py: claim),
        for the post step; None when this kind cannot look."""
        return None
