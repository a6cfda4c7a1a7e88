"""The Northflank endpoints this action uses, as methods that return values or raise facts.

Routes come from api/routes.py, requests go through the session (api/http.py: the deadline,
the 429 hold, the one retry loop), answers are read by api/decode.py. Endpoints:
https://northflank.com/docs/v1/api/jobs/start-job-build (and get, list, abort, build logs)
and https://northflank.com/docs/v1/api/services/create-build-service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from northflank_build.api.builds import QUICK_S, Builds
from northflank_build.api.clock import Clock
from northflank_build.api.deploys import Deployments, JobRuns, ServiceList
from northflank_build.api.errors import (
    ApiError,
    NorthflankError,
    NotFound,
    Resource,
)
from northflank_build.api.http import Call, Session
from northflank_build.api.previews import Previews
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.api.scope import Scope
from northflank_build.api.services import BuildServices
from northflank_build.api.templates import TemplateRuns

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    pass


class NorthflankClient:
    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        project_id: str,
        team_id: str | None,
        clock: Clock,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        on_debug: Callable[[str], None] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.project_id = project_id
        self.team_id = team_id
        self.routes = Routes(project_id, team_id)
        self.session = Session(
            api_url=api_url,
            token=token,
            clock=clock,
            retry=retry,
            transport=transport,
            on_debug=on_debug,
            deadline=deadline,
            scope=Resource("project", project_id, team_id),
        )
        scope = Scope(self.session, self.routes, project_id, self.not_found, self.build_not_found)
        self.builds = Builds(scope)
        self.templates = TemplateRuns(scope)
        self.previews = Previews(scope)
        self.service_list = ServiceList(scope)
        self.services = BuildServices(scope)
        self.deployments = Deployments(scope)
        self.runs = JobRuns(scope)

    def __enter__(self) -> NorthflankClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    @property
    def deadline(self) -> float:
        return self.session.deadline

    def pacing_delay(self) -> float:
        return self.session.pacing_delay()

    def wait_for_turn(self) -> None:
        self.session.wait_for_turn()

    # -- what a 404 was about -------------------------------------------------------------

    def not_found(self, error: ApiError, resource: Resource | None) -> NotFound:
        """A 404 on a route under the project made precise: is the project missing (or
        invisible to the token), or ``resource``? One GET of the project tells them apart."""
        visible = self._project_visible()
        project = Resource("project", self.project_id, self.team_id)
        found = project if visible is False else resource if visible else None
        if found == project:
            team = f" in team {self.team_id!r}" if self.team_id else ""
            message = (
                f"Project {self.project_id!r}{team} was not found, or the API token cannot see it."
            )
        elif found is not None:
            team = f" in team {self.team_id!r}" if self.team_id else ""
            message = (
                f"The {found.kind} {found.id!r} was not found in project {self.project_id!r}{team}."
            )
        else:
            message = error.message
        return NotFound(
            404,
            error.operation,
            message,
            permission=error.permission,
            resource=found,
            said=error.said,
            error_id=error.error_id,
        )

    def build_not_found(self, error: ApiError, target: BuildTarget, build_id: str) -> NotFound:
        """A 404 on a build's route: the project, the job or service, or the build? The
        project and the target are each read once (a short look) to tell."""
        found = self.not_found(error, Resource(target.kind, target.id))
        if found.resource != Resource(target.kind, target.id):
            return found  # the project is missing, or it cannot be told
        if self._visible(self.routes.target(target)) is False:
            return found  # the job or service is missing
        return NotFound(
            404,
            error.operation,
            f"Build {build_id!r} of {target.label} in project {self.project_id!r} was not found.",
            permission=error.permission,
            resource=Resource("build", build_id),
            said=error.said,
            error_id=error.error_id,
        )

    def _project_visible(self) -> bool | None:
        return self._visible(self.routes.project)

    def _visible(self, path: str) -> bool | None:
        """Whether what ``path`` names (the project, a job, a service) exists for this
        token: True, False, or None if unknown (one short try)."""
        try:
            resp = self.session.send(
                Call("check what a 404 was about", "Project > General > Read", "GET", path),
                QUICK_S,
            )
        except (httpx.TransportError, NorthflankError):
            return None
        if resp.is_success:
            return True
        return False if resp.status_code == 404 else None
