"""One HTTP session with Northflank: the token, the one deadline, the 429 hold, the shared
budget, and the one retry loop that reads and creates both go through.

- Every request is bounded in total by the time left (wire.send_bounded), except the abort
  that a timeout or cancel sends (``Call.exempt``).
- After a 429 nothing but such an abort goes out before the time the server asked for (at
  least MIN_RATE_LIMIT_WAIT_S): the budget is the token's, not one request's
  (https://northflank.com/docs/v1/api/rate-limits).
- A create is resent only when it provably made nothing (see ``Session.call``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from northflank_build import __version__
from northflank_build.api.adopt import Skew
from northflank_build.api.clock import Clock
from northflank_build.api.decode import api_error
from northflank_build.api.errors import (
    ApiError,
    Cancelled,
    CreateOutcomeUnknown,
    DeadlineReached,
    MalformedResponse,
    NorthflankError,
    RateLimited,
    Resource,
    TransportFailure,
)
from northflank_build.api.ratelimit import (
    RateLimit,
    SharedBudget,
    retry_after_seconds,
    server_time,
)
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.wire import checked, describe_failure, send_bounded

T = TypeVar("T")
# Each request is bounded in total (headers and body), not only per socket read.
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
BOUND_SLACK_S = 0.5
CREATE_ATTEMPTS = 3
# A 429 that asks for no wait (Retry-After: 0, a date in the past) still waits this long,
# and a request answered 429 this many times in a row fails: no storm of requests.
MIN_RATE_LIMIT_WAIT_S = 1.0
MAX_RATE_LIMITED = 8
# Connect failures prove the request never reached the server, so resending is safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def plain_http(api_url: str) -> bool:
    return urlsplit(api_url).scheme == "http"


@dataclass(frozen=True)
class Call:
    """One API operation: what it is for (in messages), its route and body."""

    what: str  # "start a build of job 'my-job'"
    permission: str  # "Project > Jobs > Deployment > Deploy Build"
    method: str
    path: str
    json_body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    exempt: bool = False  # the abort: not held by the deadline or a 429


class Session:
    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        clock: Clock,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
        on_debug: Callable[[str], None] | None = None,
        deadline: float | None = None,
        scope: Resource | None = None,
    ) -> None:
        self.clock = clock
        self.scope = scope  # what the calls act on (the project), for the facts of a 403
        self.retry = retry or RetryPolicy()
        self.debug = on_debug or (lambda _msg: None)
        self._budget = SharedBudget()
        self._timeout = timeout
        # One deadline for the whole run (timeout-seconds): no wait or request outlives it,
        # but for the one abort that a timeout or cancel sends.
        self.deadline = math.inf if deadline is None else deadline
        self._not_before = 0.0  # the end of a 429's hold
        # The server's clock minus ours, narrowed by every answer's Date (api/adopt.py).
        self.skew = Skew()
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

    def close(self) -> None:
        self._http.close()

    # -- the token's budget ------------------------------------------------------------------

    def pacing_delay(self) -> float:
        """Least pause before the next poll that keeps the shared budget (0 when plenty)."""
        now = self.clock.monotonic()
        return max(self._budget.pacing_delay(now), self._not_before - now)

    def held(self) -> bool:
        """Whether a 429's wait is still running: no request but an abort may go out."""
        return self.clock.monotonic() < self._not_before

    def wait_for_turn(self) -> None:
        """Wait out a 429's hold (cancellable, never past the deadline): before a request
        that does not go through this session, such as the log socket's upgrade."""
        left = self._not_before - self.clock.monotonic()
        if left <= 0:
            return
        if self.clock.monotonic() + left >= self.deadline:
            raise DeadlineReached(
                f"Northflank's rate limit asks to wait {left:.0f} s more, past the time left."
            )
        self.sleep(left)

    def sleep(self, seconds: float) -> None:
        if self.clock.sleep(seconds):
            raise Cancelled("cancelled while waiting")

    # -- one request -----------------------------------------------------------------------

    def send(self, call: Call, timeout: float | None = None) -> httpx.Response:
        """One request, bounded in total by ``timeout`` and by the deadline (unless exempt)."""
        return self._transmit(call, self._ready(call, timeout))

    def _ready(self, call: Call, timeout: float | None) -> float:
        """Wait out a 429's hold; the time this request may take. Nothing is sent here."""
        limit = self._timeout if timeout is None else timeout
        if call.exempt:
            return limit
        self.wait_for_turn()
        left = self.deadline - self.clock.monotonic()
        if left <= 0:
            raise DeadlineReached(f"no time was left for the request to {call.what}.")
        return min(limit, left)

    def _transmit(self, call: Call, limit: float) -> httpx.Response:
        request = self._http.build_request(
            call.method,
            call.path,
            json=call.json_body,
            params=call.params,
            timeout=httpx.Timeout(limit, connect=min(limit, CONNECT_TIMEOUT_S)),
        )
        began, sent_wall = self.clock.monotonic(), self.clock.wall()
        resp = send_bounded(self._http, request, limit + BOUND_SLACK_S)
        now = self.clock.monotonic()
        date = server_time(resp.headers)
        if date is not None:
            self.skew = self.skew.narrowed(date, sent_wall, self.clock.wall())
        rate = RateLimit.from_headers(resp.headers, now, self.clock.wall())
        if rate is not None:
            self._budget.observe(rate)
        remaining = f", rate limit remaining {rate.remaining:g}" if rate else ""
        # Method, path and status only: bodies and headers may hold secrets.
        self.debug(
            f"{call.method} {call.path} -> {resp.status_code} in {(now - began) * 1000:.0f} ms{remaining}"
        )
        if resp.status_code == 429:
            asked = retry_after_seconds(resp.headers, self.clock.wall())
            hold = max(MIN_RATE_LIMIT_WAIT_S, asked if asked is not None else 0.0)
            self._not_before = max(self._not_before, now + hold)
        return resp

    # -- the one retry loop -----------------------------------------------------------------

    def call(
        self,
        call: Call,
        parse: Callable[[httpx.Response], T],
        *,
        policy: RetryPolicy | None = None,
        timeout: float | None = None,
        find: Callable[[float], T | None] | None = None,
        on_404: Callable[[ApiError], ApiError] | None = None,
    ) -> T:
        """Send ``call`` until ``parse`` reads its answer, retrying what may be retried.

        Reads (``find`` is None) are retried on connection failures, timeouts, 5xx and
        unreadable answers. A create (``find`` given) must happen once: it is resent only
        when the request provably made nothing (it never connected, or it was answered
        429); after an ambiguous failure ``find`` looks for what it made, and if that finds
        nothing it is not resent: CreateOutcomeUnknown. A 429 waits as the server asks
        (at least MIN_RATE_LIMIT_WAIT_S, at most MAX_RATE_LIMITED times and the policy's
        cap), never past the deadline. ``on_404`` may turn a 404 into a more precise fact.
        """
        policy = policy or self.retry
        create = find is not None
        started = self.clock.monotonic()
        failures = limited = 0
        waited = 0.0
        while True:
            limit = self._ready(call, timeout)  # a cancel here: nothing was sent
            sent_at = self.clock.wall()
            try:
                got = self._attempt(
                    call,
                    parse,
                    limit,
                    timeout,
                    sent_at if create else None,
                    retry_429=policy.attempts > 1,
                    on_404=on_404,
                )
                if isinstance(got, _RateLimited):
                    limited += 1
                    hold = max(0.0, self._not_before - self.clock.monotonic())
                    self._check_rate_limit_wait(call, limited, waited + hold, policy)
                    waited += hold
                    self.debug(f"rate limited (429); waiting {hold:.1f} s as the server asks")
                    continue  # _ready waits for the hold before the next request
                if not isinstance(got, _Failed):
                    return got
                if find is not None and got.ambiguous:
                    return self._resolve_lost(call, find, sent_at, got.problem)
            except Cancelled as cancel:
                # A cancel while a create was out (or its outcome looked for): say when.
                raise Cancelled(str(cancel), sent_at=sent_at if create else None) from None
            failures += 1
            self._pause_or_raise(got.problem, policy, failures, started, create)

    def _attempt(
        self,
        call: Call,
        parse: Callable[[httpx.Response], T],
        limit: float,
        timeout: float | None,
        sent_at: float | None,
        *,
        retry_429: bool,
        on_404: Callable[[ApiError], ApiError] | None,
    ) -> T | _Failed | _RateLimited:
        """One request: its answer read; a failure that may be retried (and whether it may
        have done something); or a 429 to wait out. What may not be retried is raised."""
        try:
            resp = self._transmit(call, limit)
        except httpx.TransportError as exc:
            capped = limit < (timeout or self._timeout)
            problem = self._unanswered(call, exc, capped, sent_at)
            return _Failed(problem, ambiguous=not isinstance(exc, NOT_SENT))
        if resp.status_code == 429 and retry_429:
            return _RateLimited()
        if resp.is_success:
            try:
                return checked(parse, resp)
            except MalformedResponse as exc:  # a 2xx we cannot read
                return _Failed(exc, ambiguous=True)
        error = api_error(resp, call.what, call.permission, self.scope)
        if not error.transient:  # the one rule (api/errors.py)
            raise on_404(error) if on_404 and resp.status_code == 404 else error
        return _Failed(error, ambiguous=True)

    def _resolve_lost(
        self,
        call: Call,
        find: Callable[[float], T | None],
        sent_at: float,
        problem: NorthflankError,
    ) -> T:
        """A create whose outcome is unknown: what it made, when ``find`` can tell; else
        CreateOutcomeUnknown, and it is never sent again."""
        try:
            found = find(sent_at)
        except (Cancelled, CreateOutcomeUnknown):
            raise
        except NorthflankError as exc:
            raise CreateOutcomeUnknown(
                f"The request to {call.what} may have worked, and looking for what it "
                f"made failed ({exc.message}); it was not sent again.",
                sent_at=sent_at,
            ) from None
        if found is not None:
            return found
        raise CreateOutcomeUnknown(
            f"The request to {call.what} may have worked ({problem.message}), and "
            "what it made could not be found; it was not sent again, so that "
            "nothing is made twice.",
            sent_at=sent_at,
        )

    def _pause_or_raise(
        self,
        problem: NorthflankError,
        policy: RetryPolicy,
        failures: int,
        started: float,
        create: bool,
    ) -> None:
        """Back off before the next attempt, or raise ``problem`` when the policy, its
        total time or the deadline leaves no room for one."""
        delay = policy.backoff(failures)
        now = self.clock.monotonic()
        if (
            failures >= (CREATE_ATTEMPTS if create else policy.attempts)
            or now - started + delay > policy.total_seconds
            or now + delay >= self.deadline
        ):
            raise problem
        self.debug(f"{problem.message} Retrying in {delay:.1f} s.")
        self.sleep(delay)

    def _unanswered(
        self, call: Call, exc: httpx.TransportError, capped: bool, sent_at: float | None
    ) -> TransportFailure:
        """A request that got no answer, as a fact. A timeout because the run's deadline
        bounded it (``capped``: _ready cut its bound to the time left) is raised at once as
        DeadlineReached: a timeout (exit 4), not Northflank out of reach; ``sent_at`` for a
        create, which may have made something."""
        timed_out = isinstance(exc, httpx.TimeoutException) and not math.isinf(self.deadline)
        if timed_out and (capped or self.clock.monotonic() >= self.deadline):
            raise DeadlineReached(
                f"no answer came to the request to {call.what} before the time ran out.",
                sent_at=None if isinstance(exc, NOT_SENT) else sent_at,  # never connected
            ) from None
        if isinstance(exc, NOT_SENT):
            return TransportFailure(
                f"Could not connect to {self._http.base_url}: {describe_failure(exc)}.",
                connect=True,
            )
        return TransportFailure(f"The request to {call.what} failed: {describe_failure(exc)}.")

    def _check_rate_limit_wait(
        self, call: Call, limited: int, total: float, policy: RetryPolicy
    ) -> None:
        cap = policy.max_rate_limit_wait
        if limited > MAX_RATE_LIMITED or total > cap:
            why = (
                f"it was answered 429 {limited} times in a row, past this client's cap of "
                f"{MAX_RATE_LIMITED}"
                if limited > MAX_RATE_LIMITED
                else f"it asks to wait {total:.0f} s, past this client's cap of {cap:.0f} s"
            )
            raise RateLimited(
                call.what,
                f"Northflank's rate limit was hit while trying to {call.what}: {why}.",
                limited=limited,
                asked_s=total,
                max_times=MAX_RATE_LIMITED,
                max_wait_s=cap,
            )
        if self._not_before >= self.deadline:
            raise DeadlineReached(
                f"Northflank's rate limit asks to wait past the time left (trying to {call.what})."
            )


@dataclass(frozen=True)
class _Failed:
    """An attempt that failed in a way that may be retried; ``ambiguous``: it may have
    done something (it reached the server)."""

    problem: NorthflankError
    ambiguous: bool


class _RateLimited:
    """An attempt answered 429: wait as asked, then send again (it made nothing)."""
