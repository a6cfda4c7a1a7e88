"""A small GitHub REST client for the pull request's surfaces (a deployment and its
statuses, one comment): on httpx, at ``GITHUB_API_URL`` (GHES: ``https://HOST/api/v3``),
the token sent to that origin only (https unless loopback; redirects not followed), the
headers GitHub asks for (../shared/reference/github-rest.md, section 1).

Never in the way: every request is bounded by a few seconds and by the step's deadline; a
429, or a 403 that is a rate limit, waits as ``Retry-After`` says only within a small
budget; a GitHub that does not answer twice is not asked again in the step; a cancel
cuts a request short and nothing more is sent (``CutShort``); anything
else that goes wrong is a ``GitHubTrouble`` (status, GitHub's message),
which the caller turns into a warning with the fix. Nothing here raises anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from northflank_build import __version__
from northflank_build.api.clock import Clock
from northflank_build.api.errors import Cancelled
from northflank_build.api.wire import decode_json, printable, send_bounded
from northflank_build.engine.cancel import CancelScope
from northflank_build.inputs.fields import is_loopback

REQUEST_S = 5.0  # one request, at most
WAIT_BUDGET_S = 5.0  # all the waiting GitHub may ask for in one step
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubTrouble(Exception):
    """A request to GitHub that did not work: its status (0: no answer) and message."""

    def __init__(self, what: str, status: int, message: str) -> None:
        super().__init__(f"{what}: {status or 'no answer'} {message}".strip())
        self.what, self.status, self.message = what, status, message

    @property
    def forbidden(self) -> bool:
        """403 or 404: the token may not (a fork, Dependabot, missing permissions:)."""
        return self.status in (403, 404)


class CutShort(GitHubTrouble):
    """The step was cancelled: GitHub is not waited on (the abort comes first), and what
    it was to be told is the post step's to tell (github/ending.py). Not a warning."""


@dataclass
class GitHubApi:
    api_url: str
    token: str
    repository: str  # owner/name
    clock: Clock
    deadline: float
    transport: httpx.BaseTransport | None = None
    cancel: CancelScope | None = None  # the step's: a cancel cuts a request short
    waited: float = 0.0
    quiet_until: float = 0.0  # a rate limit not waited out: nothing more goes out before it
    silent: bool = False  # GitHub did not answer twice: nothing more waits on it this step

    def __post_init__(self) -> None:
        parts = urlsplit(self.api_url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and is_loopback(parts.hostname or "")
        ):
            raise GitHubTrouble("use GITHUB_API_URL", 0, f"{self.api_url!r} is not https")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._http = httpx.Client(
            base_url=self.api_url.rstrip("/"),
            transport=self.transport,
            follow_redirects=False,
            trust_env=parts.scheme == "https",  # no proxy for plain-http loopback
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Authorization": f"Bearer {self.token}",
                "User-Agent": f"northflank-build/{__version__}",
            },
        )

    def close(self) -> None:
        self._http.close()

    def repo(self, path: str) -> str:
        return f"/repos/{self.repository}{path}"

    def call(
        self,
        what: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """One request (again once after a 5xx, a timeout or a rate limit that asks for a
        short wait); its JSON and the answer. GitHubTrouble when it did not work."""
        for attempt in range(2):
            now = self.clock.monotonic()
            left = self.deadline - now
            if left <= 0.5:
                raise GitHubTrouble(what, 0, "the step's time ran out")
            if now < self.quiet_until:
                raise GitHubTrouble(what, 429, "GitHub's rate limit asks to wait longer")
            if self.silent:
                raise GitHubTrouble(what, 0, "GitHub did not answer earlier in this step")
            if self.cancel is not None and self.cancel.cancelled:
                raise CutShort(what, 0, "the step was cancelled")
            request = self._http.build_request(
                method,
                path if path.startswith("/") else self._same_origin(path),
                json=body,
                params=params,
                timeout=min(REQUEST_S, left),
            )
            try:  # the whole answer within its time and size (api/wire.py), as for Northflank
                with self.cancel.interruptible() if self.cancel else nullcontext():
                    resp = send_bounded(self._http, request, min(REQUEST_S, left))
            except Cancelled:
                raise CutShort(what, 0, "the step was cancelled") from None
            except httpx.HTTPError as exc:
                if attempt == 0:
                    continue
                self.silent = True
                raise GitHubTrouble(what, 0, type(exc).__name__) from None
            if resp.status_code < 300:
                return _json(resp), resp
            if attempt == 0 and self._retryable(resp):
                continue
            raise GitHubTrouble(what, resp.status_code, _message(resp))
        raise GitHubTrouble(what, 0, "no answer")  # pragma: no cover - the loop returns

    def pages(self, what: str, path: str) -> list[Any]:
        """Every item of a list, following ``Link: rel="next"`` (100 a page, 50 pages)."""
        items: list[Any] = []
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": 100}
        for _ in range(50):
            if url is None:
                break
            data, resp = self.call(what, "GET", url, params=params)
            items += data if isinstance(data, list) else []
            found = _NEXT.search(resp.headers.get("link", ""))
            url, params = (found.group(1) if found else None), None
        return items

    def _same_origin(self, url: str) -> str:
        """A next-page URL, only on GitHub's own origin (the token goes nowhere else)."""
        if not url.startswith(self._origin + "/"):
            raise GitHubTrouble("follow a page link", 0, "the link leaves GITHUB_API_URL")
        return url

    def _retryable(self, resp: httpx.Response) -> bool:
        """A 5xx, or a rate limit whose wait fits the budget: waited, then tried again."""
        if resp.status_code >= 500:
            return True
        limited = resp.status_code == 429 or (
            resp.status_code == 403
            and (
                resp.headers.get("retry-after") or resp.headers.get("x-ratelimit-remaining") == "0"
            )
        )
        if not limited:
            return False
        try:
            wait = float(resp.headers.get("retry-after", "60"))
        except ValueError:
            wait = 60.0
        now = self.clock.monotonic()
        if wait < 0 or self.waited + wait > WAIT_BUDGET_S or wait >= self.deadline - now - 1:
            self.quiet_until = now + max(0.0, wait)  # honoured: no request before it
            return False
        self.waited += wait
        self.clock.sleep(wait)
        return True


def _json(resp: httpx.Response) -> Any:
    """The answer's JSON, every string in it printable; None when it is not JSON."""
    if not resp.content:
        return None
    try:
        return decode_json(resp.content)
    except ValueError:
        return None


def _message(resp: httpx.Response) -> str:
    body = _json(resp)
    said = body.get("message") if isinstance(body, dict) else None
    return printable(said)[:200] if isinstance(said, str) else f"HTTP {resp.status_code}"


Factory = Callable[[], GitHubApi]
