"""Template runs: run a pipeline stage's release flow or a workflow, read, list and abort
its runs (../shared/reference/northflank-api-deploy.md, section 4;
https://northflank.com/docs/v1/api/project/pipelines/run-release-flow and
https://northflank.com/docs/v1/api/workflows/run-workflow).

The run POST's answer is undocumented (section 4.1: "200 OK: success", no body): its
``data.id`` is used when it has one; otherwise the run is found by its name, which the step
makes unique (a run whose name is ours is ours). The POST is never resent after it may
have reached Northflank (api/http.py: Session.call with ``find``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from northflank_build.api.adopt import NEAR_S
from northflank_build.api.bodies import TemplateRunRequest
from northflank_build.api.decode import entries, envelope, model, next_cursor, page_query
from northflank_build.api.errors import ApiError, MalformedResponse, Resource
from northflank_build.api.http import Call
from northflank_build.api.retry import NO_RETRY
from northflank_build.api.routes import TemplateTarget
from northflank_build.api.scope import Scope

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import TemplateRun

# The run list is paged this far when a run is looked for by its name (the list's order is
# undocumented, so "past the request's time" is only a stop when it is newest first).
FIND_PAGES = 10
FIND_PAGE_SIZE = 100
# A run created this long before the POST went out is not the POST's (the server's clock
# may lag ours by the skew's bounds; this is on top).
BEFORE_SENT_S = 60.0


class TemplateRuns:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def _missing(self, target: TemplateTarget) -> Any:
        kind = {"workflow": "workflow", "preview-blueprint": "preview blueprint"}.get(
            target.flow, "pipeline"
        )

        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, Resource(kind, target.id))

        return missing

    def start(self, target: TemplateTarget, body: TemplateRunRequest) -> TemplateRun:
        """Run it once. An answer without a run id is an answer we cannot use: the run is
        then found by ``body.name``, and the POST is not sent again."""

        def find(sent_at: float) -> TemplateRun | None:
            return self.find_by_name(target, body.name, sent_at)

        return self._scope.session.call(
            Call(
                f"run {target.label}",
                target.permission("start"),
                "POST",
                self._scope.routes.template_runs(target),
                json_body=body.to_json(),
            ),
            _parse_started,
            find=find,
            on_404=self._missing(target),
        )

    def get(self, target: TemplateTarget, run_id: str) -> TemplateRun:
        return self._scope.session.call(
            Call(
                f"read run {run_id!r} of {target.label}",
                target.permission("read"),
                "GET",
                self._scope.routes.template_run(target, run_id),
            ),
            _parse_run,
        )

    def abort(self, target: TemplateTarget, run_id: str, timeout: float = 3.0) -> None:
        """One quick POST …/abort (no body), exempt from the deadline and a 429's hold."""
        self._scope.session.call(
            Call(
                f"abort run {run_id!r} of {target.label}",
                target.permission("abort"),
                "POST",
                self._scope.routes.template_abort(target, run_id),
                exempt=True,
            ),
            lambda _resp: None,
            policy=NO_RETRY,
            timeout=timeout,
        )

    def page(
        self,
        target: TemplateTarget,
        *,
        cursor: str | None = None,
        unconcluded: bool = False,
        per_page: int = FIND_PAGE_SIZE,
        timeout: float | None = None,
    ) -> tuple[list[TemplateRun], str | None]:
        """One page of the runs (unreadable entries skipped) and the next page's cursor;
        ``unconcluded``: only those not concluded (release flows have the filter)."""
        from northflank_build.api.models import TemplateRun  # noqa: PLC0415

        def parse(resp: httpx.Response) -> tuple[list[TemplateRun], str | None]:
            body = envelope(resp)
            runs, _skipped = entries(TemplateRun, resp, body["data"], "runs")
            return runs, next_cursor(body)

        params = page_query(cursor, per_page)
        if unconcluded and target.flow != "workflow":  # release flows and blueprints filter
            params["concluded"] = "false"
        return self._scope.session.call(
            Call(
                f"list the runs of {target.label}",
                target.permission("read"),
                "GET",
                self._scope.routes.template_runs(target),
                params=params,
            ),
            parse,
            policy=NO_RETRY if timeout is not None else None,
            timeout=timeout,
        )

    def find_by_name(
        self, target: TemplateTarget, name: str, sent_at: float, *, timeout: float | None = None
    ) -> TemplateRun | None:
        """The run named ``name``: first among the unconcluded ones (release flows), then
        through every page until found, or until a newest-first list is past the request's
        time. Two looks a second apart: a list may lag the create by a moment."""
        for attempt in range(2):
            if attempt:
                self._scope.session.sleep(1.0)
            for unconcluded in (True, False) if target.flow != "workflow" else (False,):
                found = self._scan(target, name, sent_at, unconcluded, timeout)
                if found is not None:
                    return found
        return None

    def _scan(
        self,
        target: TemplateTarget,
        name: str,
        sent_at: float,
        unconcluded: bool,
        timeout: float | None,
    ) -> TemplateRun | None:
        horizon = sent_at + self._scope.session.skew.low - BEFORE_SENT_S
        # A preview's runs all bear its name (an older push's too): only one created after
        # this request can have been sent is this step's (api/adopt.py: NEAR_S).
        earliest = sent_at + self._scope.session.skew.low - NEAR_S
        fresh = target.flow == "preview-blueprint"
        cursor: str | None = None
        for _ in range(FIND_PAGES):
            runs, cursor = self.page(
                target, cursor=cursor, unconcluded=unconcluded, timeout=timeout
            )
            for run in runs:
                if run.name == name and (not fresh or _created_since(run, earliest)):
                    return run
            if cursor is None or _newest_first_and_older(runs, horizon):
                return None
        return None


def _created_since(run: TemplateRun, earliest: float) -> bool:
    created = run.created_datetime()
    return created is not None and created.timestamp() >= earliest


def _newest_first_and_older(runs: list[TemplateRun], horizon: float) -> bool:
    """A page that is newest first and whose last run was created before ``horizon``:
    the pages after it hold older runs only."""
    moments = [m.timestamp() for run in runs if (m := run.created_datetime()) is not None]
    return len(moments) >= 2 and moments[0] >= moments[-1] and moments[-1] < horizon


def _parse_run(resp: httpx.Response) -> TemplateRun:
    from northflank_build.api.models import TemplateRun  # noqa: PLC0415

    return model(TemplateRun, resp, envelope(resp)["data"])


def _parse_started(resp: httpx.Response) -> TemplateRun:
    """The POST's answer, when it names the run; else (no body, no id) what cannot be used,
    so that the run is looked for by its name."""
    if not resp.content.strip():
        raise MalformedResponse("The answer to the run request had no body, so no run id.")
    body = envelope(resp)
    if not isinstance(body["data"].get("id"), str):
        raise MalformedResponse("The answer to the run request named no run id.")
    return _parse_run(resp)
