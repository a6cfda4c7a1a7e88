"""Pydantic models of the Northflank responses this action reads.

Tolerant: Northflank adds fields and status values over time. Imported only once a response
has arrived (the client imports this module inside its parsers), so start-up to the first
request does not pay for pydantic; the request bodies are in bodies.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .timestamps import parse_timestamp


class _Response(BaseModel):
    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Registry(_Response):
    uri: str | None = None


class Build(_Response):
    """A job or service build as GET/list/start return it."""

    id: str = Field(min_length=1)
    status: str | None = None
    concluded: bool | None = None
    success: bool | None = None
    sha: str | None = None
    branch: str | None = None
    pull_request_id: int | str | None = None
    created_at: str | None = None
    # A Unix epoch number, unlike createdAt (reference §2.2).
    build_concluded_at: float | None = None
    registry: Registry | None = None
    message: str | None = None

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
        if self.build_concluded_at is None:
            return None
        return datetime.fromtimestamp(self.build_concluded_at, tz=UTC)


class BuildList(_Response):
    builds: list[Build]


class ErrorBody(_Response):
    status: int | None = None
    message: str | None = None
    id: str | None = None
    details: Any = None


class ErrorEnvelope(_Response):
    error: ErrorBody
