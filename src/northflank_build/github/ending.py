"""How the step ended, as the pull request's surfaces show it (github/surfaces.py): the
deployment's last status and the comment's text.

The main step sends it to GitHub itself, unless it may no longer wait for anyone: after a
cancel (the runner kills the step about 10 s after its first signal:
../shared/reference/runner-contract.md, section 6.2) or with its time (timeout-seconds)
spent. Then it leaves the ending in GITHUB_STATE and the post step, which has time of its
own, sends it (post.py). The post step treats the state as untrusted: what does not parse
is dropped, and every field is checked and capped here."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from northflank_build.engine.report import StepReport
from northflank_build.github.summary import md, summary

COMMENT_MAX = 60_000  # GitHub's limit is 65536 characters; the marker is kept
DESCRIPTION_MAX = 140  # a deployment status's description (github-rest.md, section 7)
_UNSAFE_DESCRIPTION = re.compile(r"[@<>\[\]()!`*_#|]")
STATES = ("success", "failure", "error", "inactive")
# A state value reaches the post step through the docker CLI's environment (one string at
# most 128 KiB on Linux): the comment's text is kept well under that.
HANDOFF_TEXT_MAX = 16_000
_MAX_CHARS = HANDOFF_TEXT_MAX + 4_096


@dataclass(frozen=True)
class Ending:
    state: str = ""  # the deployment's last status (STATES); "" for none
    description: str = ""
    environment_url: str = ""  # https only
    deployment_id: int | None = None  # the deployment this step made
    comment: str = ""  # the comment's text, without its header and marker; "" for none

    def encode(self) -> str:
        text = self.comment
        if len(text) > HANDOFF_TEXT_MAX:
            text = text[:HANDOFF_TEXT_MAX] + "\n\n(cut: see the job summary for the rest)"
        return json.dumps({**asdict(self), "comment": text}, separators=(",", ":"))


def decode(text: str) -> Ending | None:
    """The ending in ``text``, or None when there is none or it is not one."""
    if not text or len(text) > _MAX_CHARS:
        return None
    try:
        item: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(item, dict):
        return None
    state, description, url, comment = (
        item.get(k, "") for k in ("state", "description", "environment_url", "comment")
    )
    if not all(isinstance(v, str) for v in (state, description, url, comment)):
        return None
    deployment_id = item.get("deployment_id")
    if deployment_id is not None and not (
        isinstance(deployment_id, int) and not isinstance(deployment_id, bool) and deployment_id > 0
    ):
        return None
    return Ending(
        state if state in STATES else "",
        description[:DESCRIPTION_MAX],
        url if url.startswith("https://") else "",
        deployment_id,
        comment[: HANDOFF_TEXT_MAX + 100],
    )


def safe_description(text: str) -> str:
    """A status description: plain, no markup or mention, at most 140 characters."""
    plain = _UNSAFE_DESCRIPTION.sub(" ", " ".join(text.split()))
    return plain[:DESCRIPTION_MAX]


def comment_text(step: StepReport, deleted: bool, server_url: str, repository: str) -> str:
    """The comment's text: the step's summary (every server string escaped there), its
    commits linked as in the job summary."""
    text = summary(step, server_url=server_url, repository=repository)
    if deleted:
        text = "The preview environment of this pull request was removed.\n\n" + text
    return text


def comment_body(text: str, header: str, marker: str) -> str:
    """The comment: its header, its text and the hidden marker that finds it again."""
    title = f"### {md(header)}" if header else ""
    if len(text) > COMMENT_MAX:
        text = text[:COMMENT_MAX] + "\n\n(cut: see the job summary for the rest)"
    return f"{title}\n\n{text}\n\n{marker}\n"
