"""A small httpx client for the Northflank endpoints this action uses.

One place for timeouts, retries, rate-limit pacing and turning error answers into clear
messages. Reads are retried; the start-build POST never is, blindly (see ``start_build``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from . import __version__
from .bodies import StartBuildRequest
from .clock import Clock
from .errors import (
    ActionFailure,
    ApiError,
    AuthenticationFailed,
    Cancelled,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportFailure,
)
from .logs import LogLine
from .ratelimit import RateLimit, SharedBudget, retry_after_seconds, server_time
from .retry import NO_RETRY, RETRYABLE_STATUS, RetryPolicy
from .target import BuildTarget, project_path
from .timestamps import parse_timestamp

if TYPE_CHECKING:
    from .config import ActionConfig
    from .models import Build
    from .service_spec import BuildServiceSpec

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)
START_ATTEMPTS = 3
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
    """The whole answer, checked to be ``{"data": {...}, ...}``."""
    try:
        body = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
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
    # goes out without them (start-up, issue #6).
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return kind.model_validate(data)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()[:5])
        raise MalformedResponse(
            f"HTTP {resp.status_code} from {resp.request.method} {resp.request.url.path} "
            f"had missing or mistyped fields: {fields}."
        ) from None


def _next_cursor(body: dict[str, Any]) -> str | None:
    pagination = body.get("pagination")
    if not isinstance(pagination, dict) or not pagination.get("hasNextPage"):
        return None
    cursor = pagination.get("cursor")
    return cursor if isinstance(cursor, str) and cursor else None


def _oldest_first(builds: list[Build]) -> bool:
    moments = [parse_timestamp(b.created_at) for b in builds]
    known = [m for m in moments if m is not None]
    return len(known) >= 2 and known[0] < known[-1]


def parse_build(resp: httpx.Response) -> Build:
    from .models import Build  # noqa: PLC0415

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
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_debug: Callable[[str], None] | None = None,
    ) -> None:
        self.project_id = project_id
        self.team_id = team_id
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._debug = on_debug or (lambda _msg: None)
        self._budget = SharedBudget()
        self.last_start_sent_at: float | None = None
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
        )

    @classmethod
    def for_config(
        cls,
        config: ActionConfig,
        clock: Clock,
        *,
        retry: RetryPolicy | None = None,
        on_debug: Callable[[str], None] | None = None,
    ) -> NorthflankClient:
        """The client for a validated configuration (the action, the CLI, the post step)."""
        return cls(
            api_url=config.api_url,
            token=config.api_token.get_secret_value(),
            project_id=config.project_id,
            team_id=config.team_id,
            clock=clock,
            retry=retry,
            on_debug=on_debug,
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

    # -- pacing -----------------------------------------------------------------------------

    def pacing_delay(self) -> float:
        """Least pause before the next poll that keeps the shared budget (0 when plenty)."""
        return self._budget.pacing_delay(self._clock.monotonic())

    # -- endpoints ---------------------------------------------------------------------------

    def get_build(self, target: BuildTarget, build_id: str) -> Build:
        return self._read(
            f"read build {build_id!r} of {target.label}",
            f"Project > {target.area} > Deployment > Deploy Build",
            "GET",
            f"{self.builds_path(target)}/{build_id}",
            parse_build,
            not_found=f"Build {build_id!r} of {target.label} in project {self.project_id!r} was not found.",
        )

    def list_builds(
        self,
        target: BuildTarget,
        per_page: int = 20,
        *,
        cursor: str | None = None,
        policy: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> BuildPage:
        """One page of the builds, the server clock's skew, and the next page's cursor."""

        def parse(resp: httpx.Response) -> BuildPage:
            from .models import BuildList  # noqa: PLC0415

            body = _envelope(resp)
            builds = _model(BuildList, resp, body["data"]).builds
            date = server_time(resp.headers)
            skew = date - self._clock.wall() if date is not None else float("nan")
            return BuildPage(builds, skew, _next_cursor(body))

        params: dict[str, Any] = {"per_page": per_page}
        if cursor is not None:
            params["cursor"] = cursor
        return self._read(
            f"list the builds of {target.label}",
            f"Project > {target.area} > General > Read",
            "GET",
            self.builds_path(target),
            parse,
            params=params,
            policy=policy,
            timeout=timeout,
        )

    def build_logs(
        self, target: BuildTarget, build_id: str, start_time: str | None, limit: int
    ) -> tuple[list[LogLine], bool]:
        """One page of the build's log from ``start_time`` on; and whether more follow."""

        def parse(resp: httpx.Response) -> tuple[list[LogLine], bool]:
            try:
                body = resp.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
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
        return self._read(
            f"read the log of build {build_id!r}",
            f"Project > {target.area} > Deployment > View Instance Logs",
            "GET",
            f"{self.project_path}/{target.segment}/build-logs",
            parse,
            params=params,
        )

    def abort_build(self, target: BuildTarget, build_id: str, timeout: float = 3.0) -> None:
        """One quick DELETE: used on cancel, where the runner gives us only seconds."""
        self._read(
            f"abort build {build_id!r} of {target.label}",
            f"Project > {target.area} > Deployment > Deploy Build",
            "DELETE",
            f"{self.builds_path(target)}/{build_id}",
            lambda _resp: None,
            policy=NO_RETRY,
            timeout=httpx.Timeout(timeout),
        )

    def project_visible(self) -> bool | None:
        """Whether the project exists for this token: True, False, or None if unknown."""
        try:
            resp = self._send("GET", self.project_path, timeout=httpx.Timeout(5.0))
        except httpx.TransportError:
            return None
        if resp.is_success:
            return True
        return False if resp.status_code == 404 else None

    def start_build(self, target: BuildTarget, body: StartBuildRequest) -> StartedBuild:
        """Start exactly one build (see ``_create_once_only``).

        After an ambiguous failure the job's recent builds are searched for the one this
        request created (same sha, created after it was sent), and that build is adopted.
        """
        operation = f"start a build of {target.label}"
        permission = f"Project > {target.area} > Deployment > Deploy Build"

        def answer(resp: httpx.Response) -> StartedBuild:
            if resp.is_success:
                return StartedBuild(parse_build(resp), adopted=False)
            if resp.status_code == 404:
                raise self._start_not_found(resp, target)
            raise self._error(resp, operation, permission)

        def find(sent_at: float) -> StartedBuild | None:
            self._debug(
                "the start request's outcome is unknown; looking for the build it may have made"
            )
            found = self._find_started(target, body.sha, sent_at)
            return StartedBuild(found, adopted=True) if found is not None else None

        return self._create_once_only(
            self.builds_path(target), body.to_json(), operation, answer, find
        )

    def service_exists(self, service_id: str) -> bool:
        def parse(_resp: httpx.Response) -> bool:
            return True

        try:
            return self._read(
                f"read service {service_id!r}",
                "Project > Services > General > Read",
                "GET",
                f"{self.project_path}/services/{service_id}",
                parse,
            )
        except NotFound:
            return False
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise

    def ensure_service(self, spec: BuildServiceSpec, if_exists: str) -> EnsuredService:
        """Create the build service; if it exists, ``use`` it, ``fail``, or ``update`` it (PUT).

        After an ambiguous failure the service is looked up before anything is resent.
        """
        operation = f"create the build service {spec.name!r}"
        path = f"{self.project_path}/services/build"
        payload = spec.to_json()

        def answer(resp: httpx.Response) -> EnsuredService:
            if resp.is_success:
                return EnsuredService(spec.service_id, created=True)
            if resp.status_code == 409:
                return self._exists(spec, if_exists, resp, path, payload)
            if resp.status_code == 404:
                raise self._project_not_found(resp, operation)
            raise self._error(resp, operation, "Project > Services > General > Create")

        def find(_sent_at: float) -> EnsuredService | None:
            exists = self.service_exists(spec.service_id)
            return EnsuredService(spec.service_id, created=True) if exists else None

        return self._create_once_only(path, payload, operation, answer, find)

    def _create_once_only(
        self,
        path: str,
        payload: dict[str, Any],
        operation: str,
        answer: Callable[[httpx.Response], T],
        find: Callable[[float], T | None],
    ) -> T:
        """POST something that must be created once: never resent blindly.

        Resent only when the request provably never reached the server (connect failure) or
        was refused unprocessed (429). After an ambiguous failure (timeout after sending,
        dropped connection, 5xx, unreadable 2xx), ``find`` looks for what it created first.
        """
        started = self._clock.monotonic()
        failures, waited = 0, 0.0
        while True:
            sent_at = self._clock.wall()
            self.last_start_sent_at = sent_at
            ambiguous = True
            problem: ActionFailure
            try:
                resp = self._send("POST", path, json_body=payload)
            except NOT_SENT as exc:
                problem = TransportFailure(
                    f"Could not connect to {self._http.base_url}: {_describe(exc)}."
                )
                ambiguous = False
            except httpx.TransportError as exc:
                problem = TransportFailure(f"The request to {operation} failed: {_describe(exc)}.")
            else:
                if resp.status_code == 429:
                    waited += self._wait_rate_limit(resp, operation, waited)
                    continue
                if resp.status_code in RETRYABLE_STATUS:
                    problem = self._error(resp, operation, "")
                else:
                    try:
                        return answer(resp)
                    except MalformedResponse as exc:  # a 2xx we cannot read: it may have worked
                        problem = exc
            if ambiguous:
                found = find(sent_at)
                if found is not None:
                    return found
            failures += 1
            delay = self._retry.backoff(failures)
            spent = self._clock.monotonic() - started
            if failures >= START_ATTEMPTS or spent + delay > self._retry.total_seconds:
                raise problem
            self._sleep(delay)

    def _exists(
        self,
        spec: BuildServiceSpec,
        if_exists: str,
        resp: httpx.Response,
        path: str,
        payload: dict[str, Any],
    ) -> EnsuredService:
        if if_exists == "use":
            return EnsuredService(spec.service_id, created=False)
        if if_exists == "update":
            self._read(
                f"update the build service {spec.name!r}",
                "Project > Services > General > Create",
                "PUT",
                path,
                lambda _resp: None,
                json_body=payload,
            )
            return EnsuredService(spec.service_id, created=False, updated=True)
        base = self._error(resp, f"create the build service {spec.name!r}", "")
        raise ApiError(
            409,
            f"A service with the id {spec.service_id!r} (derived from the name {spec.name!r}) already "
            f"exists in project {self.project_id!r}, and if-exists is fail.",
            error_id=base.error_id,
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

    # -- machinery -----------------------------------------------------------------------------

    def find_started_quickly(
        self, target: BuildTarget, sha: str | None, timeout: float = 2.0
    ) -> Build | None:
        """After a cancel hit the start request: one short look for the build it made."""
        if self.last_start_sent_at is None:
            return None
        return self._find_started(target, sha, self.last_start_sent_at, quick=timeout)

    def _find_started(
        self, target: BuildTarget, sha: str | None, sent_at: float, *, quick: float | None = None
    ) -> Build | None:
        for attempt in range(1 if quick else 2):
            if quick:
                page = self.list_builds(
                    target, ADOPT_PAGE, policy=NO_RETRY, timeout=httpx.Timeout(quick)
                )
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
            if math.isnan(skew):  # no Date header: fall back to a wider window
                threshold = sent_at - ADOPT_TOLERANCE_NO_DATE_S
            else:
                threshold = sent_at + skew - ADOPT_TOLERANCE_S
            candidates = []
            for build in builds:
                created = parse_timestamp(build.created_at)
                if created is None or created.timestamp() < threshold:
                    continue
                if sha is not None and build.sha != sha:
                    continue
                candidates.append((created, build))
            if candidates:
                return min(candidates, key=lambda item: item[0])[1]
            if attempt == 0:
                self._sleep(1.0)  # a build list may lag the create by a moment
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

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        began = self._clock.monotonic()
        resp = self._http.request(
            method,
            path,
            json=json_body,
            params=params,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        now = self._clock.monotonic()
        rate = RateLimit.from_headers(resp.headers, now)
        if rate is not None:
            self._budget.observe(rate)
        remaining = f", rate limit remaining {rate.remaining:g}" if rate else ""
        # Method, path and status only: bodies and headers may hold secrets.
        self._debug(
            f"{method} {path} -> {resp.status_code} in {(now - began) * 1000:.0f} ms{remaining}"
        )
        return resp

    def _read(
        self,
        operation: str,
        permission: str,
        method: str,
        path: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: dict[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        not_found: str | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> T:
        policy = policy or self._retry
        started = self._clock.monotonic()
        failures = 0
        waited = 0.0
        while True:
            problem: ActionFailure
            try:
                resp = self._send(method, path, params=params, timeout=timeout, json_body=json_body)
            except httpx.TransportError as exc:
                problem = TransportFailure(f"{method} {path} failed: {_describe(exc)}.")
            else:
                if resp.is_success:
                    try:
                        return parse(resp)
                    except MalformedResponse as exc:
                        problem = exc
                elif resp.status_code == 429 and policy.attempts > 1:
                    waited += self._wait_rate_limit(resp, operation, waited, policy)
                    continue
                elif resp.status_code in RETRYABLE_STATUS:
                    problem = self._error(resp, operation, permission)
                elif resp.status_code == 404 and not_found:
                    base = self._error(resp, operation, permission)
                    raise NotFound(404, not_found, error_id=base.error_id, fix=base.fix)
                else:
                    raise self._error(resp, operation, permission)
            failures += 1
            delay = policy.backoff(failures)
            if (
                failures >= policy.attempts
                or self._clock.monotonic() - started + delay > policy.total_seconds
            ):
                raise problem
            self._debug(f"{problem.message} Retrying in {delay:.1f} s.")
            self._sleep(delay)

    def _wait_rate_limit(
        self, resp: httpx.Response, operation: str, waited: float, policy: RetryPolicy | None = None
    ) -> float:
        policy = policy or self._retry
        asked = retry_after_seconds(resp.headers, self._clock.wall())
        wait = asked if asked is not None else policy.backoff(2)
        if waited + wait > policy.max_rate_limit_wait:
            raise RateLimited(
                429,
                f"Northflank's rate limit was hit while trying to {operation}, and it asks to wait "
                f"{wait:.0f} s more, past this action's cap of {policy.max_rate_limit_wait:.0f} s.",
                fix="The token's budget (about 1000 requests an hour) is shared by every workflow "
                "using it: raise poll-interval-seconds, use a separate token for CI, or ask "
                "Northflank support for a higher limit.",
            )
        self._debug(f"rate limited (429); waiting {wait:.1f} s as the server asks")
        self._sleep(wait)
        return wait

    def _sleep(self, seconds: float) -> None:
        if self._clock.sleep(seconds):
            raise Cancelled("cancelled while waiting to retry")

    def _error(self, resp: httpx.Response, operation: str, permission: str) -> ApiError:
        status = resp.status_code
        from pydantic import ValidationError  # noqa: PLC0415

        from .models import ErrorEnvelope  # noqa: PLC0415

        message, error_id, details = "", None, None
        try:
            envelope = ErrorEnvelope.model_validate(resp.json())
            message = envelope.error.message or ""
            error_id, details = envelope.error.id, envelope.error.details
        except (ValueError, ValidationError):
            message = resp.text.strip()[:300]
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
