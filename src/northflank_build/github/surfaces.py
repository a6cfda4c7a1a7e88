"""The pull request's surfaces (../shared/reference/github-rest.md, sections 6 to 8): a
GitHub Deployment at the built commit with its statuses (``github-deployment``), and one
comment per pull request, updated in place (``pr-comment``).

Never in the way: whatever goes wrong with GitHub (a fork's read-only token, Dependabot,
missing ``permissions:``, a 404, a 5xx, a rate limit, the time) is a warning naming the
fix, never a failed step, never a wait past the step's deadline, and the step's result and
outputs are the same without them. Text from Northflank reaches GitHub only escaped
(github/summary.py), so it cannot become a link, an image, a mention or close the marker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from northflank_build.api.clock import Clock
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.outputs import environment_url, story
from northflank_build.engine.report import StepReport
from northflank_build.github.commands import save_state
from northflank_build.github.comment import StickyComment
from northflank_build.github.ending import (
    Ending,
    comment_text,
    safe_description,
)
from northflank_build.github.rest import CutShort, GitHubApi, GitHubTrouble
from northflank_build.github.state import STATE_GITHUB
from northflank_build.inputs.config import ActionConfig, PullRequestSurfaces
from northflank_build.inputs.event import EventFacts
from northflank_build.wording import ACTION, describe

# The start is done before Northflank work: GitHub gets this long, at most.
BEGIN_S = 5.0
KILLED = "The step was stopped before it could say how the work ended."
# The end is left to the post step when less time than this is left (github/ending.py).
END_MIN_S = 15.0
PERMISSIONS = {
    "deployment": "permissions:\n  deployments: write",
    "comment": "permissions:\n  pull-requests: write\n  issues: write",
    "pulls": "permissions:\n  pull-requests: read",
}


@dataclass
class Surfaces:
    """What this step shows on the pull request, and what it wrote there."""

    plan: PullRequestSurfaces
    api: GitHubApi
    event: EventFacts
    sha: str
    run_url: str
    preview: bool  # the step manages a preview: its environment is transient
    warn: Callable[[str, str], None]
    payload: dict[str, Any] = field(default_factory=dict)  # what the step builds and runs
    server_url: str = ""  # GITHUB_SERVER_URL: the comment links commits as the summary does
    deployment_id: int | None = None
    comment_url: str = ""
    warned: set[str] = field(default_factory=set)

    # -- the deployment -----------------------------------------------------------------

    def begin(self, builds: tuple[tuple[str, str, str], ...]) -> None:
        """A deployment at the built commit, in progress, naming the step's builds (kind,
        target id, build id); once they have started and before the rest of the work, so
        bounded by BEGIN_S."""
        self.payload["builds"] = [
            {kind: target, "build-id": build} for kind, target, build in builds
        ]
        body = self._deployment_body()
        if body is None:
            return
        deadline, self.api.deadline = (
            self.api.deadline,
            min(self.api.deadline, self.api.clock.monotonic() + BEGIN_S),
        )
        try:
            data, resp = self.api.call(
                "create the deployment", "POST", self.api.repo("/deployments"), body
            )
            if (
                resp.status_code == 202
                or not isinstance(data, dict)
                or not isinstance(data.get("id"), int)
            ):
                raise GitHubTrouble(
                    "create the deployment", resp.status_code, "no deployment was made (202)"
                )
            self.deployment_id = data["id"]
            # Should the runner kill the step before its end, the post step says so.
            save_state(STATE_GITHUB, Ending("error", KILLED, "", self.deployment_id).encode())
            self._status("in_progress", "")
        except GitHubTrouble as exc:
            self._trouble("deployment", exc)
        finally:
            self.api.deadline = deadline

    def _deployment_body(self) -> dict[str, Any] | None:
        """The deployment's create body; None when the step makes none (not asked, no
        commit, or a preview being deleted)."""
        env = self.plan.deployment
        if env is None or not self.sha or self._deleting():
            return None
        return {
            "ref": self.sha,  # the pull request's head, never the merge commit (section 6.3)
            "environment": env,
            "auto_merge": False,
            "required_contexts": [],
            "transient_environment": self.preview,
            "production_environment": False,
            "description": "Northflank build and deploy",
            "payload": {"northflank": self.payload},
        }

    def end(self, step: StepReport) -> Ending | None:
        """The deployment's last status (or inactive when the preview was deleted), then
        the comment; or, when the step may no longer wait for GitHub (cancelled, or its
        time nearly spent), the ending left for the post step (github/ending.py)."""
        ending = self.ending(step)
        left = self.api.deadline - self.api.clock.monotonic()
        if step.outcome in (Outcome.CANCELLED, Outcome.TIMED_OUT) or left < END_MIN_S:
            return ending
        self.send(ending)
        cut = self.api.cancel is not None and self.api.cancel.cancelled
        return ending if cut else None  # cut short by a cancel: the post step tells it all

    def ending(self, step: StepReport) -> Ending:
        """How the step ended, as the deployment and the comment show it."""
        deleting = self._deleting()
        text = ""
        if self.plan.comment and self.event.pull_request is not None:
            text = comment_text(step, deleting, self.server_url, self.api.repository)
        if self.plan.deployment is None:
            return Ending(comment=text)
        if deleting:
            return Ending("inactive", "The preview was deleted.", comment=text)
        if step.outcome is Outcome.SUCCEEDED:
            url = environment_url(step)
            return Ending("success", story(step), url, self.deployment_id, text)
        state = "failure" if step.outcome is Outcome.FAILED else "error"
        cause = (
            describe(step.failures[0], ACTION).title
            if step.failures
            else f"Ended: {step.outcome.value}."
        )
        return Ending(state, cause, "", self.deployment_id, text)

    def send(self, ending: Ending) -> None:
        """The ending, to GitHub: every trouble a warning."""
        try:
            self._end_deployment(ending)
        except GitHubTrouble as exc:
            self._trouble("deployment", exc)
        if self.plan.comment and ending.comment:
            try:
                self._comment(ending.comment)
            except GitHubTrouble as exc:
                self._trouble("comment", exc)

    def _end_deployment(self, ending: Ending) -> None:
        env = self.plan.deployment
        if env is None or not ending.state:
            return
        if ending.state == "inactive":  # the preview's delete: its latest, and any still live
            deployments = self._deployments_of(env)
            for deployment_id in deployments[:1]:
                self._status("inactive", ending.description, deployment_id)
            self._retire(deployments[1:], ending.description)
            return
        if ending.deployment_id is None:
            return
        self._status(ending.state, ending.description, ending.deployment_id, ending.environment_url)
        if ending.state == "success" and self.preview:
            # GitHub's auto_inactive skips transient environments (section 6.3)
            older = [d for d in self._deployments_of(env) if d < ending.deployment_id]
            self._retire(older, "Superseded.")

    def _retire(self, older: list[int], description: str) -> None:
        """Mark ``older`` deployments (newest first) inactive while they are still shown
        as live (success); one already inactive was retired with everything before it, so
        the walk stops there: a push costs a read or two, not a status per deployment."""
        for deployment_id in older:
            state = self._latest_state(deployment_id)
            if state == "inactive":
                return
            if state == "success":
                self._status("inactive", description, deployment_id)

    def _latest_state(self, deployment_id: int) -> str:
        """The deployment's current state: its status with the highest id (section 7.2)."""
        data, _resp = self.api.call(
            "read a deployment's statuses",
            "GET",
            self.api.repo(f"/deployments/{deployment_id}/statuses"),
            params={"per_page": 100},
        )
        statuses = [s for s in data or [] if isinstance(s, dict) and isinstance(s.get("id"), int)]
        latest = max(statuses, key=lambda s: int(s["id"]), default={})
        state = latest.get("state")
        return state if isinstance(state, str) else ""

    def _deployments_of(self, env: str) -> list[int]:
        data, _resp = self.api.call(
            "list the environment's deployments",
            "GET",
            self.api.repo("/deployments"),
            params={"environment": env, "per_page": 10},
        )
        ids = [d["id"] for d in data or [] if isinstance(d, dict) and isinstance(d.get("id"), int)]
        return sorted(ids, reverse=True)

    def _status(
        self,
        state: str,
        description: str,
        deployment_id: int | None = None,
        environment_url: str = "",
    ) -> None:
        body: dict[str, Any] = {
            "state": state,
            "log_url": self.run_url,
            "description": safe_description(description),
        }
        if environment_url.startswith("https://"):
            body["environment_url"] = environment_url
        target = deployment_id if deployment_id is not None else self.deployment_id
        self.api.call(
            f"post the deployment's {state} status",
            "POST",
            self.api.repo(f"/deployments/{target}/statuses"),
            body,
        )

    def _deleting(self) -> bool:
        return self.preview and self.event.closes_pull_request

    def _comment(self, text: str) -> None:
        if self.event.pull_request is not None:
            comment = StickyComment(self.api, self.event.pull_request, self.plan.header)
            try:
                comment.write(text)
            finally:  # written, even when what came after it went wrong
                self.comment_url = comment.url

    def planned(self, say: Callable[[str, str, dict[str, Any]], None]) -> None:
        """What a run would send to GitHub (the dry run; the token is never shown)."""
        body = self._deployment_body()
        if body is not None:
            say("POST", self.api.api_url + self.api.repo("/deployments"), body)
            say(
                "POST",
                self.api.api_url + self.api.repo("/deployments/<id>/statuses"),
                {"state": "in_progress", "log_url": self.run_url},
            )
        if self.plan.comment and self.event.pull_request is not None:
            path = self.api.repo(f"/issues/{self.event.pull_request}/comments")
            say(
                "POST (or PATCH the comment found among every page of GET)",
                self.api.api_url + path,
                {"body": f"### {self.plan.header} ..."},
            )
        self.api.close()

    # -- a sweep --------------------------------------------------------------------------

    def pull_open(self, number: int) -> bool | None:
        """Whether pull request ``number`` is open; None when GitHub cannot tell (a warning
        says why, once)."""
        try:
            data, _resp = self.api.call(
                f"read pull request #{number}", "GET", self.api.repo(f"/pulls/{number}")
            )
        except GitHubTrouble as exc:
            self._trouble("pulls", exc)
            return None
        state = data.get("state") if isinstance(data, dict) else None
        return {"open": True, "closed": False}.get(state) if isinstance(state, str) else None

    # -- trouble --------------------------------------------------------------------------

    def _trouble(self, surface: str, exc: GitHubTrouble) -> None:
        if isinstance(exc, CutShort) or surface in self.warned:
            return  # a cancel is not GitHub's trouble: the post step tells what was not
        self.warned.add(surface)
        what = {"deployment": "GitHub Deployment", "comment": "pull request comment"}.get(
            surface, "pull request state"
        )
        fix = (
            f"Give the job these permissions ({PERMISSIONS[surface].replace(chr(10), ' ')}); on "
            "pull requests from forks and Dependabot GitHub's token is read-only, so nothing "
            "can be written there."
            if exc.forbidden
            else "GitHub could not be used just now; the step's result does not depend on it."
        )
        self.warn(
            f"Could not {exc.what} ({exc.status or 'no answer'}: {exc.message}). {fix}",
            f"No {what}",
        )


def open_surfaces(
    config: ActionConfig,
    env: Mapping[str, str],
    event: EventFacts,
    clock: Clock,
    deadline: float,
    warn: Callable[[str, str], None],
    transport: httpx.BaseTransport | None = None,
    cancel: CancelScope | None = None,
) -> Surfaces | None:
    """The surfaces the inputs ask for, or None; a warning when GitHub cannot be reached."""
    plan = config.surfaces
    if plan is None:
        return None
    if plan.comment and event.pull_request is None and plan.deployment is None:
        return None  # a comment needs a pull request; nothing else asked
    server, repo = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    run_id, attempt = env.get("GITHUB_RUN_ID", ""), env.get("GITHUB_RUN_ATTEMPT", "1")
    run_url = f"{server}/{repo}/actions/runs/{run_id}/attempts/{attempt}" if server and repo else ""
    token = plan.token.get_secret_value()
    if not token or not repo:
        warn(
            "github-token is empty (or GITHUB_REPOSITORY is unset): nothing is written to the "
            "pull request.",
            "No GitHub Deployment or comment",
        )
        return None
    try:
        api = GitHubApi(
            env.get("GITHUB_API_URL", "https://api.github.com"),
            token,
            repo,
            clock,
            deadline,
            transport,
            cancel,
        )
    except GitHubTrouble as exc:
        warn(f"GITHUB_API_URL cannot be used: {exc.message}.", "No GitHub Deployment or comment")
        return None
    payload: dict[str, Any] = {
        "project": config.connection.project_id,
        "builds": [],  # filled in once they have started (begin)
        "preview-blueprint": config.preview.blueprint.id if config.preview else None,
        "run": run_url,
    }
    return Surfaces(
        plan,
        api,
        event,
        config.sha or "",
        run_url,
        config.preview is not None,
        warn,
        payload,
        server,
    )
