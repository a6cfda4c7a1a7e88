"""A preview environment per pull request (../shared/reference/northflank-api-deploy.md,
sections 5.1 and 10): deployed by a run of its preview blueprint named after it (the
lifecycle of engine/lifecycle.py, as a release-flow run), with older pushes' runs of the same
preview aborted first, its URL read from the services tagged with its name; or deleted,
then waited on until it is gone from the blueprint's previews.

What rests on an inference (section 10, items 1 to 4): the run's name names the preview
(a run with an existing preview's name updates it), the preview's id is its name when the
run's answer does not give ``environmentId``, and a preview's services carry its name (or
id) as a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from northflank_build.api.errors import Cancelled, NorthflankError
from northflank_build.engine.context import StepContext
from northflank_build.engine.follow import abort
from northflank_build.engine.kind import OperationReport
from northflank_build.engine.lifecycle import held_back, run_one
from northflank_build.engine.outcome import Outcome, TimedOut, ended_by, step_outcome
from northflank_build.engine.templaterun import TemplateRunKind, TemplateRunStart, owner_of
from northflank_build.inputs.config import PreviewPlan

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import TemplateRun

# How often a missing URL (a public port without dns yet) and a deleted preview are checked.
CHECK_EVERY_S = 2.0
SUPERSEDED_PAGES = 5


@dataclass(frozen=True)
class PreviewDetail:
    """What a preview report keeps besides its run: the preview's name and id, its URL
    (preview-url) and every service's URLs, and whether this step deleted it."""

    name: str
    id: str = ""
    url: str = ""
    urls: dict[str, list[str]] = field(default_factory=dict)
    deleted: bool = False
    swept: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # a sweep: (deleted, kept)


class PreviewKind(TemplateRunKind):
    """A preview blueprint run, reported as the preview it made (``result.preview``)."""

    result_key = "preview"
    outputs = ("preview-id", "preview-url", "preview-run-id", "preview-deleted")
    booleans = ("preview-deleted",)

    def __init__(self) -> None:
        super().__init__("preview-blueprint")
        self.name = "preview-run"
        self.noun = "preview run"
        self.title = "Preview"

    def values(self, report: OperationReport | None) -> dict[str, str]:
        detail = _detail(report)
        return {
            "preview-id": detail.id,
            "preview-url": detail.url,
            "preview-run-id": report.id if report is not None else "",
            "preview-deleted": "true" if detail.deleted else "false",
        }

    def result(self, report: OperationReport) -> dict[str, Any]:
        detail = _detail(report)
        return {
            "blueprint-id": report.owner.partition(":")[2],
            "name": detail.name,
            "id": detail.id,
            "run-id": report.id,
            "status": report.status,
            "concluded": report.concluded,
            "success": report.outcome is Outcome.SUCCEEDED,
            "url": detail.url,
            "urls": detail.urls,
            "deleted": detail.deleted,
            "swept": None
            if detail.swept is None
            else {"deleted": list(detail.swept[0]), "kept": list(detail.swept[1])},
        }

    def detail(self, last: Any) -> Any:
        return PreviewDetail(last.name or "")

    def told(self, report: OperationReport) -> str:
        detail = _detail(report)
        if detail.swept is not None:
            deleted, kept = detail.swept
            return f"previews swept: {len(deleted)} deleted, {len(kept)} kept"
        if detail.deleted:
            return f"preview {detail.name} deleted"
        what = "skipped" if report.skipped else report.status or report.outcome.value
        return f"preview {detail.name} {what}" + (f" at {detail.url}" if detail.url else "")

    def did(self, report: OperationReport) -> str:
        detail = _detail(report)
        if detail.swept is not None:
            return "preview sweep"
        return "preview deletion" if detail.deleted else self.noun

    def facts(self, report: OperationReport) -> tuple[tuple[str, str], ...]:
        detail = _detail(report)
        if detail.deleted:
            return (("Preview", f"{detail.name} deleted"),)
        found = [("Preview", detail.name)] if detail.name else []
        found += [("Preview URL", detail.url)] if detail.url else []
        found += [
            (f"URL of {service}", u)
            for service, urls in sorted(detail.urls.items())
            for u in urls
            if u != detail.url
        ]
        return tuple(found)


PREVIEW_RUN = PreviewKind()


def _detail(report: OperationReport | None) -> PreviewDetail:
    detail = report.detail if report is not None else None
    return detail if isinstance(detail, PreviewDetail) else PreviewDetail("")


@dataclass(frozen=True)
class PreviewRunStart(TemplateRunStart):
    """The blueprint's run, named after the preview; keeps the environmentId of its
    answer (get and list do not return it: section 10, item 1)."""

    key: str = "preview-run"
    output: str | None = "preview-run-id"
    seen: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> PreviewKind:
        return PREVIEW_RUN

    def send(self) -> tuple[TemplateRun, bool]:
        run, adopted = super().send()
        if run.environment_id:
            self.seen["environment"] = run.environment_id
        return run, adopted

    def operation(self, first: TemplateRun, note: Any) -> Any:
        op = super().operation(first, note)
        op.kind = PREVIEW_RUN
        return op


def preview_after(ctx: StepContext, before: Outcome) -> OperationReport | None:
    """The preview: deleted, or deployed once everything before it (``before``) succeeded."""
    plan = ctx.config.preview
    if plan is None:
        return None
    owner = owner_of(plan.blueprint)
    if plan.sweep:
        return sweep_previews(ctx, plan)
    if plan.delete:
        return delete_preview(ctx, plan)
    what = f"The preview {plan.name!r} was not deployed"
    held = held_back(ctx, PREVIEW_RUN, owner, before, what)
    return held if held is not None else deploy_preview(ctx, plan)


def deploy_preview(ctx: StepContext, plan: PreviewPlan) -> OperationReport:
    """Abort older pushes' runs of this preview, run the blueprint, wait, read the URL."""
    _abort_runs_of(ctx, plan, "an older run of this preview")
    start = PreviewRunStart(ctx, plan.blueprint, plan.request)
    report = run_one(ctx, start, owner_of(plan.blueprint))
    preview_id = start.seen.get("environment") or plan.name
    detail = PreviewDetail(plan.name, preview_id)
    if report.outcome is not Outcome.SUCCEEDED:
        return replace(report, detail=detail)
    try:
        with ctx.cancel.interruptible():
            urls, pending = _urls(ctx, plan, preview_id)
    except Cancelled:
        return replace(report, outcome=Outcome.CANCELLED, detail=detail)
    except NorthflankError as exc:
        return replace(report, outcome=ended_by(exc), failure=exc, detail=detail)
    url = _chosen(urls, plan.service)
    detail = replace(detail, url=url, urls=urls)
    if pending:
        return replace(
            report,
            outcome=Outcome.TIMED_OUT,
            detail=detail,
            failure=_not_in_time(
                ctx,
                "preview URL",
                f"The public address of service(s) {', '.join(pending)}",
                "no dns yet",
            ),
        )
    if not url:
        ctx.events.note(
            f"The preview {plan.name!r} has no service with a public HTTP port"
            + (f" named {plan.service!r}" if plan.service else "")
            + ": preview-url is empty."
        )
    else:
        ctx.events.note(f"Preview {plan.name!r} is up: {url}")
    return replace(report, detail=detail)


def _not_in_time(ctx: StepContext, noun: str, subject: str, status: str) -> TimedOut:
    """What the deadline cut short and nothing can abort (a URL, a teardown)."""
    return TimedOut(
        noun=noun,
        subject=subject,
        timeout_s=ctx.config.waiting.timeout_seconds,
        status=status,
        aborted=None,
        abort_on_cancel=ctx.config.waiting.abort_on_cancel,
        abortable=False,
    )


def _abort_runs_of(ctx: StepContext, plan: PreviewPlan, why: str) -> None:
    """Every unconcluded run of the blueprint that bears this preview's name is aborted;
    runs of other previews are never touched. A failure is said, not raised."""
    templates, note = ctx.client.templates, ctx.events.note
    cursor: str | None = None
    try:
        with ctx.cancel.interruptible():
            for _ in range(SUPERSEDED_PAGES):
                runs, cursor = templates.page(plan.blueprint, cursor=cursor, unconcluded=True)
                for run in runs:
                    if run.name == plan.name and not run.finished:
                        _abort_one(ctx, plan, run.id, why)
                if cursor is None:
                    return
    except (Cancelled, NorthflankError) as exc:
        said = exc.message if isinstance(exc, NorthflankError) else "cancelled"
        note(f"Could not look for older runs of preview {plan.name!r}: {said}.")


def _abort_one(ctx: StepContext, plan: PreviewPlan, run_id: str, why: str) -> None:
    def send() -> None:
        ctx.client.templates.abort(plan.blueprint, run_id)

    abort(f"run {run_id} of preview {plan.name!r} ({why})", send, ctx.events.note)


def _urls(
    ctx: StepContext, plan: PreviewPlan, preview_id: str
) -> tuple[dict[str, list[str]], list[str]]:
    """Every tagged service's URLs, and the services whose public port has no address yet
    (checked again every CHECK_EVERY_S until the deadline)."""
    tags = {plan.name, preview_id}
    tagged = _tagged(ctx, tags)
    urls: dict[str, list[str]] = {}
    while True:
        pending = []
        for service_id in sorted(tagged):
            service = ctx.client.deployments.get(service_id)
            found, waiting = service.urls()
            urls[service_id] = found
            if waiting:
                pending.append(service_id)
        tagged = set(pending)
        if not pending or ctx.clock.monotonic() + CHECK_EVERY_S >= ctx.client.deadline:
            return {k: v for k, v in urls.items() if v}, pending
        ctx.clock.sleep(CHECK_EVERY_S)


def _tagged(ctx: StepContext, tags: set[str]) -> set[str]:
    """The ids of the project's services tagged with the preview's name or id."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(50):  # 5000 services
        services, cursor = ctx.client.service_list.page(cursor)
        found |= {s.id for s in services if tags & set(s.tags)}
        if cursor is None:
            break
    return found


def _chosen(urls: dict[str, list[str]], service: str | None) -> str:
    """preview-service's first URL; else the only service's with one; with several, the
    first by id."""
    if service is not None:
        return (urls.get(service) or [""])[0]
    return urls[min(urls)][0] if urls else ""


def delete_preview(ctx: StepContext, plan: PreviewPlan) -> OperationReport:
    """Abort the preview's unconcluded runs, DELETE it, wait until it is gone."""
    owner, blueprint = owner_of(plan.blueprint), plan.blueprint.id
    report = OperationReport(kind=PREVIEW_RUN, owner=owner, outcome=Outcome.SUCCEEDED)
    _abort_runs_of(ctx, plan, "the preview is being deleted")
    previews, note = ctx.client.previews, ctx.events.note
    try:
        with ctx.cancel.interruptible():
            if plan.name not in previews.ids(blueprint) or not previews.delete(
                blueprint, plan.name
            ):
                note(
                    f"There is no preview {plan.name!r} of preview blueprint {blueprint!r}: nothing to delete."
                )
                return replace(report, detail=PreviewDetail(plan.name))
            note(f"Deleting preview {plan.name!r}: its teardown runs at Northflank.")
            while plan.name in previews.ids(blueprint):
                if ctx.clock.monotonic() + CHECK_EVERY_S >= ctx.client.deadline:
                    failure = _not_in_time(
                        ctx,
                        "preview deletion",
                        f"The deletion of preview {plan.name!r}",
                        "tearing down",
                    )
                    detail = PreviewDetail(plan.name, plan.name, deleted=True)
                    return replace(
                        report, outcome=Outcome.TIMED_OUT, failure=failure, detail=detail
                    )
                ctx.clock.sleep(CHECK_EVERY_S)
    except Cancelled:
        return replace(report, outcome=Outcome.CANCELLED, detail=PreviewDetail(plan.name))
    except NorthflankError as exc:
        return replace(report, outcome=ended_by(exc), failure=exc, detail=PreviewDetail(plan.name))
    note(f"Preview {plan.name!r} deleted.")
    return replace(
        report,
        status="deleted",
        concluded=True,
        detail=PreviewDetail(plan.name, plan.name, deleted=True),
    )


PULL_REQUEST_PREVIEW = re.compile(r"^pr-([0-9]{1,10})$")


def sweep_previews(ctx: StepContext, plan: PreviewPlan) -> OperationReport:
    """Every ``pr-<number>`` preview of the blueprint whose pull request has closed is
    deleted as a close would delete it; the others are kept (and those whose pull request
    GitHub cannot tell about, with a notice)."""
    owner, blueprint, note = owner_of(plan.blueprint), plan.blueprint.id, ctx.events.note
    report = OperationReport(kind=PREVIEW_RUN, owner=owner, outcome=Outcome.SUCCEEDED)
    try:
        with ctx.cancel.interruptible():
            ids = sorted(ctx.client.previews.ids(blueprint))
    except Cancelled:
        return replace(report, outcome=Outcome.CANCELLED, detail=PreviewDetail(""))
    except NorthflankError as exc:
        return replace(report, outcome=ended_by(exc), failure=exc, detail=PreviewDetail(""))
    deleted: list[str] = []
    kept: list[str] = []
    outcomes = [Outcome.SUCCEEDED]
    for preview_id in ids:
        found = PULL_REQUEST_PREVIEW.fullmatch(preview_id)
        if found is None or ctx.cancel.cancelled:
            continue
        state = ctx.events.pull_request_open(int(found.group(1)))
        if state is not False:
            kept.append(preview_id)
            if state is None:
                note(
                    f"Kept preview {preview_id!r}: GitHub could not say whether its pull request is open."
                )
            continue
        done = delete_preview(ctx, replace(plan, name=preview_id, sweep=False))
        outcomes.append(done.outcome)
        (deleted if _detail(done).deleted else kept).append(preview_id)
    note(
        f"Swept the previews of {blueprint!r}: deleted {deleted or 'none'}, kept {kept or 'none'}."
    )
    detail = PreviewDetail("", swept=(tuple(deleted), tuple(kept)))
    return replace(report, outcome=step_outcome(outcomes), detail=detail)
