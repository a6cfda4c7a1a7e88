"""The rules that tie inputs together: which targets a step builds, what build-id and reuse
exclude, and what deploy-services and run-job need of the build before them. Each adds
InputProblems naming the input to change; none reads the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from northflank_build.api.routes import BUILD_ID_PATTERN, BuildTarget
from northflank_build.inputs.declared import OVERRIDE_INPUTS, Reading
from northflank_build.inputs.fields import shown
from northflank_build.inputs.problems import InputProblem

if TYPE_CHECKING:  # loaded at run time only when a service-spec is given (with PyYAML)
    from northflank_build.inputs.event import EventFacts
    from northflank_build.inputs.spec_model import BuildServiceSpec

import re


def which_targets(r: Reading) -> None:
    """job-id, service-id, service-spec or run-job: what the step works on."""
    jobs, services, spec = r.given("job-id"), r.given("service-id"), r.given("service-spec")
    if jobs and services:
        r.problems.append(InputProblem("service-id", "give either job-id or service-id, not both."))
    elif spec and jobs:
        r.problems.append(
            InputProblem(
                "job-id", "cannot be combined with service-spec, which creates a build service."
            )
        )
    elif not (
        spec
        or jobs
        or services
        or r.given("run-job")
        or _template_given(r)
        or r.given("preview-blueprint")
    ):
        r.problems.append(
            InputProblem(
                "job-id",
                "one of job-id or service-id is required (or service-spec to create a build "
                "service, run-job to run a job, release-flow or workflow to run one, "
                "preview-blueprint for a preview).",
            )
        )


def spec_target(r: Reading, service_ids: tuple[str, ...], spec: BuildServiceSpec | None) -> None:
    """service-spec builds one service, the one its name gives."""
    if r.given("service-spec") and len(service_ids) > 1:
        r.problems.append(
            InputProblem("service-spec", "works with one target only; service-id names several.")
        )
    if spec is not None and service_ids and service_ids[0] != spec.service_id:
        r.problems.append(
            InputProblem(
                "service-id",
                f"{shown(service_ids[0])} differs from {spec.service_id!r}, the id Northflank "
                "derives from the spec's name.",
            )
        )


def service_source(r: Reading, branch: str | None, pull_request: int | None) -> None:
    """branch and pull-request-id: a service build's source, one of them."""
    for name, given in (("branch", branch), ("pull-request-id", pull_request)):
        if given is not None and r.given("job-id"):
            r.problems.append(
                InputProblem(
                    name,
                    "applies to service builds only (a job builds what its build source on "
                    "Northflank names); pass sha for a commit.",
                )
            )
    if branch is not None and pull_request is not None:
        r.problems.append(
            InputProblem(
                "pull-request-id",
                "give either branch or pull-request-id, not both (a build service builds one "
                "of them).",
            )
        )


def reuse_rules(r: Reading, reuse: str) -> None:
    """reuse finds a build by its commit: it needs a sha and excludes overrides."""
    if reuse == "never":
        return
    if not r.given("sha"):
        r.problems.append(
            InputProblem("reuse", f"{reuse!r} needs a sha: builds are matched by commit.")
        )
    for name in OVERRIDE_INPUTS:
        if r.given(name):
            r.problems.append(
                InputProblem(
                    name,
                    f"cannot be combined with reuse: {reuse} (Northflank does not report which "
                    "overrides a build had, so a build found by sha may not match); use reuse: "
                    "never.",
                )
            )


def given_build(r: Reading, reuse: str, default_sha: str, targets: int) -> str | None:
    """build-id: wait on a build that exists; what it cannot be combined with."""
    build_id = r.text("build-id").strip()
    if not build_id:
        return None
    if not re.fullmatch(BUILD_ID_PATTERN, build_id):
        r.problems.append(
            InputProblem(
                "build-id",
                f"{shown(build_id)} is not a Northflank build id (e.g. joyous-view-6290: "
                "letters, digits, '.', '_' and '-').",
            )
        )
    if targets > 1:
        r.problems.append(
            InputProblem("build-id", "works with one target only; give one job-id or service-id.")
        )
    clashes = [n for n in ("service-spec", "branch", "pull-request-id", *OVERRIDE_INPUTS)]
    clashes = [n for n in clashes if r.given(n)]
    sha = r.text("sha").strip()
    if sha and sha.lower() != default_sha:
        clashes.insert(0, "sha")
    if reuse != "never":
        clashes.append("reuse")
    for name in clashes:
        r.problems.append(
            InputProblem(
                name,
                "cannot be combined with build-id, which waits on a build that already exists "
                "(its commit and settings are the build's own).",
            )
        )
    return build_id if re.fullmatch(BUILD_ID_PATTERN, build_id) else None


def delivery_rules(r: Reading, deploy: tuple[str, ...], run_job: str | None, wait: bool) -> None:
    """deploy-services and run-job come after a build that has concluded."""
    if r.given("run-job-environment") and not run_job:
        r.problems.append(
            InputProblem("run-job-environment", "applies to run-job, which is not given.")
        )
    if (deploy or run_job) and not wait:
        r.problems.append(
            InputProblem(
                "deploy-services" if deploy else "run-job",
                "cannot be combined with wait: false: there is nothing to deploy or run "
                "until the build has concluded.",
            )
        )


def deploy_target(r: Reading, targets: tuple[BuildTarget, ...]) -> str | None:
    """The service whose build deploy-services points its services at; None when the step
    has no such build (a problem then)."""
    problem = None
    if not targets:
        problem = (
            "needs a service build in the step: service-id (or service-spec with branch or "
            "pull-request-id), or service-id with build-id."
        )
    elif any(t.kind == "job" for t in targets):
        problem = "needs a service build: a job's build cannot be deployed to a deployment service."
    elif len(targets) > 1:
        problem = "works with one build target; service-id names several."
    if problem is not None:
        r.problems.append(InputProblem("deploy-services", problem))
        return None
    return targets[0].id


def run_target(r: Reading, run_job: str, targets: tuple[BuildTarget, ...]) -> None:
    """run-job runs after at most one build; a job runs its own builds only."""
    if len(targets) > 1:
        r.problems.append(InputProblem("run-job", "works with one build target at most."))
    elif targets and targets[0].kind == "job" and targets[0].id != run_job:
        r.problems.append(
            InputProblem(
                "run-job",
                f"{run_job!r} cannot run the build of job {targets[0].id!r}: a job runs its own "
                "builds (give the same job, or build a service).",
            )
        )


def _template_given(r: Reading) -> bool:
    return r.given("release-flow") or r.given("workflow")


def template_rules(r: Reading, after_builds: bool, wait: bool) -> None:
    """release-flow or workflow: one of them; its arguments and overrides only with one;
    after builds, only when the step waits for them."""
    if r.given("release-flow") and r.given("workflow"):
        r.problems.append(
            InputProblem("workflow", "give either release-flow or workflow, not both.")
        )
    for name in ("template-arguments", "template-overrides"):
        if r.given(name) and not _template_given(r):
            r.problems.append(
                InputProblem(
                    name, "applies to release-flow or workflow, neither of which is given."
                )
            )
    name = "release-flow" if r.given("release-flow") else "workflow"
    after_builds_rule(r, name, _template_given(r) and after_builds, wait)


def after_builds_rule(r: Reading, name: str, after_builds: bool, wait: bool) -> None:
    """What starts once the builds have concluded needs a step that waits for them."""
    if after_builds and not wait:
        r.problems.append(
            InputProblem(
                name,
                "cannot be combined with wait: false when the step builds: it starts once "
                "the builds have concluded.",
            )
        )


def surfaces_rules(r: Reading, deployment: str | None, wait: bool) -> None:
    """A GitHub Deployment's last status says how the work ended: the step must wait."""
    if deployment is not None and not wait:
        r.problems.append(
            InputProblem(
                "github-deployment",
                "cannot be combined with wait: false: the deployment's status says how the "
                "work ended, which a step that does not wait never learns.",
            )
        )


def fork_without_secrets() -> InputProblem:
    """A pull request from a fork gets no secrets: what to do, with its risk."""
    return InputProblem(
        "api-token",
        "is empty: this pull request comes from a fork, and GitHub gives workflows run for "
        "forks no secrets, so no preview can be deployed from this run. Either deploy "
        "previews from a pull_request_target workflow gated by a label a maintainer adds "
        "after reading the change (it runs with your secrets: never check out and run the "
        "fork's code before that review), or from a workflow_run workflow that runs after "
        "this one and reads its results.",
    )


def preview_rules(r: Reading, event: EventFacts) -> None:
    """preview-blueprint needs a name (pr-<number> on pull requests); the rest of the
    preview inputs need the blueprint."""
    blueprint = r.given("preview-blueprint")
    sweep = r.text("preview-action").strip() == "sweep"
    if blueprint and not r.given("preview-name") and not sweep:
        r.problems.append(
            InputProblem(
                "preview-name",
                "is required outside pull-request events (on them it defaults to pr-<number>).",
            )
        )
    for name in ("preview-git-trigger", "preview-arguments", "preview-service"):
        if r.given(name) and not blueprint:
            r.problems.append(
                InputProblem(name, "applies to preview-blueprint, which is not given.")
            )
    if r.given("preview-action") and r.text("preview-action").strip() != "auto" and not blueprint:
        r.problems.append(
            InputProblem("preview-action", "applies to preview-blueprint, which is not given.")
        )
