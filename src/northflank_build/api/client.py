"""The Northflank endpoints this action uses, as methods that return values or raise facts.

Routes come from api/routes.py, requests go through the session (api/http.py: the deadline,
the 429 hold, the one retry loop), answers are read by api/decode.py. Endpoints:
https://northflank.com/docs/v1/api/jobs/start-job-build (and get, list, abort, build logs)
and https://northflank.com/docs/v1/api/services/create-build-service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from northflank_build.api.adopt import (
    ADOPT_PAGE,
    BuildPage,
    Claim,
    ambiguous,
    claim_build,
    find_started,
    recent_builds,
    reusable,
)
from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.clock import Clock
from northflank_build.api.decode import entries, envelope, next_cursor, parse_build
from northflank_build.api.deploys import Deployments, JobRuns
from northflank_build.api.errors import (
    ApiError,
    NorthflankError,
    NotFound,
    Resource,
)
from northflank_build.api.http import Call, Session
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import NO_RETRY, RetryPolicy
from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.api.scope import Scope, log_page
from northflank_build.api.services import BuildServices

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

# A last look (the status at the deadline, the build a cancelled start made): one try.
QUICK_S = 2.0


@dataclass(frozen=True)
class StartedBuild:
    build: Build
    adopted: bool  # found after an ambiguous failure instead of read from the POST answer


def _permission(target: BuildTarget, what: str) -> str:
    return f"Project > {target.permission_area} > {what}"


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
        scope = Scope(self.session, self.routes, project_id, self.not_found)
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

    # -- builds ------------------------------------------------------------------------------

    def get_build(self, target: BuildTarget, build_id: str) -> Build:
        what = f"read build {build_id!r} of {target.label}"

        def missing(error: ApiError) -> ApiError:
            return self.build_not_found(error, target, build_id)

        return self.session.call(
            Call(what, _permission(target, "Deployment > Deploy Build"), "GET",
                 self.routes.build(target, build_id)),
            parse_build,
            on_404=missing,
        )  # fmt: skip

    def list_builds(
        self,
        target: BuildTarget,
        per_page: int = 20,
        *,
        cursor: str | None = None,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> BuildPage:
        """One page of the builds (unreadable entries skipped and counted) and the next
        page's cursor; its Date narrows the session's skew bounds (api/http.py)."""

        def parse(resp: httpx.Response) -> BuildPage:
            from northflank_build.api.models import Build  # noqa: PLC0415

            body = envelope(resp)
            builds, skipped = entries(Build, resp, body["data"], "builds")
            if skipped:
                self.session.debug(f"{skipped} unreadable build(s) in the list were skipped")
            return BuildPage(builds, next_cursor(body), skipped)

        params: dict[str, Any] = {"per_page": per_page}
        if cursor is not None:
            params["cursor"] = cursor
        return self.session.call(
            Call(f"list the builds of {target.label}", _permission(target, "General > Read"),
                 "GET", self.routes.builds(target), params=params),
            parse,
            policy=policy,
            timeout=timeout,
        )  # fmt: skip

    def build_logs(
        self,
        target: BuildTarget,
        build_id: str,
        start_time: str | None,
        limit: int,
        *,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> tuple[list[LogLine], bool]:
        """One page of the build's log from ``start_time`` on; and whether more follow."""
        return log_page(
            self.session,
            Call(f"read the log of build {build_id!r}",
                 _permission(target, "Deployment > View Instance Logs"), "GET",
                 self.routes.build_logs(target), params={"buildId": build_id}),
            start_time, limit, policy=policy, timeout=timeout,
        )  # fmt: skip

    def abort_build(
        self, target: BuildTarget, build_id: str, timeout: float = 3.0, *, explain_404: bool = False
    ) -> None:
        """One quick DELETE: used on cancel or timeout, where the runner gives us seconds.

        The one request exempt from the deadline and from a 429's hold: a build left
        running costs more than one request over the budget.
        """

        def missing(error: ApiError) -> ApiError:
            # Only when asked (the CLI's abort command): after a cancel nothing more goes out.
            return self.build_not_found(error, target, build_id) if explain_404 else error

        self.session.call(
            Call(f"abort build {build_id!r} of {target.label}",
                 _permission(target, "Deployment > Deploy Build"), "DELETE",
                 self.routes.build(target, build_id), exempt=True),
            lambda _resp: None,
            policy=NO_RETRY,
            timeout=timeout,
            on_404=missing,
        )  # fmt: skip

    def start_build(self, target: BuildTarget, body: StartBuildRequest) -> StartedBuild:
        """Start exactly one build (see ``Session.call``'s ``find``).

        After an ambiguous failure the job's recent builds are searched for the one this
        request created (same sha, created after it was sent), and that build is adopted;
        when none can be identified, nothing is resent: CreateOutcomeUnknown.
        """

        def answer(resp: httpx.Response) -> StartedBuild:
            return StartedBuild(parse_build(resp), adopted=False)

        def find(sent_at: float) -> StartedBuild | None:
            self.session.debug(
                "the start request's outcome is unknown; looking for the build it may have made"
            )
            found = self._find_started(target, body.sha, sent_at)
            if found.ours is not None:
                return StartedBuild(found.ours, adopted=True)
            if found.candidates:
                ids = tuple(b.id for b in found.candidates)
                of = body.sha or "its commit"
                raise ambiguous(f"start a build of {target.label}", "build", of, ids, sent_at)
            return None

        def missing(error: ApiError) -> ApiError:
            return self.not_found(error, Resource(target.kind, target.id))

        return self.session.call(
            Call(f"start a build of {target.label}",
                 _permission(target, "Deployment > Deploy Build"), "POST",
                 self.routes.builds(target), json_body=body.to_json()),
            answer,
            find=find,
            on_404=missing,
        )  # fmt: skip

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
            404, error.operation,
            f"Build {build_id!r} of {target.label} in project {self.project_id!r} was not found.",
            permission=error.permission, resource=Resource("build", build_id),
            said=error.said, error_id=error.error_id,
        )  # fmt: skip

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

    # -- the build an unanswered start made ------------------------------------------------

    def find_started_quickly(
        self, target: BuildTarget, sha: str | None, sent_at: float
    ) -> Claim[Build]:
        """After a cancel hit the start request: one short look, no wait, nothing raised
        but NorthflankError; nothing found while a 429's hold lasts (only the abort may go
        out)."""
        if self.session.held():
            return Claim(None)
        page = self.list_builds(target, ADOPT_PAGE, policy=NO_RETRY, timeout=QUICK_S)
        return self.claim_build(page.builds, sha, sent_at)

    def claim_build(self, builds: list[Build], sha: str | None, sent_at: float) -> Claim[Build]:
        """Which of ``builds`` a start sent at ``sent_at`` provably made (api/adopt.py)."""
        clock = self.session.clock
        return claim_build(builds, sha, sent_at, clock.wall(), self.session.skew)

    def find_reusable(self, target: BuildTarget, sha: str, running_too: bool) -> Build | None:
        """A build of ``sha`` to use instead of starting one (api/adopt.py: reusable)."""

        def page(cursor: str | None) -> BuildPage:
            return self.list_builds(target, ADOPT_PAGE, cursor=cursor)

        return reusable(recent_builds(page), sha, running_too)

    def _find_started(self, target: BuildTarget, sha: str | None, sent_at: float) -> Claim[Build]:
        def page(cursor: str | None) -> BuildPage:
            return self.list_builds(target, ADOPT_PAGE, cursor=cursor)

        def judge(builds: list[Build]) -> Claim[Build]:
            return self.claim_build(builds, sha, sent_at)

        return find_started(page, self.session.sleep, judge)
