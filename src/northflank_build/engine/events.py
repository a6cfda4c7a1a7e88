"""What a front end hears while a run goes on (the action's step log and state, the CLI's
stderr). One generic start and one generic watch serve every kind of operation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from northflank_build.api.bodies import InternalDeployment
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.kind import Kind
from northflank_build.engine.operation import Listener, Start
from northflank_build.engine.waiting import Snapshot

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


class Events(Protocol):
    def service(self, service: EnsuredService) -> None: ...
    def starting(self, start: Start[Any], at: float) -> None:
        """The start request goes out now (``at``, epoch seconds): what the post step needs
        to find what it made is recorded before it goes."""
        ...

    def started(self, start: Start[Any], first: Snapshot, adopted: bool) -> None: ...
    def reused(self, index: int, target: BuildTarget, build: Build, given: bool) -> None:
        """A build this step did not start is the result (``given``: by build-id, else
        found by reuse); never aborted."""
        ...

    def under_way(self, builds: tuple[tuple[BuildTarget, str], ...]) -> None:
        """The step's builds have started or been found (each target with its build id;
        none for a step without builds), and its other work is about to start."""
        ...

    def note(self, message: str) -> None: ...
    def planned(self, method: str, url: str, body: dict[str, Any]) -> None: ...
    def watch(self, kind: Kind, name: str, label: str, *, several: bool) -> Listener[Any]:
        """Who hears about one operation while it is followed: ``name`` tags its lines
        among ``several``, ``label`` is what it belongs to ("job 'api'")."""
        ...

    def deploying(self, service_id: str, internal: InternalDeployment, instances: int) -> None:
        """The PATCH that points ``service_id`` at the build goes out now."""
        ...

    def pull_request_open(self, number: int) -> bool | None:
        """Whether pull request ``number`` is open (a preview sweep asks); None when the
        front end cannot tell."""
        ...
