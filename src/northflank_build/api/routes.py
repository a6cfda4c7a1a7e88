"""Every route this action uses, in one table: the client, the dry run and the log tail read
their paths here. Each id is percent-encoded as one path segment (wire.segment), whatever
it holds. Routes from Northflank's API reference: https://northflank.com/docs/v1/api/jobs
and https://northflank.com/docs/v1/api/services (the team-prefixed form for organisation
tokens: https://northflank.com/docs/v1/api/use-the-api)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from northflank_build.api.bodies import BuildKind
from northflank_build.api.wire import segment

# Build ids look like "joyous-view-6290"; the format is undocumented, so this admits any
# plain token, and nothing that could climb out of a URL path ("..", "/", "%").
BUILD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


@dataclass(frozen=True)
class BuildTarget:
    """What a build is of: a job or a service, in a project."""

    kind: BuildKind
    id: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.id!r}"

    @property
    def permission_area(self) -> str:
        """The permission area: Project > Jobs > ... or Project > Services > ..."""
        return "Jobs" if self.kind == "job" else "Services"


@dataclass(frozen=True)
class TemplateTarget:
    """What a template run is of: a pipeline stage's release flow, a workflow, or a preview
    blueprint (../shared/reference/northflank-api-deploy.md, sections 4 and 5.1: their runs
    are the same object)."""

    flow: Literal["release-flow", "workflow", "preview-blueprint"]
    id: str  # the pipeline's id, the workflow's or the blueprint's
    stage: str = ""  # release flows only

    @property
    def label(self) -> str:
        if self.flow == "workflow":
            return f"workflow {self.id!r}"
        if self.flow == "preview-blueprint":
            return f"preview blueprint {self.id!r}"
        return f"the release flow of pipeline {self.id!r}, stage {self.stage!r}"

    @property
    def noun(self) -> str:
        return f"{self.flow} run"

    def permission(self, what: Literal["start", "read", "abort"]) -> str:
        if self.flow == "workflow":
            return f"Project > Workflows > Runs > {what.capitalize()}"
        if self.flow == "preview-blueprint":
            return f"Project > PreviewBlueprints > Runs > {what.capitalize()}"
        return "Project > Pipelines > General > " + ("Read" if what == "read" else "Update")


@dataclass(frozen=True)
class Routes:
    """The paths of one project (and team), relative to the API's base URL."""

    project_id: str
    team_id: str | None = None

    @property
    def project(self) -> str:
        if self.team_id:
            return f"/v1/teams/{segment(self.team_id)}/projects/{segment(self.project_id)}"
        return f"/v1/projects/{segment(self.project_id)}"

    def target(self, target: BuildTarget) -> str:
        return f"{self.project}/{target.kind}s/{segment(target.id)}"

    def builds(self, target: BuildTarget) -> str:
        """POST: start a build; GET: list the builds."""
        return f"{self.target(target)}/build"

    def build(self, target: BuildTarget, build_id: str) -> str:
        """GET: read the build; DELETE: abort it."""
        return f"{self.builds(target)}/{segment(build_id)}"

    def build_logs(self, target: BuildTarget) -> str:
        """GET with queryType=range; the WebSocket tail on the same path (tail_url)."""
        return f"{self.target(target)}/build-logs"

    @property
    def build_services(self) -> str:
        """POST: create a build service; PUT: create or update it."""
        return f"{self.project}/services/build"

    def service(self, service_id: str) -> str:
        return f"{self.project}/services/{segment(service_id)}"

    def deployment_service(self, service_id: str) -> str:
        """PATCH: update a deployment service (its deployment source, here)."""
        return f"{self.project}/services/deployment/{segment(service_id)}"

    def job(self, job_id: str) -> str:
        """GET: read the job."""
        return f"{self.project}/jobs/{segment(job_id)}"

    def job_runs(self, job_id: str) -> str:
        """POST: start a run of the job; GET: list its runs."""
        return f"{self.job(job_id)}/runs"

    def job_run(self, job_id: str, run_id: str) -> str:
        """GET: read the run; DELETE: abort it."""
        return f"{self.job_runs(job_id)}/{segment(run_id)}"

    def job_logs(self, job_id: str) -> str:
        """GET with queryType=range and runId; the WebSocket tail on the same path."""
        return f"{self.project}/jobs/{segment(job_id)}/logs"

    def template_runs(self, target: TemplateTarget) -> str:
        """POST: run the release flow, workflow or preview blueprint; GET: list its runs."""
        if target.flow == "workflow":
            return f"{self.project}/workflows/{segment(target.id)}/runs"
        if target.flow == "preview-blueprint":
            return f"{self.project}/preview-blueprints/{segment(target.id)}/runs"
        return (
            f"{self.project}/pipelines/{segment(target.id)}/release-flows/"
            f"{segment(target.stage)}/runs"
        )

    def template_run(self, target: TemplateTarget, run_id: str) -> str:
        """GET: read the run."""
        return f"{self.template_runs(target)}/{segment(run_id)}"

    def template_abort(self, target: TemplateTarget, run_id: str) -> str:
        """POST, no body: abort the run (not DELETE)."""
        return f"{self.template_run(target, run_id)}/abort"

    def previews(self, blueprint_id: str) -> str:
        """GET: list a preview blueprint's previews."""
        return f"{self.project}/preview-blueprints/{segment(blueprint_id)}/previews"

    def preview(self, blueprint_id: str, preview_id: str) -> str:
        """DELETE: delete the preview (its teardown runs)."""
        return f"{self.previews(blueprint_id)}/{segment(preview_id)}"

    @property
    def services(self) -> str:
        """GET: list the project's services (cursor paging, no tag filter)."""
        return f"{self.project}/services"

    def tail_url(self, api_url: str, target: BuildTarget, build_id: str) -> str:
        """The live tail of a build: the build-logs path over ws(s), queryType=tail."""
        return _tail(api_url, self.build_logs(target), {"buildId": build_id})

    def run_tail_url(self, api_url: str, job_id: str, run_id: str) -> str:
        """The live tail of a job run: the job's logs path over ws(s), with its runId."""
        return _tail(api_url, self.job_logs(job_id), {"runId": run_id})

    def dashboard_builds(self, dashboard: str, target: BuildTarget) -> str:
        """The dashboard's page of the target's builds (the app's routes, not the API's)."""
        scope = f"t/{segment(self.team_id)}" if self.team_id else "s"
        return (
            f"{dashboard}/{scope}/project/{segment(self.project_id)}/{target.kind}s/"
            f"{segment(target.id)}/builds"
        )

    def dashboard_build(self, dashboard: str, target: BuildTarget, build_id: str) -> str:
        return f"{self.dashboard_builds(dashboard, target)}/{segment(build_id)}"

    def dashboard_runs(self, dashboard: str, job_id: str) -> str:
        """The dashboard's page of a job's runs."""
        return (
            self.dashboard_builds(dashboard, BuildTarget("job", job_id)).removesuffix("/builds")
            + "/runs"
        )

    def dashboard_template_runs(self, dashboard: str, target: TemplateTarget) -> str:
        """The dashboard's page of a release flow's or a workflow's runs (the app's routes
        are undocumented: inferred from the job and service pages)."""
        scope = f"t/{segment(self.team_id)}" if self.team_id else "s"
        base = f"{dashboard}/{scope}/project/{segment(self.project_id)}"
        if target.flow == "workflow":
            return f"{base}/workflows/{segment(target.id)}/runs"
        if target.flow == "preview-blueprint":
            return f"{base}/preview-blueprints/{segment(target.id)}/runs"
        return f"{base}/pipelines/{segment(target.id)}/release-flows/{segment(target.stage)}/runs"

    def dashboard_template_run(self, dashboard: str, target: TemplateTarget, run_id: str) -> str:
        return f"{self.dashboard_template_runs(dashboard, target)}/{segment(run_id)}"

    def dashboard_run(self, dashboard: str, job_id: str, run_id: str) -> str:
        return f"{self.dashboard_runs(dashboard, job_id)}/{segment(run_id)}"


def _tail(api_url: str, path: str, which: dict[str, str]) -> str:
    parts = urlsplit(api_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({"queryType": "tail", **which, "lineLimit": 1000})
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))
