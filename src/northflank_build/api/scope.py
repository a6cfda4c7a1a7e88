"""What a resource of the API (build services, deployment services, job runs) works with:
the session, the routes, the project, and how a 404 is made precise; given by the client
(api/client.py), so no resource imports it. And the one reader of a log page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from northflank_build.api.errors import ApiError, MalformedResponse, NotFound, Resource
from northflank_build.api.http import Call, Session
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.api.wire import decode_json


@dataclass(frozen=True)
class Scope:
    session: Session
    routes: Routes
    project_id: str
    # A 404 on a route under the project made precise (api/client.py: not_found).
    not_found: Callable[[ApiError, Resource | None], NotFound]
    # A 404 on a build: the build, its target or the project (api/client.py).
    missing_build: Callable[[ApiError, BuildTarget, str], NotFound]


def log_page(
    session: Session,
    call: Call,
    start_time: str | None,
    limit: int,
    *,
    policy: RetryPolicy | None = None,
    timeout: float | None = None,
) -> tuple[list[LogLine], bool]:
    """One page of a log (a build's, a job run's: ``call.params`` says which) from
    ``start_time`` on, with the range query the log endpoints share."""
    params: dict[str, Any] = {
        "queryType": "range",
        **call.params,
        "direction": "forward",
        "lineLimit": limit,
    }
    if start_time:
        params["startTime"] = start_time
    return session.call(
        replace(call, params=params), _parse_log_page, policy=policy, timeout=timeout
    )


def _parse_log_page(resp: httpx.Response) -> tuple[list[LogLine], bool]:
    """A page of a build's or a job run's log: its lines, and whether more follow."""
    try:
        body = decode_json(resp.content)
    except ValueError:
        raise MalformedResponse("The log answer was not JSON.") from None
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise MalformedResponse('The log answer had no "data" list.')
    lines = [line for line in map(LogLine.from_api, items) if line is not None]
    pagination = body.get("pagination")
    more = isinstance(pagination, dict) and pagination.get("hasNextPage") is True
    return lines, more
