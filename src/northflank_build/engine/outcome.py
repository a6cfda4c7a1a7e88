"""How an operation or a step ended (``Outcome``, with its exit code) and what it can fail
with, as facts: each front end words them (src/northflank_build/wording.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from northflank_build.api.errors import CreateOutcomeUnknown, DeadlineReached, NorthflankError
from northflank_build.api.routes import BuildTarget


class Outcome(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STARTED = "started"  # wait: false
    CREATED = "service ready"  # only the build service was asked for
    DRY_RUN = "dry run"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    ERROR = "error"
    INVALID = "invalid input"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


EXIT_CODES = {
    Outcome.SUCCEEDED: 0,
    Outcome.STARTED: 0,
    Outcome.CREATED: 0,
    Outcome.DRY_RUN: 0,
    Outcome.FAILED: 1,
    Outcome.INVALID: 2,
    Outcome.ERROR: 3,
    Outcome.TIMED_OUT: 4,
    Outcome.CANCELLED: 130,
}

# When parts end differently, the step ends as the most serious of them.
_SEVERITY = (
    Outcome.CANCELLED,
    Outcome.TIMED_OUT,
    Outcome.ERROR,
    Outcome.FAILED,
    Outcome.STARTED,
    Outcome.DRY_RUN,
    Outcome.SUCCEEDED,
)


def step_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    seen = set(outcomes)
    return next((outcome for outcome in _SEVERITY if outcome in seen), Outcome.ERROR)


def ended_by(error: NorthflankError) -> Outcome:
    """An API error that ended something: the deadline is a timeout, the rest an error."""
    return Outcome.TIMED_OUT if isinstance(error, DeadlineReached) else Outcome.ERROR


@dataclass(frozen=True, kw_only=True)
class BuildFailed:
    """The build concluded without success."""

    build_id: str
    target: BuildTarget
    status: str
    message: str  # the build's message from Northflank
    log_shown: bool  # its last lines are in the log and the summary


@dataclass(frozen=True, kw_only=True)
class OperationFailed:
    """An operation other than a build concluded without success (a job run)."""

    noun: str  # "job run"
    subject: str  # "Run r-1 of job 'migrate'"
    status: str
    log_shown: bool
    look: str  # where else its log or its cause can be read
    cause: str = ""  # what Northflank said went wrong (a template run's failed node)


@dataclass(frozen=True, kw_only=True)
class TimedOut:
    """An operation had not concluded at the deadline."""

    noun: str  # "build", "rollout", "job run"
    subject: str  # "Build b-1 of job 'api'", "The rollout of service 'web'"
    timeout_s: int
    status: str
    aborted: bool | None
    abort_on_cancel: bool
    abortable: bool = True  # its kind can be aborted (a rollout cannot)
    ours: bool = True  # started by this step (a reused build is not: never aborted)


@dataclass(frozen=True, kw_only=True)
class RolloutFailed:
    """A deployment service's rollout of the build ended FAILED."""

    service_id: str
    status: str
    sha: str


@dataclass(frozen=True, kw_only=True)
class StartUnknown:
    """The start request may have made something that cannot be identified; ``candidates``
    (dashboard links) when several, none provably this step's, could be it."""

    noun: str  # "build", "job run"
    owner: str  # "job 'api'"
    where: str  # the dashboard page to look at (its builds, its runs)
    cause: CreateOutcomeUnknown
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unusable:
    """What an input names could not be read before anything was started: ``setting`` is
    the input that holds it ("deploy-services", "run-job"), ``error`` what Northflank said."""

    setting: str
    error: NorthflankError


@dataclass(frozen=True)
class InternalError:
    """A bug of ours (or an answer nothing foresaw): its type and text."""

    kind: str
    text: str


Failure = (
    NorthflankError
    | BuildFailed
    | OperationFailed
    | TimedOut
    | StartUnknown
    | Unusable
    | InternalError
    | RolloutFailed
)
