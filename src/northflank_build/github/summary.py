"""The job summary in GitHub Markdown: every piece of Markdown the action writes is here.

Text from Northflank is escaped (``md``), put in code spans (``code``) or percent-encoded
where it becomes a link target (``url``); nothing from it can add a link, an image or HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from northflank_build.engine.report import BuildReport, Outcome, elapsed_label, outputs
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import Worded

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
# GitHub drops a step's whole summary over 1 MiB (status and link included): ours stays far
# below, a tail line is cut, and the log tail is the first thing to go if it is still long.
SUMMARY_MAX_BYTES = 256 * 1024
TAIL_LINE_CHARS = 500
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#@!$&'*+,;=%]")


def url(text: str) -> str:
    """A URL fit for a Markdown link target: nothing in it can end the link or add markup."""
    return _URL_UNSAFE.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode(errors="replace")), text
    )


def md(text: str | None) -> str:
    """Untrusted text as inert Markdown on one line (no links, HTML or table breaks)."""
    if not text:
        return ""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def code(text: str | None) -> str:
    """Untrusted text as an inline code span (backticks cannot be escaped inside one)."""
    if not text:
        return ""
    return "`" + " ".join(text.replace("`", "'").split()).replace("|", "\\|") + "`"


HEADLINES = {
    Outcome.SUCCEEDED: ":white_check_mark: Northflank build succeeded",
    Outcome.FAILED: ":x: Northflank build failed",
    Outcome.STARTED: ":rocket: Northflank build started (not waited for)",
    Outcome.CREATED: ":white_check_mark: Northflank build service ready",
    Outcome.DRY_RUN: ":mag: Dry run: inputs are valid; nothing was sent",
    Outcome.TIMED_OUT: ":hourglass: Timed out waiting for the Northflank build",
    Outcome.CANCELLED: ":no_entry_sign: Cancelled",
    Outcome.ERROR: ":x: Northflank build could not be followed",
    Outcome.INVALID: ":x: Invalid inputs: nothing was sent",
}


def summary(
    report: BuildReport, worded: Worded | None, *, server_url: str = "", repository: str = ""
) -> str:
    """The job summary in GitHub Markdown; holds ids and statuses, never a secret."""
    lines = [f"### {HEADLINES[report.outcome]}", ""]
    build = report.build
    values = outputs(report)
    if report.service_created is not None:
        how = (
            "created"
            if report.service_created
            else "already existed; used as it is or updated (if-exists)"
        )
        lines += [f"Build service {code(report.service_id)}: {how}.", ""]
    if build is not None and report.target is not None:
        sha = build.sha or ""
        commit = md(sha[:12])
        if sha and server_url and repository and re.fullmatch(r"[0-9a-f]{40}", sha):
            commit = f"[`{sha[:12]}`]({url(f'{server_url}/{repository}/commit/{sha}')})"
        rows = [
            ("Status", code(build.status)),
            (
                "Build",
                f"[{md(build.id)}]({url(report.build_url)})" if report.build_url else md(build.id),
            ),
            (
                report.target.kind.capitalize(),
                f"{md(report.target.id)} in project {md(report.project_id)}",
            ),
            ("Commit", commit),
            ("Branch", md(build.branch)),
            ("Image", code(build.registry_uri)),
            ("Duration", f"{values['duration-seconds']} s" if values["duration-seconds"] else ""),
        ]
        if report.adopted:
            rows.append(
                (
                    "Note",
                    "the start request's answer was lost; the build it created was found and followed",
                )
            )
        if report.aborted is not None:
            rows.append(("Aborted", "yes" if report.aborted else "no: the abort request failed"))
        shown = [(name, value) for name, value in rows if value]
        # The first row is the table's header: an empty header renders as a blank bar.
        lines += [f"| {shown[0][0]} | {shown[0][1]} |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in shown[1:]]
        lines.append("")
    if report.timeline:
        steps = " → ".join(
            f"{md(status)} ({elapsed_label(elapsed)})" for status, elapsed in report.timeline
        )
        lines += [f"Timeline: {steps}", ""]
    tail: list[str] = []
    if worded is not None:
        lines += [f"**{md(worded.title)}**: {md(worded.message)}", ""]
        if worded.fix:
            lines += [f"Fix: {md(worded.fix)}", ""]
        if report.log_tail:
            tail = log_tail_block(report.log_tail)
    text = "\n".join(lines + tail)
    if len(text.encode("utf-8", errors="replace")) > SUMMARY_MAX_BYTES:
        text = "\n".join(lines)[: SUMMARY_MAX_BYTES // 4]  # the status, link and failure stay
    return text


def log_tail_block(tail: Sequence[str]) -> list[str]:
    """The last log lines, collapsed; the fence outgrows any backtick run in the text."""
    tail = [line if len(line) <= TAIL_LINE_CHARS else line[:TAIL_LINE_CHARS] + "…" for line in tail]
    longest = max((len(run) for line in tail for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [
        "<details><summary>Last " + str(len(tail)) + " lines of the build log</summary>",
        "",
        fence + "text",
        *tail,
        fence,
        "",
        "</details>",
        "",
    ]


def invalid_summary(exc: InvalidInputs) -> str:
    rows = "\n".join(f"| `{p.name}` | {md(p.message)} |" for p in exc.problems)
    return f"### :x: Invalid inputs: nothing was sent\n\n| input | problem |\n|---|---|\n{rows}\n"
