"""The build run: start one build, wait for it, abort it on timeout or cancel.

Shared by the action and any other front end; it reports through ``Events`` and returns a
``BuildReport``, and never touches GitHub or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.client import EnsuredService, NorthflankClient
from northflank_build.api.clock import Clock
from northflank_build.api.errors import (
    Cancelled,
    CreateOutcomeUnknown,
    DeadlineReached,
    NorthflankError,
)
from northflank_build.api.logs import LogLine, Tail, TailOpener, TailUnavailable
from northflank_build.api.retry import NO_RETRY, RetryPolicy
from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.api.timestamps import format_timestamp
from northflank_build.api.wire import printable
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.logs import BuildLogs
from northflank_build.engine.report import (
    BuildFailed,
    BuildReport,
    InternalError,
    Outcome,
    StartUnknown,
    TimedOut,
    dashboard_base,
)
from northflank_build.engine.schedule import DENSE_S, Forecast, PollSchedule
from northflank_build.engine.waiting import WaitEnd, WaitPolicy, wait_for_build
from northflank_build.inputs.config import ActionConfig

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

ABORT_TIMEOUT_S = 3.0
# Builds listed for the forecast: one page, newest picked by our own sort (order undocumented).
FORECAST_PAGE = 50
FORECAST_TIMEOUT_S = 5.0
TAIL_OPEN_TIMEOUT_S = 5.0
# A log page is worth less than a status check: one try, bounded (logs.py tries again
# at its next turn).
LOG_READ_S = 5.0


class Events(Protocol):
    """What a front end hears while the run goes on."""

    def service(self, service: EnsuredService) -> None: ...
    def starting(self, target: BuildTarget, body: StartBuildRequest, at: float) -> None:
        """The start request goes out now (``at``, epoch seconds)."""
        ...

    def started(self, build: Build, adopted: bool) -> None: ...
    def status(self, build: Build, elapsed: float) -> None: ...
    def trouble(self, problem: Exception, elapsed: float) -> None: ...
    def note(self, message: str) -> None: ...
    def planned(self, method: str, url: str, body: dict[str, Any]) -> None: ...
    def following(self, build: Build, source: str) -> None: ...
    def log_lines(self, lines: list[LogLine]) -> None: ...
    def followed(self) -> None: ...


SECRET_MAPS = ("buildFiles", "dockerSecretMounts")


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """A request body safe to print: secret file and mount contents replaced."""
    out = dict(body)
    holder = out.get("overrides") if "overrides" in out else out
    if isinstance(holder, dict):
        holder = dict(holder)
        for key in SECRET_MAPS:
            if isinstance(holder.get(key), dict):
                holder[key] = {
                    name: {"data": "***redacted***", "encoding": "utf-8"} for name in holder[key]
                }
        if "overrides" in out:
            out["overrides"] = holder
        else:
            out = holder
    return out


def new_report(config: ActionConfig, outcome: Outcome) -> BuildReport:
    return BuildReport(
        outcome,
        project_id=config.project_id,
        team_id=config.team_id,
        target=config.target,
        dashboard=dashboard_base(config.api_url),
    )


def dry_run(config: ActionConfig, events: Events) -> BuildReport:
    """Validate and show what would be sent; send nothing (so no token is needed)."""
    target = config.target
    report = new_report(config, Outcome.DRY_RUN)
    report.requested_sha, report.requested_branch = config.sha or "", config.branch or ""
    routes, base = Routes(config.project_id, config.team_id), config.api_url
    if config.service_spec is not None:
        report.service_id = config.service_spec.service_id
        events.planned(
            "POST", base + routes.build_services, redacted(config.service_spec.to_json())
        )
        if config.if_exists == "update":
            events.note(
                "If the service exists (409), the same body would be sent with PUT (if-exists: update)."
            )
    elif target is not None and target.kind == "service":
        report.service_id = target.id
    if target is not None:
        events.planned(
            "POST", base + routes.builds(target), redacted(config.start_request().to_json())
        )
        if config.wait:
            events.note(
                f"Then it would poll GET {base}{routes.builds(target)}/<build-id> until the "
                "build concludes."
            )
    return report


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
    abort-on-cancel) and keeps everything learned so far in the report.
    """
    report = new_report(config, Outcome.ERROR)
    try:
        _run(config, client, clock, cancel, events, report, open_tail)
    except Exception as exc:  # a bug of ours, or an answer nothing foresaw
        report.outcome = Outcome.ERROR
        report.failure = internal_error(exc)
        build = report.build
        if build is not None and not build.finished and config.abort_on_cancel:
            assert report.target is not None
            abort(client, report.target, build.id, events, report)
    return report


def internal_error(exc: BaseException) -> InternalError:
    return InternalError(type(exc).__name__, printable(str(exc))[:300])


def _run(
    config: ActionConfig,
    client: NorthflankClient,
    clock: Clock,
    cancel: CancelScope,
    events: Events,
    report: BuildReport,
    open_tail: TailOpener | None,
) -> None:
    target = config.target
    if config.service_spec is not None:
        try:
            with cancel.interruptible():
                spec = config.service_spec
                ensured = client.ensure_service(
                    spec.to_json(), spec.name, spec.service_id, config.if_exists
                )
        except Cancelled:
            report.outcome = Outcome.CANCELLED
            return
        except NorthflankError as exc:
            report.failure = exc
            report.outcome = (
                Outcome.TIMED_OUT if isinstance(exc, DeadlineReached) else Outcome.ERROR
            )
            return
        report.service_id, report.service_created = ensured.service_id, ensured.created
        events.service(ensured)
    elif target is not None and target.kind == "service":
        report.service_id = target.id
    if target is None:
        report.outcome = Outcome.CREATED
        return
    body = config.start_request()
    events.starting(target, body, clock.wall())
    try:
        with cancel.interruptible():
            started = client.start_build(target, body)
    except Cancelled as exc:
        report.outcome = Outcome.CANCELLED
        if exc.sent_at is not None:
            _after_cancelled_start(config, client, target, events, report, exc.sent_at)
        return
    except CreateOutcomeUnknown as exc:
        report.start_unknown_since = exc.sent_at
        report.failure = StartUnknown(target, report.builds_url, exc)
        return
    except NorthflankError as exc:
        report.failure = exc
        report.outcome = Outcome.TIMED_OUT if isinstance(exc, DeadlineReached) else Outcome.ERROR
        return
    report.build = started.build
    report.adopted = started.adopted
    events.started(started.build, started.adopted)
    if not config.wait:
        report.outcome = Outcome.STARTED
        return
    _wait(config, client, clock, cancel, events, report, open_tail)


def _wait(
    config: ActionConfig,
    client: NorthflankClient,
    clock: Clock,
    cancel: CancelScope,
    events: Events,
    report: BuildReport,
    open_tail: TailOpener | None,
) -> None:
    assert report.build is not None and report.target is not None
    target = report.target
    build_id = report.build.id
    began = clock.monotonic()

    def on_change(build: Build, elapsed: float) -> None:
        report.build = build
        report.timeline.append((build.status or "UNKNOWN", elapsed))
        events.status(build, elapsed)

    def fetch() -> Build:
        build = client.get_build(target, build_id)
        report.build = build
        return build

    forecast = None
    logs: BuildLogs | None = None
    end: WaitEnd | None = None
    try:
        with cancel.interruptible():
            # A forecast is worth one request, but not while the shared budget is short.
            if client.pacing_delay() <= 0:
                forecast = _forecast(client, target, build_id)
            schedule = PollSchedule(config.poll_interval_seconds, forecast)
            if schedule.window is not None and schedule.forecast is not None:
                lo, hi = schedule.window
                events.note(
                    f"Recent builds of {target.label} took about {schedule.forecast.median_s:.0f} s "
                    f"({schedule.forecast.samples} builds): checking every {DENSE_S:.0f} s "
                    f"from {lo:.0f} s to {hi:.0f} s, sparsely before."
                )
            # With show-logs: false the live tail is still opened, as the end signal alone
            # (one request, no output): the status is checked the moment it closes.
            logs = _open_logs(config, client, report.build, target, clock, events, open_tail)
            events.following(report.build, logs.source if logs else "")
            policy = WaitPolicy(timeout_s=client.deadline - began, schedule=schedule)
            wait_clock: Clock = clock if logs is None else _LogPumpingClock(clock, logs, events)
            result = wait_for_build(
                report.build,
                fetch,
                policy,
                wait_clock,
                on_change=on_change,
                on_trouble=events.trouble,
                pacing=client.pacing_delay,
                started=began,
            )
        end = result.end
    except Cancelled:
        end = WaitEnd.CANCELLED
    except NorthflankError as exc:
        report.failure = exc
        report.outcome = Outcome.ERROR
    report.waited_s = clock.monotonic() - began
    if end in (WaitEnd.CANCELLED, WaitEnd.TIMED_OUT):
        # The runner gives a cancelled step seconds: the abort goes first, and nothing after
        # it may wait on the network or raise the cancel again.
        if config.abort_on_cancel:
            abort(client, target, build_id, events, report)
        if logs is not None:
            _finish_logs(logs, events, report, final=False, network=False)
    elif logs is not None:
        try:
            with cancel.interruptible():
                _finish_logs(logs, events, report, final=end is WaitEnd.CONCLUDED, network=True)
        except Cancelled:
            _finish_logs(logs, events, report, final=False, network=False)
    events.followed()
    if end is None:
        return
    build = report.build
    if end is WaitEnd.CONCLUDED:
        if build.succeeded:
            report.outcome = Outcome.SUCCEEDED
            return
        report.outcome = Outcome.FAILED
        report.failure = BuildFailed(
            build.id, target, build.status or "", build.message or "", bool(report.log_tail)
        )
        return
    if end is WaitEnd.TIMED_OUT:
        report.outcome = Outcome.TIMED_OUT
        report.failure = TimedOut(
            build.id,
            config.timeout_seconds,
            build.status or "",
            report.aborted,
            config.abort_on_cancel,
        )
    else:
        report.outcome = Outcome.CANCELLED


def _forecast(client: NorthflankClient, target: BuildTarget, build_id: str) -> Forecast | None:
    """One list request for the durations of recent builds; none is fine (no forecast)."""
    try:
        page = client.list_builds(
            target, per_page=FORECAST_PAGE, policy=NO_RETRY, timeout=FORECAST_TIMEOUT_S
        )
    except NorthflankError:
        return None
    return Forecast.from_builds(page.builds, exclude=build_id)


class _LogPumpingClock:
    """The waiting loop's clock, waking four times a second to print new log lines.

    Its sleep ends early when the live log stream closes, so the status is checked then.
    """

    SLICE_S = 0.25

    def __init__(self, clock: Clock, logs: BuildLogs, events: Events) -> None:
        self._clock, self._logs, self._events = clock, logs, events

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def wall(self) -> float:
        return self._clock.wall()

    def sleep(self, seconds: float) -> bool:
        end = self._clock.monotonic() + seconds
        while True:
            left = end - self._clock.monotonic()
            if left <= 0:
                return False
            if self._clock.sleep(min(self.SLICE_S, left)):
                return True
            lines = self._logs.pump()
            if lines:
                self._events.log_lines(lines)
            if self._logs.take_end_hint():
                return False  # not cancelled, but check the status now


def _open_logs(
    config: ActionConfig,
    client: NorthflankClient,
    build: Build,
    target: BuildTarget,
    clock: Clock,
    events: Events,
    open_tail: TailOpener | None,
) -> BuildLogs | None:
    # websockets is imported here, after the build started: start-up stays lean.
    from northflank_build.api.logtail import WebSocketTail  # noqa: PLC0415

    tail: Tail | None = None
    url = client.routes.tail_url(config.api_url, target, build.id)
    client.wait_for_turn()  # after a 429, not even the socket's upgrade goes out early
    open_timeout = max(0.1, min(TAIL_OPEN_TIMEOUT_S, client.deadline - clock.monotonic()))
    try:
        tail = (open_tail or WebSocketTail)(url, config.api_token.get_secret_value(), open_timeout)
    except TailUnavailable as exc:
        if not config.show_logs:
            return None  # no end signal: the schedule alone, as without a socket
        events.note(f"Live log stream unavailable ({exc}); following the log over HTTP.")

    def read_range(start_time: str | None, limit: int) -> tuple[list[LogLine], bool]:
        # Logs never hold up status checks for long: one try, bounded (LOG_READ_S).
        return client.build_logs(
            target, build.id, start_time, limit, policy=NO_RETRY, timeout=LOG_READ_S
        )

    created = build.created_datetime()
    return BuildLogs(
        read_range,
        clock.monotonic,
        tail,
        events.note,
        clock.sleep,
        budget_low=lambda: client.pacing_delay() > 0,
        # Without a startTime the server applies its own window (30 minutes in the official
        # CLI): the first page starts at the build's creation so no early line is lost.
        first_start=format_timestamp(created - timedelta(seconds=1)) if created else None,
        show=config.show_logs,
    )


def _finish_logs(
    logs: BuildLogs, events: Events, report: BuildReport, *, final: bool, network: bool
) -> None:
    """The lines that came after the last poll, then what the summary needs.

    Without ``network`` (after a cancel or timeout) only what the live tail already holds.
    """
    lines = logs.pump(final=final) if network else logs.drain_tail()
    if lines:
        events.log_lines(lines)
    logs.close()
    report.log_tail = list(logs.last_lines)


def _after_cancelled_start(
    config: ActionConfig,
    client: NorthflankClient,
    target: BuildTarget,
    events: Events,
    report: BuildReport,
    sent_at: float,
) -> None:
    """Cancelled while the start request was out: it may have made a build. One quick look
    (no wait, nothing raised); found, it is aborted; not found, the post step looks again."""
    report.start_unknown_since = sent_at
    if not config.abort_on_cancel:
        return
    try:
        found = client.find_started_quickly(target, config.sha, sent_at)
    except NorthflankError as exc:
        events.note(f"Cancelled while starting; could not check for a started build: {exc.message}")
        return
    if found is None:
        events.note(
            f"Cancelled while starting: a build of {target.label} may have started "
            f"({report.builds_url}); the post step looks for it and aborts it."
        )
        return
    report.build = found
    report.start_unknown_since = None
    events.started(found, adopted=True)
    abort(client, target, found.id, events, report)


def abort(
    client: NorthflankClient,
    target: BuildTarget,
    build_id: str,
    events: Events,
    report: BuildReport,
) -> None:
    """One short DELETE; a failure is reported, never raised (we are already ending)."""
    events.note(f"Aborting build {build_id} on Northflank...")
    try:
        client.abort_build(target, build_id, timeout=ABORT_TIMEOUT_S)
    except NorthflankError as exc:
        report.aborted = False
        events.note(f"Could not abort build {build_id}: {exc.message}")
        return
    report.aborted = True
    events.note(f"Aborted build {build_id}.")
