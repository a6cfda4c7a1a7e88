"""The build service as a model of Northflank's create-build-service body: every field and
rule of the official schema ``create-service-build`` (../shared/reference/northflank-request-
schemas.json; https://northflank.com/docs/v1/api/services/create-build-service), strict."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from northflank_build.api.bodies import (
    DOCKER_WORK_DIR_PATTERN,
    DOCKERFILE_PATH_PATTERN,
    SecretContent,
)

# The seed says at most 20 characters; the API today (official schema) allows 54.
NAME_PATTERN = r"^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$"
DESCRIPTION_PATTERN = r"^[a-zA-Z0-9.,?\s\\/'\"()[\];`%^&*\-_:!]+$"
PLAN_PATTERN = r"^[A-Za-z0-9-]+$"
TAG_PATTERN = r"^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$"
PROJECT_URL_PATTERN = (
    r"^(https:\/\/)?((www(\.[a-zA-Z0-9\-]{2,})+\.)?[a-zA-Z0-9\-]{2,})(\.([a-zA-Z0-9\-]{2,}))+"
    r"(\/([a-zA-Z0-9\-._]{2,}))+?$"
)
RESTRICTION_PATTERN = r"^[^?:@$~ [\]{}]*$"
SELF_HOSTED_VCS_PATTERN = r"^[A-Za-z0-9-]+\/[A-Za-z0-9-]+$"
StorageSize = Literal[16384, 32768, 65536, 131072, 262144, 524288]
Builder = Literal[
    "HEROKU_24",
    "HEROKU_22",
    "HEROKU_22_CLASSIC",
    "HEROKU_20",
    "HEROKU_18",
    "GOOGLE_V1",
    "GOOGLE_22",
    "CNB_ALPINE",
    "CNB_BIONIC",
    "PAKETO_TINY",
    "PAKETO_BASE",
    "PAKETO_FULL",
    "PAKETO_JAMMY_TINY",
    "PAKETO_JAMMY_BASE",
    "PAKETO_JAMMY_FULL",
]


class _Spec(BaseModel):
    # python-re: the schema's patterns are JavaScript-style ("[" inside classes).
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        regex_engine="python-re",
    )


class GpuConfiguration(_Spec):
    gpu_type: str
    timesliced: bool | None = None
    gpu_count: float | None = None


class Gpu(_Spec):
    enabled: bool | None = None
    configuration: GpuConfiguration | None = None


class Billing(_Spec):
    build_plan: str | None = Field(default=None, pattern=PLAN_PATTERN)
    deployment_plan: str | None = Field(default=None, pattern=PLAN_PATTERN)
    gpu: Gpu | None = None


class VcsData(_Spec):
    project_url: str = Field(pattern=PROJECT_URL_PATTERN)
    project_type: Literal["bitbucket", "gitlab", "github", "self-hosted", "azure"]
    self_hosted_vcs_id: str | None = Field(default=None, pattern=SELF_HOSTED_VCS_PATTERN)
    account_login: str | None = None
    vcs_link_id: str | None = Field(default=None, min_length=24, max_length=24)


class EphemeralStorage(_Spec):
    storage_size: StorageSize | None = None


class Storage(_Spec):
    ephemeral_storage: EphemeralStorage | None = None


class Buildkit(_Spec):
    use_internal_cache: bool | None = None
    internal_cache_storage: float | None = None
    use_cache: bool | None = None
    cache_storage_size: float | None = None


class DockerfileSettings(_Spec):
    build_engine: Literal["kaniko", "buildkit"] | None = None
    docker_file_path: str = Field(pattern=DOCKERFILE_PATH_PATTERN)
    docker_work_dir: str = Field(pattern=DOCKER_WORK_DIR_PATTERN)
    use_cache: bool | None = None
    buildkit: Buildkit | None = None


class BuildpackSettings(_Spec):
    builder: Builder | None = None
    buildpack_locators: list[str] | None = None
    build_context: str | None = Field(default=None, pattern=DOCKER_WORK_DIR_PATTERN)
    use_cache: bool | None = None


class BuildSettings(_Spec):
    dockerfile: DockerfileSettings | None = None
    buildpack: BuildpackSettings | None = None
    storage: Storage | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> BuildSettings:
        if (self.dockerfile is None) == (self.buildpack is None):
            raise ValueError("needs exactly one of dockerfile or buildpack")
        return self


class CrossProjectAccess(_Spec):
    enabled: bool
    projects: list[str]
    is_allow_list: bool


class BuildConfiguration(_Spec):
    pr_restrictions: list[str] | None = None
    branch_restrictions: list[str] | None = None
    path_ignore_rules: list[str] | None = Field(default=None, max_length=200)
    is_allow_list: bool | None = None
    ci_ignore_flags_enabled: bool | None = None
    ci_ignore_flags: list[str] | None = Field(default=None, max_length=200)
    dockerfile_target: str | None = None
    docker_credentials: list[str] | None = None
    include_git_folder: bool | None = None
    full_git_clone: bool | None = None
    storage: Storage | None = None
    cross_project_access: CrossProjectAccess | None = None
    enable_git_lfs: bool | None = None

    @model_validator(mode="after")
    def item_rules(self) -> BuildConfiguration:
        for field, pattern in (
            ("pr_restrictions", RESTRICTION_PATTERN),
            ("branch_restrictions", RESTRICTION_PATTERN),
        ):
            for rule in getattr(self, field) or []:
                if not re.fullmatch(pattern, rule):
                    raise ValueError(
                        f"{to_camel(field)} rule {rule!r} must not contain ? : @ $ ~ space [ ] {{ }}"
                    )
        for rule in self.path_ignore_rules or []:
            if len(rule) > 260:
                raise ValueError("each pathIgnoreRules entry is at most 260 characters")
        for flag in self.ci_ignore_flags or []:
            if len(flag) > 72:
                raise ValueError("each ciIgnoreFlags entry is at most 72 characters")
        for credential in self.docker_credentials or []:
            if not re.fullmatch(PLAN_PATTERN, credential):
                raise ValueError(
                    f"dockerCredentials entry {credential!r} must match {PLAN_PATTERN}"
                )
        return self


class Infrastructure(_Spec):
    architecture: Literal["x86", "arm"] | None = None


class BuildServiceSpec(_Spec):
    """Body of ``POST``/``PUT .../services/build``."""

    name: str = Field(min_length=3, max_length=54, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=200, pattern=DESCRIPTION_PATTERN)
    tags: list[str] | None = None
    stage_id: str | None = None
    billing: Billing
    infrastructure: Infrastructure | None = None
    disabled_ci: bool | None = Field(default=None, alias="disabledCI")
    build_source: Literal["git", "bundle"] | None = None
    vcs_data: VcsData
    build_settings: BuildSettings
    build_configuration: BuildConfiguration | None = None
    build_arguments: dict[str, str] | None = None
    build_files: dict[str, SecretContent] | None = None
    docker_secret_mounts: dict[str, SecretContent] | None = None

    @model_validator(mode="after")
    def tag_rules(self) -> BuildServiceSpec:
        for tag in self.tags or []:
            if not (1 <= len(tag) <= 100 and re.fullmatch(TAG_PATTERN, tag)):
                raise ValueError(
                    f"tag {tag!r} must be 1-100 letters and digits in hyphen-separated groups"
                )
        return self

    @property
    def service_id(self) -> str:
        """Northflank derives the id from the name: ``My App`` -> ``my-app``."""
        return re.sub(r"[\s-]+", "-", self.name.strip().lower())

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
