"""The runner's stdout/stderr workflow-command processing (contract §4.3-4.5), trimmed.

Handles what an action like this one uses or could be tricked into: add-mask, error /
warning / notice, group / endgroup, debug, stop-commands and its resume token, set-output,
save-state, echo; and flags legacy ``##[`` commands. Every logged line is masked.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

REGISTERED = {
    "stop-commands",
    "set-env",
    "set-output",
    "save-state",
    "add-path",
    "add-mask",
    "add-matcher",
    "remove-matcher",
    "warning",
    "error",
    "notice",
    "debug",
    "group",
    "endgroup",
    "echo",
}
LEGACY = re.compile(r"##\[([A-Za-z-]+)")


def _unescape_data(value: str) -> str:
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(value: str) -> str:
    return (
        value.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


@dataclass
class Annotation:
    kind: str
    message: str
    properties: dict[str, str]


@dataclass
class CommandProcessor:
    secrets: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)  # every command that ran
    legacy_commands: list[str] = field(default_factory=list)
    live_outputs: dict[str, str] = field(default_factory=dict)
    live_state: dict[str, str] = field(default_factory=dict)
    debug_enabled: bool = False
    failed: list[str] = field(default_factory=list)
    stop_token: str | None = None
    echo: bool = False  # print each log line as the runner would show it
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _add_secret(self, value: str) -> None:
        if not value.strip():
            self.log.append(
                "Warning: Can't add secret mask for empty string in ##[add-mask] command."
            )
            return
        self.secrets.append(value)
        for line in re.split(r"[\r\n]+", value):
            if line.strip():
                self.secrets.append(line.strip())

    def feed(self, line: str) -> None:
        with self._lock:
            before = len(self.log)
            self._feed(line)
            if self.echo:
                for entry in self.log[before:]:
                    print(entry, flush=True)

    def _feed(self, line: str) -> None:
        if "::" not in line and "##[" not in line:
            self.log.append(self.mask(line))
            return
        stripped = line.lstrip()
        if stripped.startswith("::"):
            end = stripped.find("::", 2)
            if end > 2:
                head, data = stripped[2:end], stripped[end + 2 :]
                name, _, props_text = head.partition(" ")
                lname = name.lower()
                if self.stop_token is not None:
                    if lname == self.stop_token.lower():
                        self.stop_token = None
                    self.log.append(self.mask(line))
                    return
                if lname in REGISTERED:
                    props: dict[str, str] = {}
                    for part in props_text.strip().split(","):
                        key, sep, value = part.partition("=")
                        if sep and key and value:
                            props[key.lower()] = _unescape_property(value)
                    self._run(lname, props, _unescape_data(data), line)
                    return
        legacy = LEGACY.search(line)
        if legacy and legacy.group(1).lower() in REGISTERED and self.stop_token is None:
            self.legacy_commands.append(line)
        self.log.append(self.mask(line))

    def _run(self, name: str, props: dict[str, str], data: str, raw: str) -> None:
        self.commands.append((name, data))
        if name == "add-mask":
            self._add_secret(data)
        elif name in ("error", "warning", "notice"):
            self.annotations.append(
                Annotation(
                    name, self.mask(data)[:4096], {k: self.mask(v) for k, v in props.items()}
                )
            )
            self.log.append(f"##[{name}]{self.mask(data)}")
        elif name == "group":
            self.log.append(f"##[group]{self.mask(data)}")
        elif name == "endgroup":
            self.log.append("##[endgroup]")
        elif name == "debug":
            if self.debug_enabled:
                self.log.append(f"##[debug]{self.mask(data)}")
        elif name == "stop-commands":
            if not data or data.lower() == "pause-logging" or data.lower() in REGISTERED:
                self.failed.append("invalid stop-commands token")
                return
            self.stop_token = data
            if len(data) > 6:
                self.secrets.append(data)
        elif name == "set-output":
            if "name" not in props:
                self.failed.append("set-output without name")
                return
            self.live_outputs[props["name"].lower()] = data
        elif name == "save-state":
            self.live_state[props.get("name", "")] = data
        elif name == "echo":
            if data.strip().lower() not in ("on", "off"):
                self.failed.append("invalid echo value")
        elif name in ("set-env", "add-path"):
            self.failed.append(f"{name} is disabled")
        else:
            self.log.append(self.mask(raw))
