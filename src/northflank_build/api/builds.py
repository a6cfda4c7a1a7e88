"""A target's builds (a job's or a build service's): start exactly one, read, list, abort,
read a log page, and find what a lost start made or a build to reuse
(https://northflank.com/docs/v1/api/jobs/start-job-build and its get, list, abort and
build-logs siblings; api/adopt.py decides what is provably ours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
from northflank_build.api.decode import entries, envelope, next_cursor, page_query, parse_build
from northflank_build.api.errors import ApiError, Resource
from northflank_build.api.http import Call
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import NO_RETRY, RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.api.scope import Scope, log_page

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

# A last look (the build a cancelled start made): one try, this long.
QUICK_S = 2.0


@dataclass(frozen=True)
class StartedBuild:
    build: Build
    adopted: bool  # found after an ambiguous failure instead of read from the POST answer


def _permission(target: BuildTarget, what: str) -> str:
    return f"Project > {target.permission_area} > {what}"


class Builds:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def get(self, target: BuildTarget, build_id: str) -> Build:
        what = f"read build {build_id!r} of {target.label}"

        def missing(error: ApiError) -> ApiError:
            return self._scope.missing_build(error, target, build_id)

        return self._scope.session.call(
            Call(
                what,
                _permission(target, "Deployment > Deploy Build"),
                "GET",
                self._scope.routes.build(target, build_id),
            ),
            parse_build,
            on_404=missing,
        )

    def page(
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
                self._scope.session.debug(f"{skipped} unreadable build(s) in the list were skipped")
            return BuildPage(builds, next_cursor(body), skipped)

        params = page_query(cursor, per_page)
        return self._scope.session.call(
            Call(
                f"list the builds of {target.label}",
                _permission(target, "General > Read"),
                "GET",
                self._scope.routes.builds(target),
                params=params,
            ),
            parse,
            policy=policy,
            timeout=timeout,
        )

    def logs(
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
            self._scope.session,
            Call(
                f"read the log of build {build_id!r}",
                _permission(target, "Deployment > View Instance Logs"),
                "GET",
                self._scope.routes.build_logs(target),
                params={"buildId": build_id},
            ),
            start_time,
            limit,
            policy=policy,
            timeout=timeout,
        )

    def abort(
        self, target: BuildTarget, build_id: str, timeout: float = 3.0, *, explain_404: bool = False
    ) -> None:
        """One quick DELETE: used on cancel or timeout, where the runner gives us seconds.

        The one request exempt from the deadline and from a 429's hold: a build left
        running costs more than one request over the budget.
        """

        def missing(error: ApiError) -> ApiError:
            # Only when asked (the CLI's abort command): after a cancel nothing more goes out.
            return self._scope.missing_build(error, target, build_id) if explain_404 else error

        self._scope.session.call(
            Call(
                f"abort build {build_id!r} of {target.label}",
                _permission(target, "Deployment > Deploy Build"),
                "DELETE",
                self._scope.routes.build(target, build_id),
                exempt=True,
            ),
            lambda _resp: None,
            policy=NO_RETRY,
            timeout=timeout,
            on_404=missing,
        )

    def start(self, target: BuildTarget, body: StartBuildRequest) -> StartedBuild:
        """Start exactly one build (see ``Session.call``'s ``find``).

        After an ambiguous failure the job's recent builds are searched for the one this
        request created (same sha, created after it was sent), and that build is adopted;
        when none can be identified, nothing is resent: CreateOutcomeUnknown.
        """

        def answer(resp: httpx.Response) -> StartedBuild:
            return StartedBuild(parse_build(resp), adopted=False)

        def find(sent_at: float) -> StartedBuild | None:
            self._scope.session.debug(
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
            return self._scope.not_found(error, Resource(target.kind, target.id))

        return self._scope.session.call(
            Call(
                f"start a build of {target.label}",
                _permission(target, "Deployment > Deploy Build"),
                "POST",
                self._scope.routes.builds(target),
                json_body=body.to_json(),
            ),
            answer,
            find=find,
            on_404=missing,
        )

    def find_started_quickly(
        self, target: BuildTarget, sha: str | None, sent_at: float
    ) -> Claim[Build]:
        """After a cancel hit the start request: one short look, no wait, nothing raised
        but NorthflankError; nothing found while a 429's hold lasts (only the abort may go
        out)."""
        if self._scope.session.held():
            return Claim(None)
        page = self.page(target, ADOPT_PAGE, policy=NO_RETRY, timeout=QUICK_S)
        return self.claim(page.builds, sha, sent_at)

    def claim(self, builds: list[Build], sha: str | None, sent_at: float) -> Claim[Build]:
        """Which of ``builds`` a start sent at ``sent_at`` provably made (api/adopt.py)."""
        clock = self._scope.session.clock
        return claim_build(builds, sha, sent_at, clock.wall(), self._scope.session.skew)

    def find_reusable(self, target: BuildTarget, sha: str, running_too: bool) -> Build | None:
        """A build of ``sha`` to use instead of starting one (api/adopt.py: reusable)."""

        def page(cursor: str | None) -> BuildPage:
            return self.page(target, ADOPT_PAGE, cursor=cursor)

        return reusable(recent_builds(page), sha, running_too)

    def _find_started(self, target: BuildTarget, sha: str | None, sent_at: float) -> Claim[Build]:
        def page(cursor: str | None) -> BuildPage:
            return self.page(target, ADOPT_PAGE, cursor=cursor)

        def judge(builds: list[Build]) -> Claim[Build]:
            return self.claim(builds, sha, sent_at)

        return find_started(page, self._scope.session.sleep, judge)
