"""What a front end hears while a run goes on (the action's step log, the CLI's stderr)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.logs import LogLine
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


class Events(Protocol):
    """What a front end hears while the run goes on."""

    def service(self, service: EnsuredService) -> None: ...
    def starting(self, target: BuildTarget, body: StartBuildRequest, at: float) -> None:
        """The start request goes out now (``at``, epoch seconds)."""
        ...

    def started(self, build: Build, adopted: bool) -> None: ...
    def status(self, snapshot: Build, elapsed: float) -> None: ...
    def trouble(self, problem: Exception, elapsed: float) -> None: ...
    def note(self, message: str) -> None: ...
    def planned(self, method: str, url: str, body: dict[str, Any]) -> None: ...
    def log_group(self, snapshot: Build, source: str) -> None:
        """The build's log group opens: its status changes, and its lines from ``source``."""
        ...

    def log_lines(self, lines: list[LogLine]) -> None: ...
    def log_group_end(self) -> None: ...
