"""Pydantic models of the Northflank responses this action reads.

Tolerant of what Northflank adds (fields, status values), strict about what could do harm:
an id that goes back into a URL must look like an id, and a timestamp that makes no sense
is read as unknown. Strings are made printable before they get here (wire.py). Imported
only once a response has arrived, so start-up to the first request does not pay for
pydantic; the request bodies are in bodies.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from northflank_build.api.routes import BUILD_ID_PATTERN
from northflank_build.api.timestamps import parse_timestamp


class _Response(BaseModel):
    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Registry(_Response):
    uri: str | None = Field(default=None, max_length=2048)


class Build(_Response):
    """A job or service build as GET/list/start return it."""

    id: str = Field(pattern=BUILD_ID_PATTERN)
    status: str | None = None
    concluded: bool | None = None
    success: bool | None = None
    sha: str | None = Field(default=None, max_length=100)
    branch: str | None = Field(default=None, max_length=1024)
    pull_request_id: int | str | None = None
    # ISO 8601 in the API reference; an epoch number is read too (timestamps.py).
    created_at: str | float | None = None
    # A Unix epoch number, unlike createdAt (API reference, get job build).
    build_concluded_at: str | float | None = None
    registry: Registry | None = None
    message: str | None = Field(default=None, max_length=4096)

    @field_validator("status")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        # "success" and "SUCCESS" are one status; the enum is upper case.
        return (value.strip().upper()[:100] or None) if value is not None else None

    @field_validator("message", "branch", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return value[:4096] if isinstance(value, str) else value

    @property
    def finished(self) -> bool:
        return self.concluded is True

    @property
    def succeeded(self) -> bool:
        return self.success is True or self.status == "SUCCESS"

    @property
    def registry_uri(self) -> str | None:
        return self.registry.uri if self.registry else None

    def created_datetime(self) -> datetime | None:
        return parse_timestamp(self.created_at)

    def concluded_datetime(self) -> datetime | None:
        return parse_timestamp(self.build_concluded_at)


def _upper_status(value: str | None) -> str | None:
    return (value.strip().upper()[:100] or None) if value is not None else None


class DeploymentStatus(_Response):
    """``status.deployment`` of a service: PENDING, IN_PROGRESS, COMPLETED or FAILED."""

    status: str | None = None
    reason: str | None = Field(default=None, max_length=100)
    last_transition_time: str | float | None = None

    _status = field_validator("status")(_upper_status)

    def transition_datetime(self) -> datetime | None:
        return parse_timestamp(self.last_transition_time)


class ServiceStatus(_Response):
    deployment: DeploymentStatus | None = None


class InternalSource(_Response):
    nf_object_id: str | None = Field(default=None, max_length=100)  # the build service
    build_sha: str | None = Field(default=None, alias="buildSHA", max_length=100)
    deployed_sha: str | None = Field(default=None, alias="deployedSHA", max_length=100)


class ServiceDeployment(_Response):
    instances: int | None = None
    internal: InternalSource | None = None

    @field_validator("instances", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        # Only a whole number in range is a count: ``true`` is not 1 (pydantic would read it
        # so, and the PATCH would send it back), nor "2" or 2.5. Anything else is unknown
        # (engine/delivery.py sends no PATCH then), without making the whole service unreadable.
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if 0 <= value <= 10_000 else None


class Certificate(_Response):
    in_progress: bool | None = None


# A DNS host name (letters, digits, hyphens, dots; IDNs arrive as punycode): nothing else
# from Northflank's answer becomes https://<host> (no path, port, user info or line break).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


def _host(value: Any) -> str | None:
    return value if isinstance(value, str) and _HOST.fullmatch(value) else None


class Domain(_Response):
    name: str = Field(max_length=253)
    certificate: Certificate | None = None

    @property
    def host(self) -> str | None:
        return _host(self.name)


class Port(_Response):
    """A port of GET service (section 10, item 4). Its ``security`` (basic-auth passwords)
    is never read: not a field here."""

    name: str = Field(default="", max_length=100)
    protocol: str = Field(default="", max_length=20)
    public: bool = False
    dns: str | None = Field(default=None, max_length=253)
    domains: tuple[Domain, ...] = ()
    disable_nf_domain: bool = False

    @property
    def web(self) -> bool:
        """A public HTTP or HTTP/2 port: one with a URL."""
        return self.public and self.protocol.upper() in ("HTTP", "HTTP/2", "HTTP2")

    def url(self) -> str:
        """A custom domain whose certificate is ready, else the port's dns unless the
        Northflank domain is disabled (section 10, item 4); "" when it has no address."""
        for domain in self.domains:
            ready = domain.certificate is None or domain.certificate.in_progress is not True
            if ready and domain.host:
                return f"https://{domain.host}"
        host = _host(self.dns)
        return f"https://{host}" if host and not self.disable_nf_domain else ""


class Service(_Response):
    """A service as GET service returns it: what a rollout is judged by (section 2.1), its
    tags and its ports (a preview's services, section 10)."""

    id: str = Field(max_length=100)
    status: ServiceStatus | None = None
    deployment: ServiceDeployment | None = None
    tags: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()

    def urls(self) -> tuple[list[str], bool]:
        """The URLs of its public HTTP ports, and whether one has no address yet."""
        urls, waiting = [], False
        for port in self.ports:
            if not port.web:
                continue
            if port.url():
                urls.append(port.url())
            elif not port.disable_nf_domain:
                waiting = True
        return urls, waiting

    @field_validator("tags", "ports", mode="before")
    @classmethod
    def _bounded_list(cls, value: Any) -> Any:
        return value[:100] if isinstance(value, list) else ()

    @property
    def rollout(self) -> DeploymentStatus:
        return (self.status.deployment if self.status else None) or DeploymentStatus()

    @property
    def internal(self) -> InternalSource:
        return (self.deployment.internal if self.deployment else None) or InternalSource()

    @property
    def deployed_sha(self) -> str | None:
        return self.internal.deployed_sha


class JobRun(_Response):
    """A job run: SUCCESS, RUNNING or FAILED, and whether it has concluded (section 3.2)."""

    id: str = Field(pattern=BUILD_ID_PATTERN)
    run_name: str | None = Field(default=None, max_length=200)
    status: str | None = None
    concluded: bool | None = None
    started_at: str | float | None = None
    concluded_at: str | float | None = None

    _status = field_validator("status")(_upper_status)

    @property
    def finished(self) -> bool:
        return self.concluded is True

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def message(self) -> str | None:
        """A run's answer carries no message (its log has the cause)."""
        return None

    def started_datetime(self) -> datetime | None:
        return parse_timestamp(self.started_at)

    def concluded_datetime(self) -> datetime | None:
        return parse_timestamp(self.concluded_at)


# A run's node tree is bounded: a template of more nodes is cut (the summary says so).
MAX_NODES = 200
_NODE_TEXT = 200


class TemplateNode(_Response):
    """One node of a template run as its ``spec`` tree shows it: its kind, its ref or name,
    and its ``response`` (status, error, the first and last attempt's times)."""

    kind: str = Field(max_length=_NODE_TEXT)
    ref: str = ""
    name: str = ""
    status: str = ""
    error: str = ""
    start: float | None = None  # epoch seconds
    end: float | None = None

    @property
    def duration_s(self) -> float | None:
        if self.start is None or self.end is None or self.end < self.start:
            return None
        return self.end - self.start


class TemplateRun(_Response):
    """A release-flow or workflow run (section 4.1: the same object for both): its status
    (one of 13 documented values, or another), whether it has concluded, and its nodes."""

    id: str = Field(pattern=BUILD_ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    status: str | None = None
    concluded: bool | None = None
    started_at: str | float | None = None
    concluded_at: str | float | None = None
    created_at: str | float | None = None
    nodes: tuple[TemplateNode, ...] = Field(default=(), validation_alias="spec")
    # A preview blueprint run's POST answer only: the preview it made (section 10, item 1).
    environment_id: str | None = Field(default=None, pattern=BUILD_ID_PATTERN)

    @field_validator("status")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        # The enum is lower case; "SUCCESS" is the same status.
        return (value.strip().lower()[:100] or None) if value is not None else None

    @field_validator("nodes", mode="before")
    @classmethod
    def _tree(cls, value: Any) -> tuple[dict[str, Any], ...]:
        return tuple(nodes_of(value))

    @property
    def finished(self) -> bool:
        return self.concluded is True

    @property
    def succeeded(self) -> bool:
        return self.status == "success"

    @property
    def message(self) -> str | None:
        return None

    def started_datetime(self) -> datetime | None:
        return parse_timestamp(self.started_at)

    def concluded_datetime(self) -> datetime | None:
        return parse_timestamp(self.concluded_at)

    def created_datetime(self) -> datetime | None:
        return parse_timestamp(self.created_at)


def nodes_of(spec: Any) -> list[dict[str, Any]]:
    """The nodes of a template's ``spec`` tree, depth first: each object with a string
    ``kind``, its children found in any list under its own ``spec`` (a Workflow's steps).
    Bounded in count and depth; what is not a node is passed over."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, int]] = [(spec, 0)]
    while stack and len(found) < MAX_NODES:
        item, depth = stack.pop()
        if not isinstance(item, dict) or depth > 20:
            continue
        if isinstance(item.get("kind"), str) and item["kind"] != "Workflow":
            found.append(_node(item))  # a Workflow node holds the others: not one to list
        inner = item.get("spec")
        children = (
            [v for v in inner.values() if isinstance(v, list)] if isinstance(inner, dict) else []
        )
        for child in reversed([c for group in children for c in group]):
            stack.append((child, depth + 1))
    return found


def _node(item: dict[str, Any]) -> dict[str, Any]:
    spec, response = _object(item.get("spec")), _object(item.get("response"))
    error = _object(response.get("error"))
    name = next((spec[k] for k in ("name", "id") if isinstance(spec.get(k), str)), "")
    started, ended = (parse_timestamp(response.get(k)) for k in ("startTime", "endTime"))
    return {
        "kind": item["kind"][:_NODE_TEXT],
        "ref": _text(item.get("ref")),
        "name": _text(name),
        "status": _text(response.get("status")).lower(),
        "error": _text(error.get("message"), 500),
        "start": started.timestamp() if started else None,
        "end": ended.timestamp() if ended else None,
    }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = _NODE_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""
