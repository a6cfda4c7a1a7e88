"""The job summary in GitHub Markdown: every piece of Markdown the action writes is here.

Text from Northflank is escaped (``md``), put in code spans (``code``) or percent-encoded
where it becomes a link target (``url``); nothing from it can add a link, an image or HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from northflank_build.engine.kind import OperationReport
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.outputs import outputs
from northflank_build.engine.report import (
    BuildReport,
    StepReport,
    duration_seconds,
    elapsed_label,
)
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import ACTION, Worded, describe

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
# What GitHub would make a link of: a scheme's URL, a www. name, an e-mail address, an
# @mention, an #123 or GH-123 reference (whole whitespace-free tokens, so no part of one is
# left outside the code span).
_AUTOLINKED = re.compile(
    r"(\S*(?:[A-Za-z][A-Za-z0-9+.-]*:/|www\.|@|#\d|\bGH-\d)\S*)", re.IGNORECASE
)
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
    """Untrusted text as inert Markdown on one line (no links, HTML or table breaks).

    GitHub turns bare ``https://…``, ``www.…`` and e-mail addresses into links (GFM's
    autolink extension: https://github.github.com/gfm/#autolinks-extension-), escaped or
    not, and may link @mentions and issue references; such a token goes in a code span,
    where nothing is a link.
    """
    if not text:
        return ""
    parts = _AUTOLINKED.split(" ".join(text.split()))
    # split() with one group: odd places hold what would be linked.
    return "".join(
        code(part) if i % 2 else _MD_SPECIAL.sub(r"\\\1", part) for i, part in enumerate(parts)
    )


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


def summary(step: StepReport, *, server_url: str = "", repository: str = "") -> str:
    """The job summary in GitHub Markdown; holds ids and statuses, never a secret. One
    build gets a table of its own; several get a row each, then each failure."""
    lines = [f"### {_headline(step)}", ""]
    if step.service_created is not None:
        how = (
            "created"
            if step.service_created
            else "already existed; used as it is or updated (if-exists)"
        )
        lines += [f"Build service {code(step.service_id)}: {how}.", ""]
    single = step.single_build
    if single is not None or not step.builds:
        body, tail = _single(step, single, server_url, repository)
        lines += body
    else:
        lines += _several(step)
        tail = []
    text = "\n".join(lines + tail)
    if len(text.encode("utf-8", errors="replace")) > SUMMARY_MAX_BYTES:
        text = "\n".join(lines)[: SUMMARY_MAX_BYTES // 4]  # the status, link and failure stay
    return text


def _single(
    step: StepReport, single: BuildReport | None, server_url: str, repository: str
) -> tuple[list[str], list[str]]:
    """One build (or none): its table, the deploys and operations, each failure; and the
    log tail of whichever failed with its log shown."""
    lines: list[str] = []
    if single is not None:
        lines += _one_build(single, outputs(step), server_url, repository)
    lines += _shipped(step, server_url, repository)
    tail: list[str] = []
    tails = [(single.failure, single.log_tail, "build")] if single is not None else []
    tails += [(op.failure, op.log_tail, op.kind.noun) for op in step.operations]
    for failure in step.failures:
        lines += _failure(describe(failure, ACTION))
        for failed, log_tail, noun in tails:
            if log_tail and failure is failed:
                tail = log_tail_block(log_tail, noun)
    return lines, tail


def _several(step: StepReport) -> list[str]:
    """A row per build, then each failure with its log tail."""
    lines = _builds_table(step)
    if step.failure is not None:
        lines += _failure(describe(step.failure, ACTION))
    for build in step.builds:
        if build.failure is None:
            continue
        lines += [f"#### {md(build.target.label if build.target else '')}", ""]
        lines += _failure(describe(build.failure, ACTION))
        if build.log_tail:
            lines += log_tail_block(build.log_tail)
    return lines


_ENDED = {
    Outcome.FAILED: (":x:", "failed"),
    Outcome.ERROR: (":x:", "could not be completed"),
    Outcome.TIMED_OUT: (":hourglass:", "timed out"),
    Outcome.CANCELLED: (":no_entry_sign:", "was cancelled"),
}


def _headline(step: StepReport) -> str:
    """The outcome's headline; for a step that deploys or runs a job, naming what it did,
    and, when the builds succeeded, which later part did not."""
    shown = (Outcome.SUCCEEDED, *_ENDED)
    if not (step.deployments or step.operations) or step.outcome not in shown:
        return HEADLINES[step.outcome]
    if step.outcome is Outcome.SUCCEEDED:
        return f":white_check_mark: Northflank {_what(step)} succeeded"
    if any(b.outcome is not Outcome.SUCCEEDED for b in step.builds):
        return HEADLINES[step.outcome]
    emoji, ended = _ENDED[step.outcome]
    deploy_ok = all(d.outcome is Outcome.SUCCEEDED for d in step.deployments)
    failing = next((op for op in step.operations if op.outcome is not Outcome.SUCCEEDED), None)
    part = failing.kind.did(failing) if deploy_ok and failing is not None else "deploy"
    built = "Northflank build succeeded; " if step.builds else "Northflank "
    return f"{emoji} {built}{part} {ended}"


def _what(step: StepReport) -> str:
    """What the step did: "build, deploy and job run"."""
    parts = ["build"] if step.builds else []
    parts += ["deploy"] if step.deployments else []
    parts += [op.kind.did(op) for op in step.operations]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _shipped(step: StepReport, server_url: str, repository: str) -> list[str]:
    """A row per deployment service, and a table per other operation (the job run)."""
    lines: list[str] = []
    if step.deployments:
        lines += ["| Deployment service | Rollout | Deployed commit |", "|---|---|---|"]
        for d in step.deployments:
            status = d.status or d.outcome.value
            commit = _commit(d.deployed_sha, server_url, repository)
            lines.append(f"| {md(d.service_id)} | {code(status)} | {commit} |")
        lines.append("")
    for op in step.operations:
        lines += _operation(op)
    return lines


def _operation(op: OperationReport) -> list[str]:
    status = op.status or op.outcome.value
    note = "skipped" if op.skipped else ""
    note = note or ("" if op.aborted is None else ("aborted" if op.aborted else "abort failed"))
    what = f"[{code(op.id)}]({url(op.url)})" if op.id and op.url else code(op.id)
    lines = [
        f"| {md(op.kind.title)} | Status | Duration | Note |",
        "|---|---|---|---|",
        f"| {md(op.kind.short(op.owner))} {what} | {code(status)} | {_seconds(op.duration_s)} "
        f"| {note} |",
        "",
    ]
    for what, value in op.kind.facts(op):
        shown = f"[{md(value)}]({url(value)})" if value.startswith("https://") else md(value)
        lines += [f"{md(what)}: {shown}", ""]
    if op.parts:
        lines += ["| Node | Status | Duration | Error |", "|---|---|---|---|"]
        for part in op.parts:
            named = f"{md(part.kind)} {code(part.ref or part.name)}"
            lines.append(
                f"| {named} | {code(part.status or 'not reached')} | "
                f"{_seconds(part.duration_s)} | {md(part.error)} |"
            )
        lines.append("")
    return lines


def _seconds(value: float | None) -> str:
    return f"{round(value)} s" if value is not None else ""


def _failure(worded: Worded) -> list[str]:
    lines = [f"**{md(worded.title)}**: {md(worded.message)}", ""]
    if worded.fix:
        lines += [f"Fix: {md(worded.fix)}", ""]
    return lines


def _commit(sha: str, server_url: str, repository: str) -> str:
    if sha and server_url and repository and re.fullmatch(r"[0-9a-f]{40}", sha):
        return f"[`{sha[:12]}`]({url(f'{server_url}/{repository}/commit/{sha}')})"
    return md(sha[:12])


def _build_link(report: BuildReport) -> str:
    build_id = report.build.id if report.build else ""
    return f"[{md(build_id)}]({url(report.build_url)})" if report.build_url else md(build_id)


def _one_build(
    report: BuildReport, values: dict[str, str], server_url: str, repository: str
) -> list[str]:
    build = report.build
    lines: list[str] = []
    if build is not None and report.target is not None:
        rows = [
            ("Status", code(build.status)),
            ("Build", _build_link(report)),
            (
                report.target.kind.capitalize(),
                f"{md(report.target.id)} in project {md(report.project_id)}",
            ),
            ("Commit", _commit(build.sha or "", server_url, repository)),
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
        if report.reused:
            rows.append(("Reused", "yes: this step did not start this build (never aborted)"))
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
    return lines


def _builds_table(step: StepReport) -> list[str]:
    lines = ["| Target | Status | Build | Image | Duration | Note |", "|---|---|---|---|---|---|"]
    for report in step.builds:
        build = report.build
        target = report.target
        duration = duration_seconds(build, report.waited_s)
        notes = []
        if report.reused:
            notes.append("reused")
        if report.aborted is not None:
            notes.append("aborted" if report.aborted else "abort failed")
        status = build.status if build and build.status else report.outcome.value
        lines.append(
            f"| {md(target.label) if target else ''} | {code(status)} | {_build_link(report)} "
            f"| {code(build.registry_uri) if build else ''} "
            f"| {f'{duration} s' if duration else ''} | {', '.join(notes)} |"
        )
    return [*lines, ""]


def log_tail_block(tail: Sequence[str], of: str = "build") -> list[str]:
    """The last log lines, collapsed; the fence outgrows any backtick run in the text."""
    tail = [line if len(line) <= TAIL_LINE_CHARS else line[:TAIL_LINE_CHARS] + "…" for line in tail]
    longest = max((len(run) for line in tail for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [
        f"<details><summary>Last {len(tail)} lines of the {of} log</summary>",
        "",
        fence + "text",
        *tail,
        fence,
        "",
        "</details>",
        "",
    ]


def invalid_summary(exc: InvalidInputs) -> str:
    rows = "\n".join(f"| `{p.name}` | {md(ACTION.problem(p))} |" for p in exc.problems)
    return f"### :x: Invalid inputs: nothing was sent\n\n| input | problem |\n|---|---|\n{rows}\n"
