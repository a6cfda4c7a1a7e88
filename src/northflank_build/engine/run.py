"""One build run: (create the build service,) start the build or find it, follow it to its
end (engine/follow.py), and return what was learned as one report, assembled once from
what each phase returned. Shared by the action and the CLI; it tells a front end what
happens through ``Events`` and never touches GitHub or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock
from northflank_build.api.errors import (
    Cancelled,
    CreateOutcomeUnknown,
    DeadlineReached,
    NorthflankError,
)
from northflank_build.api.logs import TailOpener
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.api.wire import printable
from northflank_build.engine.build import ABORT_TIMEOUT_S, BuildOperation
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.events import Events
from northflank_build.engine.follow import Followed, abort, follow
from northflank_build.engine.report import (
    BuildFailed,
    BuildReport,
    Failure,
    InternalError,
    Outcome,
    StartUnknown,
    TimedOut,
    report_for,
)
from northflank_build.engine.waiting import WaitEnd
from northflank_build.inputs.config import ActionConfig

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


def connect(
    config: ActionConfig,
    clock: Clock,
    *,
    deadline: float,
    retry: RetryPolicy | None = None,
    on_debug: Callable[[str], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> NorthflankClient:
    """The API client for a validated configuration (the action, the CLI, the post step)."""
    return NorthflankClient(
        api_url=config.api_url,
        token=config.api_token.get_secret_value(),
        project_id=config.project_id,
        team_id=config.team_id,
        clock=clock,
        retry=retry,
        on_debug=on_debug,
        transport=transport,
        deadline=deadline,
    )


@dataclass(frozen=True)
class Started:
    """What the start phase learned: the build (or none), and how it ended if it ended."""

    build: Build | None = None
    adopted: bool = False
    outcome: Outcome | None = None  # set when the run ends here
    failure: Failure | None = None
    unknown_since: float | None = None  # a start that may have made a build, unseen
    aborted: bool | None = None


def run_build(
    config: ActionConfig,
    client: NorthflankClient,
    clock: Clock,
    cancel: CancelScope,
    events: Events,
    open_tail: TailOpener | None = None,
) -> BuildReport:
    """``open_tail`` replaces the WebSocket tail (tests and benchmarks run in virtual time).

    Never raises: a bug of ours after a build started still aborts that build (when
    abort-on-cancel) and keeps what the phases before it returned.
    """
    service: EnsuredService | None = None
    started = Started()
    try:
        service, ended = _ensure_service(config, client, cancel, events)
        if ended is not None:
            return report_for(
                config, ended[0], failure=ended[1], **_service_fields(config, service)
            )
        target = config.target
        if target is None:
            return report_for(config, Outcome.CREATED, **_service_fields(config, service))
        started = _start(config, client, clock, cancel, events, target)
        if started.outcome is not None or started.build is None or not config.wait:
            return _report(config, service, started, None)
        op = BuildOperation(
            client, target, started.build, clock, config.api_url,
            config.api_token.get_secret_value(), config.show_logs, events.note, open_tail,
        )  # fmt: skip
        followed = follow(
            op,
            started.build,
            clock=clock,
            cancel=cancel,
            listener=events,
            poll_interval_s=config.poll_interval_seconds,
            deadline=client.deadline,
            pacing=client.pacing_delay,
            abort_on_cancel=config.abort_on_cancel,
        )
        return _report(config, service, started, followed)
    except Exception as exc:  # a bug of ours, or an answer nothing foresaw
        build, aborted = started.build, started.aborted
        if build is not None and not build.finished and config.abort_on_cancel:
            aborted = _abort_build(client, config.target, build.id, events)
        return report_for(
            config,
            Outcome.ERROR,
            build=build,
            adopted=started.adopted,
            failure=internal_error(exc),
            aborted=aborted,
            **_service_fields(config, service),
        )


def internal_error(exc: BaseException) -> InternalError:
    return InternalError(type(exc).__name__, printable(str(exc))[:300])


def _ended_by(exc: NorthflankError) -> Outcome:
    return Outcome.TIMED_OUT if isinstance(exc, DeadlineReached) else Outcome.ERROR


def _ensure_service(
    config: ActionConfig, client: NorthflankClient, cancel: CancelScope, events: Events
) -> tuple[EnsuredService | None, tuple[Outcome, Failure | None] | None]:
    """The build service of service-spec, created (or used, or updated); or how it ended."""
    spec = config.service_spec
    if spec is None:
        return None, None
    try:
        with cancel.interruptible():
            ensured = client.services.ensure(
                spec.to_json(), spec.name, spec.service_id, config.if_exists
            )
    except Cancelled:
        return None, (Outcome.CANCELLED, None)
    except NorthflankError as exc:
        return None, (_ended_by(exc), exc)
    events.service(ensured)
    return ensured, None


def _service_fields(config: ActionConfig, service: EnsuredService | None) -> dict[str, Any]:
    if service is not None:
        return {"service_id": service.service_id, "service_created": service.created}
    target = config.target
    return {"service_id": target.id if target is not None and target.kind == "service" else ""}


def _start(
    config: ActionConfig,
    client: NorthflankClient,
    clock: Clock,
    cancel: CancelScope,
    events: Events,
    target: BuildTarget,
) -> Started:
    body = config.start_request()
    events.starting(target, body, clock.wall())
    try:
        with cancel.interruptible():
            started = client.start_build(target, body)
    except Cancelled as exc:
        if exc.sent_at is None:
            return Started(outcome=Outcome.CANCELLED)
        return _after_cancelled_start(config, client, target, events, exc.sent_at)
    except CreateOutcomeUnknown as exc:
        builds_url = report_for(config, Outcome.ERROR).builds_url
        return Started(
            outcome=Outcome.ERROR,
            failure=StartUnknown(target, builds_url, exc),
            unknown_since=exc.sent_at,
        )
    except NorthflankError as exc:
        return Started(outcome=_ended_by(exc), failure=exc)
    events.started(started.build, started.adopted)
    outcome = None if config.wait else Outcome.STARTED
    return Started(started.build, started.adopted, outcome)


def _after_cancelled_start(
    config: ActionConfig,
    client: NorthflankClient,
    target: BuildTarget,
    events: Events,
    sent_at: float,
) -> Started:
    """Cancelled while the start request was out: it may have made a build. One quick look
    (no wait, nothing raised); found, it is aborted; not found, the post step looks again."""
    unknown = Started(outcome=Outcome.CANCELLED, unknown_since=sent_at)
    if not config.abort_on_cancel:
        return unknown
    try:
        found = client.find_started_quickly(target, config.sha, sent_at)
    except NorthflankError as exc:
        events.note(f"Cancelled while starting; could not check for a started build: {exc.message}")
        return unknown
    if found is None:
        builds_url = report_for(config, Outcome.CANCELLED).builds_url
        events.note(
            f"Cancelled while starting: a build of {target.label} may have started "
            f"({builds_url}); the post step looks for it and aborts it."
        )
        return unknown
    events.started(found, adopted=True)
    aborted = _abort_build(client, target, found.id, events)
    return Started(found, True, Outcome.CANCELLED, aborted=aborted)


def _abort_build(
    client: NorthflankClient, target: BuildTarget | None, build_id: str, events: Events
) -> bool | None:
    if target is None:
        return None
    return abort(
        f"build {build_id}",
        lambda: client.abort_build(target, build_id, timeout=ABORT_TIMEOUT_S),
        events.note,
    )


def _report(
    config: ActionConfig,
    service: EnsuredService | None,
    started: Started,
    followed: Followed[Build] | None,
) -> BuildReport:
    """The one place the report is put together, from what the phases returned."""
    fields: dict[str, Any] = {
        **_service_fields(config, service),
        "build": started.build,
        "adopted": started.adopted,
        "start_unknown_since": started.unknown_since,
        "aborted": started.aborted,
    }
    if followed is None:
        outcome = started.outcome or Outcome.ERROR
        return report_for(config, outcome, failure=started.failure, **fields)
    build = followed.last
    fields.update(
        build=build,
        timeline=followed.timeline,
        waited_s=followed.waited_s,
        log_tail=followed.log_tail,
        aborted=followed.aborted,
    )
    target = config.target
    assert target is not None
    failure: Failure | None = followed.failure
    if followed.end is None:
        outcome = Outcome.ERROR
    elif followed.end is WaitEnd.CONCLUDED:
        outcome = Outcome.SUCCEEDED if build.succeeded else Outcome.FAILED
        if outcome is Outcome.FAILED:
            failure = BuildFailed(
                build.id, target, build.status or "", build.message or "", bool(followed.log_tail)
            )
    elif followed.end is WaitEnd.TIMED_OUT:
        outcome = Outcome.TIMED_OUT
        failure = TimedOut(
            build.id,
            config.timeout_seconds,
            build.status or "",
            followed.aborted,
            config.abort_on_cancel,
        )
    else:
        outcome = Outcome.CANCELLED
    return report_for(config, outcome, failure=failure, **fields)
