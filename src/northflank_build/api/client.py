"""A small httpx client for the Northflank endpoints this action uses.

One place for timeouts, retries, rate-limit pacing and turning error answers into clear
messages. Reads are retried; a create (the start-build POST) never is, blindly (``_call``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx

from northflank_build import __version__
from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.clock import Clock
from northflank_build.api.errors import (
    ActionFailure,
    ApiError,
    AuthenticationFailed,
    Cancelled,
    CreateOutcomeUnknown,
    DeadlineReached,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportFailure,
)
from northflank_build.api.logs import LogLine
from northflank_build.api.ratelimit import RateLimit, SharedBudget, retry_after_seconds, server_time
from northflank_build.api.retry import NO_RETRY, RETRYABLE_STATUS, RetryPolicy
from northflank_build.api.routes import BuildTarget, project_path
from northflank_build.api.wire import decode_json, printable, segment, send_bounded

if TYPE_CHECKING:
    from northflank_build.api.models import Build

T = TypeVar("T")
# Each request is bounded in total (headers and body), not only per socket read.
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
BOUND_SLACK_S = 0.5
# A last look (the status at the deadline, the build a cancelled start made): one try.
QUICK_S = 2.0
START_ATTEMPTS = 3
# A 429 that asks for no wait (Retry-After: 0, a date in the past) still waits this long,
# and a request answered 429 this many times in a row fails: no storm of requests.
MIN_RATE_LIMIT_WAIT_S = 1.0
MAX_RATE_LIMITED = 8
MESSAGE_CHARS = 300
# How far before our send time a build may be stamped and still be ours: the Date header
# has 1 s resolution, so the skew estimate can be up to ~1 s short.
ADOPT_TOLERANCE_S = 1.5
ADOPT_TOLERANCE_NO_DATE_S = 5.0
# Looking for the build an ambiguous start made: 100 a page (the most the API gives), and
# up to 4 more pages when the list comes oldest first.
ADOPT_PAGE = 100
ADOPT_MORE_PAGES = 4
# Connect failures prove the request never reached the server, so resending is safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def plain_http(api_url: str) -> bool:
    return urlsplit(api_url).scheme == "http"


@dataclass(frozen=True)
class Call:
    """One API operation: what it is for (in messages), its route and body."""

    what: str
    permission: str
    method: str
    path: str
    json_body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    not_found: str | None = None
    exempt: bool = False  # the abort: not held by the deadline or a 429


@dataclass(frozen=True)
class EnsuredService:
    service_id: str
    created: bool
    updated: bool = False


@dataclass(frozen=True)
class BuildPage:
    builds: list[Build]
    skew: float  # the server's clock minus ours, in seconds; NaN without a Date header
    next_cursor: str | None


@dataclass(frozen=True)
class StartedBuild:
    build: Build
    adopted: bool  # found after an ambiguous failure instead of read from the POST answer


def _describe(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({detail})"
    return detail


def _envelope(resp: httpx.Response) -> dict[str, Any]:
    """The whole answer, checked to be ``{"data": {...}, ...}``; strings made printable."""
    try:
        body = decode_json(resp.content)
    except ValueError:
        raise MalformedResponse(
            f"HTTP {resp.status_code} from {resp.request.method} {resp.request.url.path} "
            "was not JSON.",
            fix="If api-url points at a proxy or the wrong host, correct it.",
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise MalformedResponse(
            f"HTTP {resp.status_code} from {resp.request.method} {resp.request.url.path} "
            'had no "data" object.'
        )
    return body


def _data(resp: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = _envelope(resp)["data"]
    return data


def _model(kind: type[T], resp: httpx.Response, data: dict[str, Any]) -> T:
    # pydantic and the models load here, once a response has arrived: the first request
    # goes out without them (start-up).
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return kind.model_validate(data)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()[:5])
        raise MalformedResponse(
            f"HTTP {resp.status_code} from {resp.request.method} {resp.request.url.path} "
            f"had missing or mistyped fields: {printable(fields)[:MESSAGE_CHARS]}."
        ) from None


def _next_cursor(body: dict[str, Any]) -> str | None:
    pagination = body.get("pagination")
    if not isinstance(pagination, dict) or not pagination.get("hasNextPage"):
        return None
    cursor = pagination.get("cursor")
    return cursor if isinstance(cursor, str) and 0 < len(cursor) <= 200 else None


def _oldest_first(builds: list[Build]) -> bool:
    moments = [b.created_datetime() for b in builds]
    known = [m for m in moments if m is not None]
    return len(known) >= 2 and known[0] < known[-1]


def parse_build(resp: httpx.Response) -> Build:
    from northflank_build.api.models import Build  # noqa: PLC0415

    return _model(Build, resp, _data(resp))


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
        timeout: float = REQUEST_TIMEOUT_S,
        on_debug: Callable[[str], None] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.project_id = project_id
        self.team_id = team_id
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._debug = on_debug or (lambda _msg: None)
        self._budget = SharedBudget()
        self._timeout = timeout
        # One deadline for the whole run (timeout-seconds): no wait or request outlives it,
        # but for the one abort that a timeout or cancel sends.
        self.deadline = math.inf if deadline is None else deadline
        # After a 429 nothing but an abort goes out before the time the server asked for:
        # the budget is the token's, not one request's.
        self._not_before = 0.0
        self._http = httpx.Client(
            base_url=api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"northflank-build-action/{__version__}",
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            # Plain http is allowed for loopback only, so that the token never crosses a
            # network unencrypted: an HTTP(S)_PROXY or ALL_PROXY must not carry it away.
            trust_env=not plain_http(api_url),
        )

    def __enter__(self) -> NorthflankClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- routes ---------------------------------------------------------------------------

    @property
    def project_path(self) -> str:
        return project_path(self.project_id, self.team_id)

    def builds_path(self, target: BuildTarget) -> str:
        return f"{self.project_path}/{target.segment}/build"

    def build_path(self, target: BuildTarget, build_id: str) -> str:
        return f"{self.builds_path(target)}/{segment(build_id)}"

    # -- pacing -----------------------------------------------------------------------------

    def pacing_delay(self) -> float:
        """Least pause before the next poll that keeps the shared budget (0 when plenty)."""
        now = self._clock.monotonic()
        return max(self._budget.pacing_delay(now), self._not_before - now)

    def held(self) -> bool:
        """Whether a 429's wait is still running: no request but an abort may go out."""
        return self._clock.monotonic() < self._not_before

    def wait_for_turn(self) -> None:
        """Wait out a 429's hold (cancellable, never past the deadline): before a request
        that does not go through this client, such as the log socket's upgrade."""
        left = self._not_before - self._clock.monotonic()
        if left <= 0:
            return
        if self._clock.monotonic() + left >= self.deadline:
            raise DeadlineReached(
                f"Northflank's rate limit asks to wait {left:.0f} s more, past timeout-seconds."
            )
        self._sleep(left)

    # -- endpoints ---------------------------------------------------------------------------

    def get_build(self, target: BuildTarget, build_id: str, *, quick: bool = False) -> Build:
        """``quick``: one try within QUICK_S (a last look before giving up on the build)."""
        return self._call(
            Call(
                f"read build {build_id!r} of {target.label}",
                f"Project > {target.area} > Deployment > Deploy Build",
                "GET",
                self.build_path(target, build_id),
                not_found=f"Build {build_id!r} of {target.label} in project {self.project_id!r} was not found.",
            ),
            parse_build,
            policy=NO_RETRY if quick else None,
            timeout=QUICK_S if quick else None,
        )

    def list_builds(
        self,
        target: BuildTarget,
        per_page: int = 20,
        *,
        cursor: str | None = None,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> BuildPage:
        """One page of the builds, the server clock's skew, and the next page's cursor."""

        def parse(resp: httpx.Response) -> BuildPage:
            from northflank_build.api.models import BuildList  # noqa: PLC0415

            body = _envelope(resp)
            builds = _model(BuildList, resp, body["data"]).builds
            date = server_time(resp.headers)
            skew = date - self._clock.wall() if date is not None else float("nan")
            return BuildPage(builds, skew, _next_cursor(body))

        params: dict[str, Any] = {"per_page": per_page}
        if cursor is not None:
            params["cursor"] = cursor
        return self._call(
            Call(
                f"list the builds of {target.label}",
                f"Project > {target.area} > General > Read",
                "GET",
                self.builds_path(target),
                params=params,
            ),
            parse,
            policy=policy,
            timeout=timeout,
        )

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

        def parse(resp: httpx.Response) -> tuple[list[LogLine], bool]:
            try:
                body = decode_json(resp.content)
            except ValueError:
                raise MalformedResponse("The build log answer was not JSON.") from None
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise MalformedResponse('The build log answer had no "data" list.')
            lines = [line for line in map(LogLine.from_api, items) if line is not None]
            pagination = body.get("pagination")
            more = isinstance(pagination, dict) and pagination.get("hasNextPage") is True
            return lines, more

        params: dict[str, Any] = {
            "queryType": "range",
            "buildId": build_id,
            "direction": "forward",
            "lineLimit": limit,
        }
        if start_time:
            params["startTime"] = start_time
        return self._call(
            Call(
                f"read the log of build {build_id!r}",
                f"Project > {target.area} > Deployment > View Instance Logs",
                "GET",
                f"{self.project_path}/{target.segment}/build-logs",
                params=params,
            ),
            parse,
            policy=policy,
            timeout=timeout,
        )

    def abort_build(self, target: BuildTarget, build_id: str, timeout: float = 3.0) -> None:
        """One quick DELETE: used on cancel or timeout, where the runner gives us seconds.

        The one request exempt from the deadline and from a 429's hold: a build left
        running costs more than one request over the budget.
        """
        self._call(
            Call(
                f"abort build {build_id!r} of {target.label}",
                f"Project > {target.area} > Deployment > Deploy Build",
                "DELETE",
                self.build_path(target, build_id),
                exempt=True,
            ),
            lambda _resp: None,
            policy=NO_RETRY,
            timeout=timeout,
        )

    def project_visible(self) -> bool | None:
        """Whether the project exists for this token: True, False, or None if unknown."""
        try:
            resp = self._send(Call("", "", "GET", self.project_path), QUICK_S)
        except (httpx.TransportError, ActionFailure):
            return None
        if resp.is_success:
            return True
        return False if resp.status_code == 404 else None

    def start_build(self, target: BuildTarget, body: StartBuildRequest) -> StartedBuild:
        """Start exactly one build (see ``_call``'s ``find``).

        After an ambiguous failure the job's recent builds are searched for the one this
        request created (same sha, created after it was sent), and that build is adopted;
        when none can be identified, nothing is resent: CreateOutcomeUnknown.
        """
        call = Call(
            f"start a build of {target.label}",
            f"Project > {target.area} > Deployment > Deploy Build",
            "POST",
            self.builds_path(target),
            json_body=body.to_json(),
        )

        def answer(resp: httpx.Response) -> StartedBuild:
            return StartedBuild(parse_build(resp), adopted=False)

        def find(sent_at: float) -> StartedBuild | None:
            self._debug(
                "the start request's outcome is unknown; looking for the build it may have made"
            )
            found = self._find_started(target, body.sha, sent_at)
            return StartedBuild(found, adopted=True) if found is not None else None

        def not_found(resp: httpx.Response) -> ApiError:
            return self._start_not_found(resp, target)

        return self._call(call, answer, find=find, on_404=not_found)

    def service_exists(self, service_id: str) -> bool:
        try:
            return self._call(
                Call(
                    f"read service {service_id!r}",
                    "Project > Services > General > Read",
                    "GET",
                    f"{self.project_path}/services/{segment(service_id)}",
                ),
                lambda _resp: True,
            )
        except NotFound:
            return False

    def ensure_service(
        self, payload: dict[str, Any], name: str, service_id: str, if_exists: str
    ) -> EnsuredService:
        """Create the build service ``payload`` describes (Northflank derives ``service_id``
        from its ``name``); if it exists, ``use`` it, ``fail``, or ``update`` it (PUT).

        After an ambiguous failure the service is looked up before anything is resent.
        """
        operation = f"create the build service {name!r}"
        path = f"{self.project_path}/services/build"
        call = Call(operation, "Project > Services > General > Create", "POST", path, payload)

        def answer(resp: httpx.Response) -> EnsuredService:
            return EnsuredService(service_id, created=True)

        def find(_sent_at: float) -> EnsuredService | None:
            exists = self.service_exists(service_id)
            return EnsuredService(service_id, created=True) if exists else None

        def project_missing(resp: httpx.Response) -> ApiError:
            return self._project_not_found(resp, operation)

        try:
            return self._call(call, answer, find=find, on_404=project_missing)
        except ApiError as exc:
            if exc.status != 409:
                raise
        if if_exists == "use":
            return EnsuredService(service_id, created=False)
        if if_exists == "update":
            self._call(
                Call(f"update the build service {name!r}", call.permission, "PUT", path, payload),
                lambda _resp: None,
            )
            return EnsuredService(service_id, created=False, updated=True)
        raise ApiError(
            409,
            f"A service with the id {service_id!r} (derived from the name {name!r}) already "
            f"exists in project {self.project_id!r}, and if-exists is fail.",
            fix="Set if-exists: use to build the existing service, if-exists: update to apply the "
            "spec to it, or give the new service another name.",
            title="Build service already exists",
        )

    def _project_not_found(self, resp: httpx.Response, operation: str) -> NotFound:
        base = self._error(resp, operation, "")
        team = f" in team {self.team_id!r}" if self.team_id else ""
        return NotFound(
            404,
            f"Project {self.project_id!r}{team} was not found, or the API token cannot see it.",
            error_id=base.error_id,
            fix="Check project-id and that the token's API role covers this project.",
        )

    # -- finding what an ambiguous start made ---------------------------------------------------

    def find_started_quickly(
        self, target: BuildTarget, sha: str | None, sent_at: float
    ) -> Build | None:
        """After a cancel hit the start request: one short look, no wait, nothing raised
        but ActionFailure; None while a 429's hold lasts (only the abort may go out then)."""
        if self.held():
            return None
        return self._find_started(target, sha, sent_at, quick=True)

    def _find_started(
        self, target: BuildTarget, sha: str | None, sent_at: float, *, quick: bool = False
    ) -> Build | None:
        for attempt in range(1 if quick else 2):
            if attempt:
                self._sleep(1.0)  # a build list may lag the create by a moment
            if quick:
                page = self.list_builds(target, ADOPT_PAGE, policy=NO_RETRY, timeout=QUICK_S)
                builds, skew = page.builds, page.skew
            else:
                page = self.list_builds(target, ADOPT_PAGE)
                builds, skew = list(page.builds), page.skew
                # The list's order is undocumented: if it is oldest first, the new build is
                # on the last page, so follow the cursor there.
                for _ in range(ADOPT_MORE_PAGES):
                    if page.next_cursor is None or not _oldest_first(page.builds):
                        break
                    page = self.list_builds(target, ADOPT_PAGE, cursor=page.next_cursor)
                    builds += page.builds
            found = adoptable(builds, sha, sent_at, skew)
            if found is not None:
                return found
        return None

    def _start_not_found(self, resp: httpx.Response, target: BuildTarget) -> NotFound:
        base = self._error(resp, f"start a build of {target.label}", "")
        visible = self.project_visible()
        team = f" in team {self.team_id!r}" if self.team_id else ""
        if visible is False:
            return NotFound(
                404,
                f"Project {self.project_id!r}{team} was not found, or the API token cannot see it.",
                error_id=base.error_id,
                fix="Check project-id (the project's id as in its dashboard URL) and that the "
                "token's API role covers this project"
                + (" and team-id." if self.team_id else "; organisation tokens also need team-id."),
            )
        if visible is True:
            return NotFound(
                404,
                f"The {target.kind} {target.id!r} was not found in project {self.project_id!r}{team}.",
                error_id=base.error_id,
                fix=f"Check {target.kind}-id: the {target.kind}'s id as in its dashboard URL.",
            )
        return NotFound(404, base.message, error_id=base.error_id, fix=base.fix)

    # -- machinery -----------------------------------------------------------------------------

    def _send(self, call: Call, timeout: float | None) -> httpx.Response:
        """One request, bounded in total by ``timeout`` and by the deadline (unless exempt)."""
        return self._transmit(call, self._ready(call, timeout))

    def _ready(self, call: Call, timeout: float | None) -> float:
        """Wait out a 429's hold; the time this request may take. Nothing is sent here."""
        limit = self._timeout if timeout is None else timeout
        if call.exempt:
            return limit
        self.wait_for_turn()
        left = self.deadline - self._clock.monotonic()
        if left <= 0:
            raise DeadlineReached(f"timeout-seconds ran out before the request to {call.what}.")
        return min(limit, left)

    def _transmit(self, call: Call, limit: float) -> httpx.Response:
        request = self._http.build_request(
            call.method,
            call.path,
            json=call.json_body,
            params=call.params,
            timeout=httpx.Timeout(limit, connect=min(limit, CONNECT_TIMEOUT_S)),
        )
        began = self._clock.monotonic()
        resp = send_bounded(self._http, request, limit + BOUND_SLACK_S)
        now = self._clock.monotonic()
        rate = RateLimit.from_headers(resp.headers, now, self._clock.wall())
        if rate is not None:
            self._budget.observe(rate)
        remaining = f", rate limit remaining {rate.remaining:g}" if rate else ""
        # Method, path and status only: bodies and headers may hold secrets.
        self._debug(
            f"{call.method} {call.path} -> {resp.status_code} in {(now - began) * 1000:.0f} ms{remaining}"
        )
        if resp.status_code == 429:
            asked = retry_after_seconds(resp.headers, self._clock.wall())
            hold = max(MIN_RATE_LIMIT_WAIT_S, asked if asked is not None else 0.0)
            self._not_before = max(self._not_before, now + hold)
        return resp

    def _call(
        self,
        call: Call,
        parse: Callable[[httpx.Response], T],
        *,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
        find: Callable[[float], T | None] | None = None,
        on_404: Callable[[httpx.Response], ApiError] | None = None,
    ) -> T:
        """The one retry loop, for reads and for creates.

        Reads (``find`` is None) are retried on connection failures, timeouts, 5xx and
        unreadable answers. A create (``find`` given) must happen once: it is resent only
        when the request provably created nothing (it never connected, or it was answered
        429); after an ambiguous failure ``find`` looks for what it made, and if that finds
        nothing it is not resent: CreateOutcomeUnknown. A 429 waits as the server asks
        (at least MIN_RATE_LIMIT_WAIT_S, at most MAX_RATE_LIMITED times), never past the
        deadline.
        """
        policy = policy or self._retry
        create = find is not None
        started = self._clock.monotonic()
        failures = limited = 0
        waited = 0.0
        while True:
            limit = self._ready(call, timeout)  # a cancel here: nothing was sent
            sent_at = self._clock.wall()
            ambiguous = False
            problem: ActionFailure
            try:
                try:
                    resp = self._transmit(call, limit)
                except NOT_SENT as exc:
                    problem = TransportFailure(
                        f"Could not connect to {self._http.base_url}: {_describe(exc)}."
                    )
                except httpx.TransportError as exc:
                    problem = TransportFailure(
                        f"The request to {call.what} failed: {_describe(exc)}."
                    )
                    ambiguous = True
                else:
                    if resp.status_code == 429 and policy.attempts > 1:
                        limited += 1
                        hold = max(0.0, self._not_before - self._clock.monotonic())
                        self._check_rate_limit_wait(call, limited, waited + hold)
                        waited += hold
                        self._debug(f"rate limited (429); waiting {hold:.1f} s as the server asks")
                        continue  # _send waits for the hold before the next request
                    if resp.is_success:
                        try:
                            return parse(resp)
                        except MalformedResponse as exc:  # a 2xx we cannot read
                            problem, ambiguous = exc, True
                    elif resp.status_code in RETRYABLE_STATUS:
                        problem, ambiguous = self._error(resp, call.what, call.permission), True
                    elif resp.status_code == 404 and on_404 is not None:
                        raise on_404(resp)
                    elif resp.status_code == 404 and call.not_found:
                        base = self._error(resp, call.what, call.permission)
                        raise NotFound(404, call.not_found, error_id=base.error_id, fix=base.fix)
                    else:
                        raise self._error(resp, call.what, call.permission)
                if create and ambiguous:
                    assert find is not None
                    found = find(sent_at)
                    if found is not None:
                        return found
                    raise CreateOutcomeUnknown(
                        f"The request to {call.what} may have worked ({problem.message}), and "
                        "what it made could not be found; it was not sent again, so that "
                        "nothing is made twice.",
                        sent_at=sent_at,
                    )
            except Cancelled as cancel:
                # A cancel while a create was out (or its outcome looked for): say when.
                raise Cancelled(str(cancel), sent_at=sent_at if create else None) from None
            except (DeadlineReached, TransportFailure, ApiError, MalformedResponse) as exc:
                if create and ambiguous:  # the look for what it made failed
                    raise CreateOutcomeUnknown(
                        f"The request to {call.what} may have worked, and looking for what it "
                        f"made failed ({exc.message}); it was not sent again.",
                        sent_at=sent_at,
                    ) from None
                raise
            failures += 1
            delay = policy.backoff(failures)
            now = self._clock.monotonic()
            if (
                failures >= (START_ATTEMPTS if create else policy.attempts)
                or now - started + delay > policy.total_seconds
                or now + delay >= self.deadline
            ):
                raise problem
            self._debug(f"{problem.message} Retrying in {delay:.1f} s.")
            self._sleep(delay)

    def _check_rate_limit_wait(self, call: Call, limited: int, total: float) -> None:
        cap = self._retry.max_rate_limit_wait
        if limited > MAX_RATE_LIMITED or total > cap:
            why = (
                f"it was answered 429 {limited} times in a row, past this action's cap of "
                f"{MAX_RATE_LIMITED}"
                if limited > MAX_RATE_LIMITED
                else f"it asks to wait {total:.0f} s, past this action's cap of {cap:.0f} s"
            )
            raise RateLimited(
                429,
                f"Northflank's rate limit was hit while trying to {call.what}: {why}.",
                fix="The token's budget (about 1000 requests an hour) is shared by every workflow "
                "using it: raise poll-interval-seconds, use a separate token for CI, or ask "
                "Northflank support for a higher limit.",
            )
        if self._not_before >= self.deadline:
            raise DeadlineReached(
                f"Northflank's rate limit asks to wait past timeout-seconds (trying to {call.what})."
            )

    def _sleep(self, seconds: float) -> None:
        if self._clock.sleep(seconds):
            raise Cancelled("cancelled while waiting to retry")

    def _error(self, resp: httpx.Response, operation: str, permission: str) -> ApiError:
        status = resp.status_code
        message, error_id, details = _error_fields(resp)
        said = f" Northflank said: {message}" if message else ""
        ref = f" (error id {error_id})" if error_id else ""
        if status == 401:
            return AuthenticationFailed(
                status,
                f"Northflank rejected the API token (HTTP 401) when trying to {operation}: it is "
                f"invalid, expired or revoked.{said}{ref}",
                error_id=error_id,
                fix="Create a new API token in Northflank (team settings > API > Tokens) and store "
                "it in the secret passed as api-token.",
            )
        if status == 403:
            return PermissionDenied(
                status,
                f"The API token may not {operation} (HTTP 403).{said}{ref}",
                error_id=error_id,
                fix=f"Give the token's API role the permission {permission} "
                f"on project {self.project_id!r}"
                + (
                    " (newer Northflank docs name it General > Update)."
                    if "Deploy Build" in permission
                    else "."
                ),
            )
        if status == 404:
            return NotFound(
                status,
                f"Not found (HTTP 404) when trying to {operation}.{said}{ref}",
                error_id=error_id,
            )
        if status == 429:
            return RateLimited(status, f"Rate limited (HTTP 429) when trying to {operation}.{said}")
        if status >= 500:
            return ServerError(
                status,
                f"Northflank answered HTTP {status} when trying to {operation}.{said}{ref}",
                error_id=error_id,
                fix="This is usually temporary; re-run the job. If it persists, check "
                "Northflank's status page.",
            )
        return ApiError(
            status,
            f"Northflank refused to {operation} (HTTP {status}).{said}{ref}",
            error_id=error_id,
            details=details,
        )


def _error_fields(resp: httpx.Response) -> tuple[str, str | None, Any]:
    """Northflank's error envelope: its message (printable, bounded), id and details."""
    try:
        body = decode_json(resp.content)
    except ValueError:
        return printable(resp.text.strip())[:MESSAGE_CHARS], None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return printable(resp.text.strip())[:MESSAGE_CHARS], None, None
    message = error.get("message")
    error_id = error.get("id")
    return (
        message[:MESSAGE_CHARS] if isinstance(message, str) else "",
        error_id[:100] if isinstance(error_id, str) else None,
        error.get("details"),
    )


def adoptable(builds: list[Build], sha: str | None, sent_at: float, skew: float) -> Build | None:
    """The earliest build of ``sha`` created after ``sent_at`` (our clock), or None.

    ``skew`` is the server clock minus ours (NaN when unknown: then a wider window). A build
    without a readable ``createdAt`` cannot be placed in time, so it is never taken.
    """
    if math.isnan(skew):
        threshold = sent_at - ADOPT_TOLERANCE_NO_DATE_S
    else:
        threshold = sent_at + skew - ADOPT_TOLERANCE_S
    candidates = []
    for build in builds:
        created = build.created_datetime()
        if created is None or created.timestamp() < threshold:
            continue
        if sha is not None and build.sha != sha:
            continue
        candidates.append((created, build))
    return min(candidates, key=lambda item: item[0])[1] if candidates else None
