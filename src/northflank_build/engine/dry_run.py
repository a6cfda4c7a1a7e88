"""The dry run: validate the inputs and show what would be sent, with secrets redacted;
send nothing (so no token is needed: pull requests from forks can run it)."""

from __future__ import annotations

from typing import Any

from northflank_build.api.routes import Routes
from northflank_build.engine.events import Events
from northflank_build.engine.report import BuildReport, Outcome, report_for
from northflank_build.inputs.config import ActionConfig

SECRET_MAPS = ("buildFiles", "dockerSecretMounts")


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """A request body safe to print: secret file and mount contents replaced."""
    out = dict(body)
    holder = out.get("overrides") if "overrides" in out else out
    if isinstance(holder, dict):
        holder = dict(holder)
        for key in SECRET_MAPS:
            if isinstance(holder.get(key), dict):
                holder[key] = {
                    name: {"data": "***redacted***", "encoding": "utf-8"} for name in holder[key]
                }
        if "overrides" in out:
            out["overrides"] = holder
        else:
            out = holder
    return out


def dry_run(config: ActionConfig, events: Events) -> BuildReport:
    """Validate and show what would be sent; send nothing (so no token is needed)."""
    target = config.target
    routes, base = Routes(config.project_id, config.team_id), config.api_url
    service_id = ""
    if config.service_spec is not None:
        service_id = config.service_spec.service_id
        events.planned(
            "POST", base + routes.build_services, redacted(config.service_spec.to_json())
        )
        if config.if_exists == "update":
            events.note(
                "If the service exists (409), the same body would be sent with PUT (if-exists: update)."
            )
    elif target is not None and target.kind == "service":
        service_id = target.id
    if target is not None:
        events.planned(
            "POST", base + routes.builds(target), redacted(config.start_request().to_json())
        )
        if config.wait:
            events.note(
                f"Then it would poll GET {base}{routes.builds(target)}/<build-id> until the "
                "build concludes."
            )
    return report_for(
        config,
        Outcome.DRY_RUN,
        service_id=service_id,
        requested_sha=config.sha or "",
        requested_branch=config.branch or "",
    )
