"""Build log lines as the API gives them, and the live tail's interface.

Both the HTTP range endpoint and the WebSocket tail carry ``{"ts", "log", "containerId"}``
items (https://northflank.com/docs/v1/api/log-tailing); a line is made printable and bounded
where it is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from northflank_build.api.wire import printable

# Container-log framing the API passes through: "[<ts> ]stdout F <text>".
CRI_PREFIX = re.compile(r"^(?:\d{4}-\d\d-\d\dT\S+ )?(?:stdout|stderr) [FP] ")
# A longer line is cut: one line must not fill the step log or the job summary.
MAX_LINE_CHARS = 4000


@dataclass(frozen=True)
class LogLine:
    ts: str
    container: str
    text: str

    @classmethod
    def from_api(cls, item: Any) -> LogLine | None:
        if not isinstance(item, dict) or not isinstance(item.get("ts"), str):
            return None
        raw = item.get("log")
        text = raw if isinstance(raw, str) else json.dumps(raw)
        # Printable (a lone surrogate cannot be written as UTF-8) and bounded per line.
        text = printable(CRI_PREFIX.sub("", text, count=1))[:MAX_LINE_CHARS]
        container = printable(str(item.get("containerId", "")))[:100]
        return cls(printable(item["ts"])[:64], container, text)


class TailUnavailable(Exception):
    """The live tail could not be opened; the range endpoint is used instead."""


# (WebSocket URL, token, open timeout in seconds) -> an open tail
TailOpener = Callable[[str, str, float], "Tail"]


class Tail(Protocol):
    def drain(self) -> list[LogLine]: ...
    @property
    def broken(self) -> bool: ...
    @property
    def ended(self) -> bool: ...
    def close(self) -> None: ...
