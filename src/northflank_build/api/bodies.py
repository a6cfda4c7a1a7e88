"""The request bodies this action sends, as plain frozen dataclasses.

Plain, not pydantic: they are built before the first request, and leaving pydantic's model
machinery out of that path saves about 30 ms of start-up (bench/startup_memory.py).
Every value is validated where it is read (inputs/, against the patterns below, copied from
the start-job-build schema in ../shared/reference/northflank-request-schemas.json); the tests
validate the bodies against the official JSON schemas, as the simulator does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

DOCKERFILE_PATH_PATTERN = r"^\/([a-zA-Z0-9-._]+\/)*[a-zA-Z0-9-._]+$"
DOCKER_WORK_DIR_PATTERN = r"^\/([a-zA-Z0-9-._]+\/)*[a-zA-Z0-9-._]*$"
DOCKERFILE_TARGET_PATTERN = r"^[a-zA-Z0-9-_]+$"

BuildKind = Literal["job", "service"]


class Secret:
    """A value that never shows itself in a repr, a traceback's locals or an f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _present(pairs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in pairs.items() if value is not None}


@dataclass(frozen=True)
class SecretContent:
    """A secret file or Docker secret mount: base64 data, as the API wants it."""

    data: str
    encoding: str = "utf-8"

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "encoding": self.encoding}


@dataclass(frozen=True)
class DockerOverrides:
    docker_file_path: str | None = None
    docker_work_dir: str | None = None
    dockerfile_target: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(
            {
                "dockerFilePath": self.docker_file_path,
                "dockerWorkDir": self.docker_work_dir,
                "dockerfileTarget": self.dockerfile_target,
            }
        )


def _secrets(entries: dict[str, SecretContent] | None) -> dict[str, Any] | None:
    return None if entries is None else {k: v.to_json() for k, v in entries.items()}


@dataclass(frozen=True)
class BuildOverrides:
    build_arguments: dict[str, str] | None = None
    build_files: dict[str, SecretContent] | None = None
    docker_secret_mounts: dict[str, SecretContent] | None = None
    docker: DockerOverrides | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(
            {
                "buildArguments": self.build_arguments,
                "buildFiles": _secrets(self.build_files),
                "dockerSecretMounts": _secrets(self.docker_secret_mounts),
                "docker": self.docker.to_json() if self.docker else None,
            }
        )


@dataclass(frozen=True)
class StartBuildRequest:
    """Body of ``POST .../{jobs|services}/{id}/build``; only what the user gave is sent.

    ``branch`` and ``pullRequestId`` exist for service builds only (the job schema forbids them).
    """

    sha: str | None = None
    branch: str | None = None
    pull_request_id: int | None = None
    overrides: BuildOverrides | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(
            {
                "sha": self.sha,
                "branch": self.branch,
                "pullRequestId": self.pull_request_id,
                "overrides": self.overrides.to_json() if self.overrides else None,
            }
        )


@dataclass(frozen=True)
class InternalDeployment:
    """``deployment.internal``: a build of a build service, pinned by id and commit
    (../shared/reference/northflank-api-deploy.md, section 1.1)."""

    build_service_id: str
    branch: str | None
    build_sha: str | None
    build_id: str

    def to_json(self) -> dict[str, Any]:
        return _present(
            {
                "id": self.build_service_id,
                "branch": self.branch,
                "buildSHA": self.build_sha,
                "buildId": self.build_id,
            }
        )


def patch_deployment_body(instances: int, internal: InternalDeployment) -> dict[str, Any]:
    """Body of ``PATCH .../services/deployment/{id}``: only the deployment source, with the
    instance count the service has (the schema requires ``instances`` even on PATCH), so
    no other setting of the service changes."""
    return {"deployment": {"instances": instances, "internal": internal.to_json()}}


@dataclass(frozen=True)
class StartJobRunRequest:
    """Body of ``POST .../jobs/{id}/runs``: this run's environment, and the build it runs
    when the step built a service (section 3.1 of the deploy reference)."""

    runtime_environment: dict[str, str] | None = None
    internal: InternalDeployment | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(
            {
                "runtimeEnvironment": self.runtime_environment,
                "deployment": {"internal": self.internal.to_json()} if self.internal else None,
            }
        )


# The run's name and description, as run-release-flow and run-workflow allow them
# (../shared/reference/northflank-deploy-schemas.json).
RUN_NAME_PATTERN = r"^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$"
RUN_DESCRIPTION_PATTERN = r"""^[a-zA-Z0-9.,?\s\\/'"()[\];`%^&*\-_:!]+$"""
RUN_NAME_LENGTH = (3, 39)
RUN_DESCRIPTION_MAX = 200


@dataclass(frozen=True)
class TemplateRunRequest:
    """Body of ``POST .../release-flows/{stage}/runs`` and ``.../workflows/{id}/runs``:
    its name (how a lost answer's run is found), a description, the arguments and the
    overrides. The name and description are checked against the schema here, before any
    request is made of them."""

    name: str
    description: str
    arguments: dict[str, str] | None = None
    overrides: dict[str, Any] | None = None
    triggers: dict[str, dict[str, Any]] | None = None  # preview blueprints only

    def __post_init__(self) -> None:
        low, high = RUN_NAME_LENGTH
        if not (low <= len(self.name) <= high and re.fullmatch(RUN_NAME_PATTERN, self.name)):
            raise ValueError(f"run name {self.name!r} does not match the API's pattern")
        description_ok = re.fullmatch(RUN_DESCRIPTION_PATTERN, self.description)
        if len(self.description) > RUN_DESCRIPTION_MAX or not description_ok:
            raise ValueError(
                f"run description {self.description!r} does not match the API's pattern"
            )

    def to_json(self) -> dict[str, Any]:
        return _present(
            {
                "name": self.name,
                "description": self.description,
                "arguments": self.arguments,
                "overrides": self.overrides,
                "triggers": self.triggers,
            }
        )


def run_description(text: str) -> str:
    """``text`` in the description's character set (anything else becomes "-"), bounded."""
    kept = "".join(ch if re.fullmatch(RUN_DESCRIPTION_PATTERN, ch) else "-" for ch in text)
    return kept[:RUN_DESCRIPTION_MAX] or "run"
