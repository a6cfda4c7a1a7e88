"""Deployment services and job runs: read a service and point it at a build (PATCH), start,
read and abort a job run, and read its log
(../shared/reference/northflank-api-deploy.md, sections 1 to 3;
https://northflank.com/docs/v1/api/services/patch-deployment-service and
https://northflank.com/docs/v1/api/jobs/run-job)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from northflank_build.api.adopt import RUN_STAMP_S, Claim, ambiguous, claim
from northflank_build.api.bodies import StartJobRunRequest
from northflank_build.api.decode import entries, envelope, model, next_cursor, page_query
from northflank_build.api.errors import ApiError, Resource
from northflank_build.api.http import Call
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import NO_RETRY, RetryPolicy
from northflank_build.api.scope import Scope, log_page

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import JobRun, Service


class Deployments:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def get(self, service_id: str) -> Service:
        def parse(resp: httpx.Response) -> Service:
            from northflank_build.api.models import Service  # noqa: PLC0415

            return model(Service, resp, envelope(resp)["data"])

        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, Resource("service", service_id))

        return self._scope.session.call(
            Call(
                f"read service {service_id!r}",
                "Project > Services > General > Read",
                "GET",
                self._scope.routes.service(service_id),
            ),
            parse,
            on_404=missing,
        )

    def patch(self, service_id: str, body: dict[str, Any]) -> None:
        """Point the service at a build. Sent like a read (resent after an ambiguous
        failure): the same body twice sets the same source, it creates nothing."""

        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, Resource("service", service_id))

        self._scope.session.call(
            Call(
                f"deploy the build to service {service_id!r}",
                "Project > Services > General > Update",
                "PATCH",
                self._scope.routes.deployment_service(service_id),
                json_body=body,
            ),
            lambda _resp: None,
            on_404=missing,
        )


class ServiceList:
    """The project's services, a page at a time (GET …/services: no tag filter, so a
    preview's services are found by reading their tags; section 10, item 3)."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def page(self, cursor: str | None = None) -> tuple[list[Service], str | None]:
        from northflank_build.api.models import Service  # noqa: PLC0415

        def parse(resp: httpx.Response) -> tuple[list[Service], str | None]:
            body = envelope(resp)
            services, _skipped = entries(Service, resp, body["data"], "services")
            return services, next_cursor(body)

        params = page_query(cursor)
        return self._scope.session.call(
            Call(
                "list the project's services",
                "Project > Services > General > Read",
                "GET",
                self._scope.routes.services,
                params=params,
            ),
            parse,
        )


class JobRuns:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def check_job(self, job_id: str) -> None:
        """That the job exists and the token may read it (GET job: northflank-api.md 4.5)."""

        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, Resource("job", job_id))

        self._scope.session.call(
            Call(
                f"read job {job_id!r}",
                "Project > Jobs > General > Read",
                "GET",
                self._scope.routes.job(job_id),
            ),
            lambda _resp: None,
            on_404=missing,
        )

    def start(self, job_id: str, body: StartJobRunRequest) -> JobRun:
        """Start exactly one run: after an ambiguous failure the job's runs are searched for
        the one this request started, and nothing is resent (api/http.py: Session.call)."""

        def find(sent_at: float) -> JobRun | None:
            return self._find_started(job_id, sent_at)

        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, Resource("job", job_id))

        return self._scope.session.call(
            Call(
                f"start a run of job {job_id!r}",
                "Project > Jobs > General > Read",
                "POST",
                self._scope.routes.job_runs(job_id),
                json_body=body.to_json(),
            ),
            _parse_run,
            find=find,
            on_404=missing,
        )

    def get(self, job_id: str, run_id: str) -> JobRun:
        return self._scope.session.call(
            Call(
                f"read run {run_id!r} of job {job_id!r}",
                "Project > Jobs > General > Read",
                "GET",
                self._scope.routes.job_run(job_id, run_id),
            ),
            _parse_run,
        )

    def abort(self, job_id: str, run_id: str, timeout: float = 3.0) -> None:
        """One quick DELETE, exempt from the deadline and a 429's hold, like a build's."""
        self._scope.session.call(
            Call(
                f"abort run {run_id!r} of job {job_id!r}",
                "Project > Jobs > Deployment > Deploy Build",
                "DELETE",
                self._scope.routes.job_run(job_id, run_id),
                exempt=True,
            ),
            lambda _resp: None,
            policy=NO_RETRY,
            timeout=timeout,
        )

    def logs(
        self,
        job_id: str,
        run_id: str,
        start_time: str | None,
        limit: int,
        *,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> tuple[list[LogLine], bool]:
        """One page of the run's log from ``start_time`` on; and whether more follow."""
        return log_page(
            self._scope.session,
            Call(
                f"read the log of run {run_id!r}",
                "Project > Jobs > Deployment > View Instance Logs",
                "GET",
                self._scope.routes.job_logs(job_id),
                params={"runId": run_id},
            ),
            start_time,
            limit,
            policy=policy,
            timeout=timeout,
        )

    def _find_started(self, job_id: str, sent_at: float) -> JobRun | None:
        """The run this start made, when provably ours (api/adopt.py: claim); None when
        nothing can be; CreateAmbiguous when several runs (or one that may predate the
        request) started around that moment. Runs have no sha: any run of the job counts."""
        found = self.claim_started(job_id, sent_at, self.list_recent(job_id))
        if found.ours is not None or not found.candidates:
            return found.ours
        ids = tuple(run.id for run in found.candidates)
        raise ambiguous(f"start a run of job {job_id!r}", "run", "the job", ids, sent_at)

    def claim_started(self, job_id: str, sent_at: float, runs: list[JobRun]) -> Claim[JobRun]:
        session = self._scope.session
        return claim(
            runs,
            lambda r: r.started_datetime(),
            sent_at=sent_at,
            looked_at=session.clock.wall(),
            skew=session.skew,
            stamp_s=RUN_STAMP_S,
        )

    def list_recent(self, job_id: str, *, timeout: float | None = None) -> list[JobRun]:
        """The job's latest runs (one page of 50); unreadable entries skipped."""
        from northflank_build.api.models import JobRun  # noqa: PLC0415

        def parse(resp: httpx.Response) -> list[JobRun]:
            runs, skipped = entries(JobRun, resp, envelope(resp)["data"], "runs")
            if skipped:
                self._scope.session.debug(f"{skipped} unreadable run(s) in the list were skipped")
            return runs

        return self._scope.session.call(
            Call(
                f"list the runs of job {job_id!r}",
                "Project > Jobs > General > Read",
                "GET",
                self._scope.routes.job_runs(job_id),
                params={"per_page": 50},
            ),
            parse,
            policy=NO_RETRY if timeout is not None else None,
            timeout=timeout,
        )


def _parse_run(resp: httpx.Response) -> JobRun:
    from northflank_build.api.models import JobRun  # noqa: PLC0415

    return model(JobRun, resp, envelope(resp)["data"])
