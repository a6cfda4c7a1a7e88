"""What a front end hears while a run goes on (the action's step log, the CLI's stderr)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from northflank_build.api.bodies import (
    InternalDeployment,
    StartBuildRequest,
    StartJobRunRequest,
)
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.follow import Listener

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build, JobRun
    from northflank_build.engine.ship import Rollout


class Events(Protocol):
    """What a front end hears while the run goes on. ``index`` is the target's place in
    the order given (0 for a one-target step)."""

    def service(self, service: EnsuredService) -> None: ...
    def starting(self, index: int, target: BuildTarget, body: StartBuildRequest, at: float) -> None:
        """The start request goes out now (``at``, epoch seconds)."""
        ...

    def started(self, index: int, target: BuildTarget, build: Build, adopted: bool) -> None: ...
    def reused(self, index: int, target: BuildTarget, build: Build, given: bool) -> None:
        """A build this step did not start is the result (``given``: by build-id, else
        found by reuse); never aborted."""
        ...

    def note(self, message: str) -> None: ...
    def planned(self, method: str, url: str, body: dict[str, Any]) -> None: ...
    def watch(self, index: int, target: BuildTarget, count: int) -> Listener[Build]:
        """Who hears about the build of ``target`` while it is followed, among ``count``."""
        ...

    def deploying(self, service_id: str, internal: InternalDeployment, instances: int) -> None:
        """The PATCH that points ``service_id`` at the build goes out now."""
        ...

    def watch_rollout(self, service_id: str) -> Listener[Rollout]: ...
    def run_starting(self, job_id: str, body: StartJobRunRequest, at: float) -> None:
        """The run's start request goes out now (``at``, epoch seconds)."""
        ...

    def run_started(self, job_id: str, run: JobRun) -> None: ...
    def watch_run(self, job_id: str) -> Listener[JobRun]: ...
