"""The build as an operation the engine follows (engine/follow.py): read its state, abort
it, forecast its duration from the target's recent builds, and open its logs (the live tail,
or the HTTP range endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine, Tail, TailUnavailable
from northflank_build.api.retry import NO_RETRY
from northflank_build.api.routes import BuildTarget
from northflank_build.api.timestamps import format_timestamp
from northflank_build.engine.context import StepContext
from northflank_build.engine.logs import BuildLogs, RangeReader
from northflank_build.engine.schedule import Forecast

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

ABORT_TIMEOUT_S = 3.0
# Builds listed for the forecast: one page, newest picked by our own sort (order undocumented).
FORECAST_PAGE = 50
FORECAST_TIMEOUT_S = 5.0
TAIL_OPEN_TIMEOUT_S = 5.0


@dataclass
class BuildOperation:
    ctx: StepContext
    target: BuildTarget
    build: Build  # as started (its id and createdAt)
    note: Callable[[str], None]  # its listener's

    @property
    def label(self) -> str:
        return f"build {self.build.id}"

    @property
    def of(self) -> str:
        return self.target.label

    def read(self) -> Build:
        return self.ctx.client.get_build(self.target, self.build.id)

    def abort(self) -> None:
        self.ctx.client.abort_build(self.target, self.build.id, timeout=ABORT_TIMEOUT_S)

    def forecast(self) -> Forecast | None:
        """One list request for the durations of recent builds; none is fine (no forecast)."""
        try:
            page = self.ctx.client.list_builds(
                self.target, per_page=FORECAST_PAGE, policy=NO_RETRY, timeout=FORECAST_TIMEOUT_S
            )
        except NorthflankError:
            return None
        return Forecast.from_builds(page.builds, exclude=self.build.id)

    def open_logs(self) -> BuildLogs | None:
        client, target, build = self.ctx.client, self.target, self.build

        def read_range(start: str | None, limit: int, bound: float) -> tuple[list[LogLine], bool]:
            # One try (engine/logs.py tries again at its next turn), bounded by ``bound``.
            return client.build_logs(target, build.id, start, limit, policy=NO_RETRY, timeout=bound)

        url = client.routes.tail_url(self.ctx.config.api_url, target, build.id)
        return open_log_follower(self.ctx, url, read_range, build.created_datetime(), self.note)


def open_log_follower(
    ctx: StepContext,
    tail_url: str,
    read_range: RangeReader,
    created: datetime | None,
    note: Callable[[str], None],
) -> BuildLogs | None:
    """The live tail of a build's or a job run's log (with show-logs: false, only as the end
    signal: one request, no output), else, when lines are shown, the HTTP range endpoint."""
    # websockets is imported here, after the build started: start-up stays lean.
    from northflank_build.api.logtail import WebSocketTail  # noqa: PLC0415

    client, clock, show = ctx.client, ctx.clock, ctx.config.show_logs
    client.wait_for_turn()  # after a 429, not even the socket's upgrade goes out early
    # A quarter of the time left at most: the socket is worth less than the status checks.
    left = client.deadline - clock.monotonic()
    open_timeout = max(0.1, min(TAIL_OPEN_TIMEOUT_S, left / 4))
    tail: Tail | None = None
    try:
        tail = (ctx.open_tail or WebSocketTail)(tail_url, ctx.token, open_timeout)
    except TailUnavailable as exc:
        if not show:
            return None  # no end signal: the schedule alone, as without a socket
        note(f"Live log stream unavailable ({exc}); following the log over HTTP.")
    return BuildLogs(
        read_range,
        clock.monotonic,
        tail,
        note,
        clock.sleep,
        budget_low=lambda: client.pacing_delay() > 0,
        # Without a startTime the server applies its own window (30 minutes in the
        # official CLI): the first page starts at the creation.
        first_start=format_timestamp(created - timedelta(seconds=1)) if created else None,
        show=show,
    )
