"""Before a step's builds start: what it names is read once (a typo ends the step at once,
before anything that changes anything is sent), and the build service of service-spec is
created, used or updated."""

from __future__ import annotations

from collections.abc import Callable

from northflank_build.api.errors import Cancelled, NorthflankError, NotFound, PermissionDenied
from northflank_build.api.services import EnsuredService
from northflank_build.engine.context import StepContext
from northflank_build.engine.outcome import Failure, Outcome, Unusable, ended_by


def check_what_is_needed(ctx: StepContext) -> tuple[Outcome, Failure | None] | None:
    """Before any build starts: read every deployment service, the run job and the release
    flow's or workflow's runs once, so a typo in what the step names ends it at once (how,
    with what failure), not after a build of minutes, and before anything is sent that
    changes anything."""
    config, client = ctx.config, ctx.client
    reads: list[tuple[str, str, Callable[[str], object]]] = [
        ("deploy-services", s, client.deployments.get)
        for s in (config.deploy.services if config.deploy else ())
    ]
    if config.run_job is not None:
        reads.append(("run-job", config.run_job.job_id, client.runs.check_job))
    if config.template is not None:  # one page of one run: a 404 names the pipeline or workflow
        target = config.template.target

        def runs(_what: str) -> object:
            return client.templates.page(target, per_page=1)

        reads.append((target.flow, target.label, runs))
    if config.preview is not None:  # the blueprint's runs: a 404 names the blueprint
        blueprint = config.preview.blueprint

        def blueprint_runs(_what: str) -> object:
            return client.templates.page(blueprint, per_page=1)

        reads.append(("preview-blueprint", blueprint.label, blueprint_runs))
    for setting, what, read in reads:
        try:
            with ctx.cancel.interruptible():
                read(what)
        except Cancelled:
            return Outcome.CANCELLED, None
        except (NotFound, PermissionDenied) as exc:  # about what the input names
            return ended_by(exc), Unusable(setting, exc)
        except NorthflankError as exc:  # the token, the network, the time: not the input's
            return ended_by(exc), exc
    return None


def ensure_service(
    ctx: StepContext,
) -> tuple[EnsuredService | None, tuple[Outcome, Failure | None] | None]:
    """The build service of service-spec, created (or used, or updated); or how it ended."""
    spec = ctx.config.service_spec
    if spec is None:
        return None, None
    try:
        with ctx.cancel.interruptible():
            ensured = ctx.client.services.ensure(
                spec.to_json(), spec.name, spec.service_id, ctx.config.if_exists
            )
    except Cancelled:
        return None, (Outcome.CANCELLED, None)
    except NorthflankError as exc:
        return None, (ended_by(exc), exc)
    ctx.events.service(ensured)
    return ensured, None
