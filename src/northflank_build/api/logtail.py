"""The live log tail over WebSocket (imported only when logs are shown).

The token goes in an init message once the socket is open, never in the URL or a header
(Northflank's log-tailing doc: https://northflank.com/docs/v1/api/log-tailing). It goes only
to the api-url's origin: no redirect is followed, and no proxy is used for plain-http
loopback URLs (http is allowed only there, so the token never crosses a network in clear).
A reader thread queues the lines; the waiting loop drains them.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosedOK, WebSocketException
from websockets.sync.client import ClientConnection, reconnect

from northflank_build import __version__
from northflank_build.api.logs import LogLine, TailUnavailable
from northflank_build.api.wire import decode_json

CLOSE_TIMEOUT_S = 0.5
# One message of log lines; the API sends up to lineLimit (1000) lines a message.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def message(raw: str | bytes) -> tuple[str | None, Any]:
    """One socket message, checked: its ``type`` (None unless a string) and its ``data``,
    whatever they hold (ValueError when it is not JSON). The one way a socket message is read."""
    body = decode_json(raw)
    if not isinstance(body, dict):
        return None, None
    kind = body.get("type")
    return (kind if isinstance(kind, str) else None), body.get("data")


class _Connect(reconnect):
    """websockets' connection factory, following no redirect: a 3xx is a refusal."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


class WebSocketTail:
    def __init__(self, url: str, token: str, open_timeout: float) -> None:
        plain = urlsplit(url).scheme == "ws"
        try:
            self._ws: ClientConnection = _Connect(
                url,
                compression=None,
                open_timeout=open_timeout,
                # Closing must never hold up a cancel: the runner kills the step 10 s after
                # SIGINT, and whether the server answers a close is undocumented.
                close_timeout=CLOSE_TIMEOUT_S,
                user_agent_header=f"northflank-build-action/{__version__}",
                proxy=None if plain else True,
                max_size=MAX_MESSAGE_BYTES,
            ).connect()
            # Entered as its own context manager (websockets 17.1 deprecates a bare
            # connect()); it is closed by close() below, in the background.
            self._ws.__enter__()
            self._ws.send(
                json.dumps(
                    {"type": "init", "data": {"auth": {"type": "apiToken", "apiToken": token}}}
                )
            )
            kind, data = message(self._ws.recv(timeout=open_timeout))
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            raise TailUnavailable(str(exc)[:200] or type(exc).__name__) from None
        auth = data.get("auth") if isinstance(data, dict) else None
        if kind != "init" or auth != "successful":
            self._ws.close()
            raise TailUnavailable("the log stream refused the token")
        self._queue: queue.SimpleQueue[LogLine] = queue.SimpleQueue()
        self._broken = False
        self._ended = False
        self._thread = threading.Thread(target=self._read, name="log-tail", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                kind, data = message(raw)
                if kind == "log-lines" and isinstance(data, list):
                    for item in data:
                        line = LogLine.from_api(item)
                        if line is not None:
                            self._queue.put(line)
                elif kind != "init":  # "error" or anything unknown: a protocol error
                    self._broken = True
                    return
            self._ended = True
        except ConnectionClosedOK:
            self._ended = True
        except Exception:  # whatever the socket did, the tail is broken, not the step
            self._broken = True

    def drain(self) -> list[LogLine]:
        lines = []
        while True:
            try:
                lines.append(self._queue.get_nowait())
            except queue.Empty:
                return lines

    @property
    def broken(self) -> bool:
        return self._broken

    @property
    def ended(self) -> bool:
        return self._ended and self._queue.empty()

    def close(self) -> None:
        # In the background: after a cancel the abort request must not wait for this.
        threading.Thread(target=self._ws.close, name="log-tail-close", daemon=True).start()
