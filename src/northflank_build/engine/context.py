"""What every phase of a step works with (the configuration, the client, the clock, the
cancel scope, the front end's events and, in tests and benches, the tail opener), and the
one way a phase follows operations: engine/follow.py's follow_all with the step's settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock
from northflank_build.api.logs import TailOpener
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.events import Events
from northflank_build.engine.follow import follow_all
from northflank_build.engine.logs import LogAccess
from northflank_build.engine.operation import Followed, Watch
from northflank_build.engine.waiting import S
from northflank_build.inputs.config import ActionConfig


@dataclass(frozen=True)
class StepContext:
    config: ActionConfig
    client: NorthflankClient
    clock: Clock
    cancel: CancelScope
    events: Events
    open_tail: TailOpener | None = None  # a tail in virtual time (tests, benches)

    @property
    def log_access(self) -> LogAccess:
        token = self.config.connection.api_token.get_secret_value()
        return LogAccess(token, self.config.waiting.show_logs, self.open_tail)

    def follow(self, watches: Sequence[Watch[S]]) -> list[Followed[S]]:
        """Follow ``watches`` together: one deadline, one budget, the step's poll interval,
        and on a cancel or timeout the aborts first (when abort-on-cancel)."""
        return follow_all(
            watches,
            clock=self.clock,
            cancel=self.cancel,
            poll_interval_s=self.config.waiting.poll_interval_seconds,
            deadline=self.client.deadline,
            pacing=self.client.pacing_delay,
            abort_on_cancel=self.config.waiting.abort_on_cancel,
        )
