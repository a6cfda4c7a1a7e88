"""What comes off the wire from Northflank, made safe before anything else reads it.

Every answer is untrusted: its size is capped, its JSON is decoded without recursing past a
depth, and every string in it is made printable (a lone UTF-16 surrogate, what a JavaScript
server sends when it cuts an emoji in half, cannot be encoded as UTF-8 and would crash the
first print or file write). One request is bounded in total time, not only per socket read,
so an answer that trickles in a byte at a time cannot hold the step past its deadline.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from northflank_build.api.errors import MalformedResponse, NorthflankError

T = TypeVar("T")

# A build, a page of 100 builds or of 500 log lines is well under this.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Nested deeper than this is not an answer of Northflank's (its deepest is about 6).
MAX_DEPTH = 64
# C0 and C1 controls but tab and line breaks, and lone surrogates.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Path segments Northflank ids and ours are made of; anything else is escaped.
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_.~-]+$")


_WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class BodyTooLarge(httpx.TransportError):
    """The answer was larger than MAX_BODY_BYTES; it was not read to the end."""


class UnreadableBody(httpx.TransportError):
    """The answer's bytes could not be decoded as its ``Content-Encoding`` says (a body sent
    as gzip that is not gzip). A transport error to every reader: the server answered, but
    nothing can be known of what it said (for a create: ambiguous, api/http.py)."""


class RequestTookTooLong(httpx.TimeoutException):
    """The whole request (headers and body) did not complete within its time limit."""


def printable(text: str) -> str:
    """``text`` with controls (but tab and line breaks) and lone surrogates as U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


def _clean(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_clean(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {printable(str(k)): _clean(v, depth + 1) for k, v in value.items()}
    return value


def decode_json(content: bytes | str) -> Any:
    """Parse JSON and make every string in it printable; ValueError if it is not sane JSON."""
    try:
        parsed = json.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None
    return _clean(parsed, 0)


def segment(value: str) -> str:
    """One URL path segment: ids Northflank gives us are percent-encoded unless plainly safe.

    ``..`` and ``.`` are escaped too, so no value can climb out of its route.
    """
    if _SAFE_SEGMENT.fullmatch(value) and value not in (".", ".."):
        return value
    return "".join(ch if _SAFE_SEGMENT.fullmatch(ch) and ch != "." else _quote(ch) for ch in value)


def _quote(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", errors="surrogatepass"))


def send_bounded(http: httpx.Client, request: httpx.Request, limit_s: float) -> httpx.Response:
    """Send ``request`` and read its whole answer within ``limit_s`` seconds, or raise.

    The request runs on a worker thread while this one waits: the wait ends at the limit
    whatever the socket does, and a signal (a cancel) still interrupts it at once. A worker
    left behind by a hung server is a daemon and ends with its own socket timeouts.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["response"] = _read_capped(http, request)
        except BaseException as exc:  # handed to the waiting thread as it is
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="nf-request", daemon=True).start()
    if not done.wait(max(0.0, limit_s)):
        raise RequestTookTooLong(f"no complete answer within {limit_s:.1f} s", request=request)
    if "error" in box:
        raise box["error"]
    response: httpx.Response = box["response"]
    return response


def _read_capped(http: httpx.Client, request: httpx.Request) -> httpx.Response:
    response = http.send(request, stream=True)
    try:
        chunks, size = [], 0
        try:
            for chunk in response.iter_bytes():  # decoded: a gzip bomb is capped too
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise BodyTooLarge(
                        f"the answer was larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
                        request=request,
                    )
                chunks.append(chunk)
        except httpx.DecodingError as exc:  # not a TransportError: it would escape the loops
            raise UnreadableBody(
                f"the answer could not be decoded ({exc})", request=request
            ) from None
    finally:
        response.close()
    # The content is decoded already: drop the headers that described it on the wire.
    headers = httpx.Headers(
        [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    )
    return httpx.Response(
        response.status_code, headers=headers, content=b"".join(chunks), request=request
    )


def checked(parse: Callable[[httpx.Response], T], resp: httpx.Response) -> T:
    """``parse`` on a 2xx answer, where whatever it could not read, however it failed,
    becomes MalformedResponse: the one fact the loops know for an answer they cannot use."""
    try:
        return parse(resp)
    except NorthflankError:
        raise
    except Exception as exc:
        where = f"HTTP {resp.status_code} from {resp.request.method} {resp.request.url.path}"
        raise MalformedResponse(f"{where} could not be read ({type(exc).__name__}).") from None


def describe_failure(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({detail})"
    return detail
