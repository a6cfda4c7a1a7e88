"""Pydantic models of the Northflank request and response bodies this action uses.

Requests are strict (unknown fields are a bug on our side and the API rejects them:
the official schemas close every object with ``additionalProperties: false``).
Responses are tolerant: Northflank adds fields and status values over time.
Source: ../shared/seeds/000_*.txt and ../shared/reference/northflank-request-schemas.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Patterns copied from the start-job-build schema (seed 000).
DOCKERFILE_PATH_PATTERN = r"^\/([a-zA-Z0-9-._]+\/)*[a-zA-Z0-9-._]+$"
DOCKER_WORK_DIR_PATTERN = r"^\/([a-zA-Z0-9-._]+\/)*[a-zA-Z0-9-._]*$"
DOCKERFILE_TARGET_PATTERN = r"^[a-zA-Z0-9-_]+$"
SHA_LENGTH = 40


class _Request(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class SecretContent(_Request):
    """A secret file or Docker secret mount: base64 data, as the API wants it."""

    data: str
    encoding: str = "utf-8"


class DockerOverrides(_Request):
    docker_file_path: str | None = Field(default=None, pattern=DOCKERFILE_PATH_PATTERN)
    docker_work_dir: str | None = Field(default=None, pattern=DOCKER_WORK_DIR_PATTERN)
    dockerfile_target: str | None = Field(default=None, pattern=DOCKERFILE_TARGET_PATTERN)


class BuildOverrides(_Request):
    build_arguments: dict[str, str] | None = None
    build_files: dict[str, SecretContent] | None = None
    docker_secret_mounts: dict[str, SecretContent] | None = None
    docker: DockerOverrides | None = None


class StartBuildRequest(_Request):
    """Body of ``POST .../{jobs|services}/{id}/build``; only what the user gave is sent.

    ``branch`` and ``pullRequestId`` exist for service builds only (the job schema forbids them).
    """

    sha: str | None = Field(default=None, min_length=SHA_LENGTH, max_length=SHA_LENGTH)
    branch: str | None = None
    pull_request_id: int | None = None
    overrides: BuildOverrides | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class _Response(BaseModel):
    # Built at first use, after the first request is on the wire (start-up, issue #6).
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
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


BuildKind = Literal["job", "service"]


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp such as ``2021-07-28T15:55:38.296Z``; None if unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
