"""Compose the container's environment, run the entrypoint, and read what it left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from testdata import SHA

from .commands import Annotation, CommandProcessor
from .filecommands import FileCommandError, parse_file_command

SIGINT_GRACE_S = 7.5
SIGTERM_GRACE_S = 2.5
INTERPOLATED = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepResult:
    exit_code: int | None
    conclusion: str
    outputs: dict[str, str]
    state: dict[str, str]
    env_updates: dict[str, str]
    summary: str
    annotations: list[Annotation]
    log: list[str]
    secrets: list[str]
    legacy_commands: list[str]
    file_command_errors: list[str]
    commands: list[tuple[str, str]] = field(default_factory=list)
    signals_sent: list[tuple[str, float]] = field(default_factory=list)
    duration_s: float = 0.0
    raw_stdout: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.log)

    def errors(self) -> list[Annotation]:
        return [a for a in self.annotations if a.kind == "error"]


def load_action(action_dir: Path) -> dict[str, Any]:
    # Every scalar in our action.yml is a quoted string, so YAML 1.1 vs 1.2 does not matter.
    return yaml.safe_load((action_dir / "action.yml").read_text())  # type: ignore[no-any-return]


def evaluate_default(expression: str, github: Mapping[str, Any]) -> str:
    """Literal defaults, and what action.yml's defaults use of GitHub's expression language
    over the github context: ``||`` and ``&&`` (which return an operand, as GitHub's do),
    context paths, string literals and ``format('...{0}', a)``."""
    context = {"github": github}

    def value(found: re.Match[str]) -> str:
        got = _either(found.group(1), context)
        return "" if got is None or got is False else str(got)

    # Each ${{ ... }} in the string, as GitHub interpolates them ("${{ a }} / ${{ b }}").
    return INTERPOLATED.sub(value, expression.strip())


def _split(text: str, operator: str) -> list[str]:
    """``text`` split at ``operator`` outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(operator, i):
            parts.append(text[start:i])
            start = i = i + len(operator)
            continue
        i += 1
    return [*parts, text[start:]]


def _either(text: str, context: dict[str, Any]) -> Any:
    value: Any = None
    for operand in _split(text, "||"):
        value = _both(operand, context)
        if value:
            return value
    return value


def _both(text: str, context: dict[str, Any]) -> Any:
    value: Any = None
    for term in _split(text, "&&"):
        value = _term(term.strip(), context)
        if not value:
            return value
    return value


def _term(term: str, context: dict[str, Any]) -> Any:
    if term.startswith("'") and term.endswith("'"):
        return term[1:-1].replace("''", "'")
    if term.startswith("format(") and term.endswith(")"):
        args = [_either(a.strip(), context) for a in _split(term[len("format(") : -1], ",")]
        template = str(args[0] or "")
        for n, arg in enumerate(args[1:]):
            template = template.replace("{" + str(n) + "}", "" if arg is None else str(arg))
        return template
    node: Any = context
    for part in term.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def image_entrypoint(action_dir: Path) -> list[str]:
    for line in reversed((action_dir / "Dockerfile").read_text().splitlines()):
        if line.startswith("ENTRYPOINT"):
            return list(json.loads(line[len("ENTRYPOINT") :].strip()))
    raise ValueError("Dockerfile has no exec-form ENTRYPOINT")


def _program(argv: list[str]) -> list[str]:
    """Map the image's programs onto this host: python -> this interpreter, scripts -> its bin."""
    first = argv[0]
    if first in ("python", "python3") or first.startswith("/usr/local/bin/python"):
        return [sys.executable, *argv[1:]]
    if first.startswith("/usr/local/bin/"):
        return [str(Path(sys.executable).parent / Path(first).name), *argv[1:]]
    return argv


def _handles(pid: int, signum: int) -> bool:
    """PID 1 in a container ignores a signal it installed no handler for."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    except OSError:
        return False
    return False


@dataclass
class Prepared:
    """The step's environment as the runner composes it, and its file-command files."""

    env: dict[str, str]
    paths: dict[str, Path]
    root: Path
    workspace: Path
    argv: list[str]
    processor: CommandProcessor


def prepare(
    action_dir: Path,
    with_: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    stage: str = "main",
    state: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    event: Mapping[str, Any] | None = None,
    github: Mapping[str, Any] | None = None,
    debug: bool = False,
    echo: bool = False,
) -> Prepared:
    manifest = load_action(action_dir)
    root = Path(tempfile.mkdtemp(prefix="runneremu-"))
    ws = workspace or root / "workspace"
    ws.mkdir(parents=True, exist_ok=True)
    files = root / "_runner_file_commands"
    files.mkdir()
    home = root / "_github_home"
    home.mkdir()
    event_path = root / "event.json"
    event_path.write_text(json.dumps(event or {}))
    paths = {
        name: files / f"{name}_{uuid.uuid4()}"
        for name in ("add_path", "set_env", "step_summary", "save_state", "set_output")
    }
    for path in paths.values():
        path.touch()

    context: dict[str, Any] = {
        "repository": "octo-org/octo-repo",
        "server_url": "https://github.com",
        "api_url": "https://api.github.com",
        "sha": SHA,
        "ref": "refs/heads/main",
        "ref_name": "main",
        "event_name": "push",
        "run_id": "1",
        "run_number": "1",
        "run_attempt": "1",
        "actor": "octocat",
        "workflow": "ci",
        "job": "build",
        "action": "build",
    }
    context.update(github or {})
    context["event"] = dict(event or {})

    inputs: dict[str, str] = {}
    declared = manifest.get("inputs") or {}
    given = {k.lower(): v for k, v in with_.items()}
    for name, spec in declared.items():
        if name.lower() in given:
            inputs[name] = str(given.pop(name.lower()))
        else:
            inputs[name] = evaluate_default(str((spec or {}).get("default", "")), context)
    inputs.update(given)  # undeclared inputs are still exported (with a warning on the runner)

    composed: dict[str, str] = {}
    composed.update(env or {})
    for key, value in (state or {}).items():
        composed[f"STATE_{key}"] = value
    for key, value in inputs.items():
        composed["INPUT_" + key.replace(" ", "_").upper()] = value
    composed["HOME"] = str(home)
    for key, value in context.items():
        if key != "event":
            composed[f"GITHUB_{key.upper()}"] = str(value)
    composed.update(
        {
            "GITHUB_WORKSPACE": str(ws),
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_OUTPUT": str(paths["set_output"]),
            "GITHUB_ENV": str(paths["set_env"]),
            "GITHUB_PATH": str(paths["add_path"]),
            "GITHUB_STATE": str(paths["save_state"]),
            "GITHUB_STEP_SUMMARY": str(paths["step_summary"]),
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(root),
            "GITHUB_ACTIONS": "true",
            "CI": "true",
        }
    )
    if debug:
        composed["RUNNER_DEBUG"] = "1"
    # What the image's ENV gives (Dockerfile): PATH and unbuffered output.
    composed.setdefault("PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    composed.setdefault("PYTHONUNBUFFERED", "1")

    runs = manifest["runs"]
    if stage == "main":
        argv = image_entrypoint(action_dir) if "entrypoint" not in runs else [runs["entrypoint"]]
    else:
        argv = [runs[f"{stage}-entrypoint"]]
    processor = CommandProcessor(debug_enabled=debug, echo=echo)
    return Prepared(composed, paths, root, ws, argv, processor)


def collect(
    prepared: Prepared,
    *,
    exit_code: int | None,
    raw: list[str],
    signals_sent: list[tuple[str, float]],
    killed: bool,
    duration: float,
) -> StepResult:
    """What the runner reads back after the step: file commands, summary, conclusion."""
    paths, processor = prepared.paths, prepared.processor
    errors: list[str] = []

    def read(name: str) -> dict[str, str]:
        try:
            records = parse_file_command(paths[name].read_text(encoding="utf-8", errors="replace"))
        except FileCommandError as exc:
            errors.append(f"Unable to process file command '{name}' successfully. {exc}")
            return {}
        if name == "set_output" and any(not k for k, _ in records):
            errors.append(
                "Unable to process file command 'set_output' successfully. Value cannot be null. (Parameter 'name')"
            )
        result: dict[str, str] = {}
        for key, value in records:
            result[key.lower() if name == "set_output" else key] = value
        return result

    env_updates = read("set_env")
    summary = processor.mask(paths["step_summary"].read_text(encoding="utf-8", errors="replace"))
    state_out = {**processor.live_state, **read("save_state")}
    outputs = {**processor.live_outputs, **read("set_output")}
    if killed or signals_sent:
        conclusion = "cancelled"
    elif exit_code != 0 or errors or processor.failed:
        conclusion = "failure"
    else:
        conclusion = "success"
    return StepResult(
        exit_code=None if killed else exit_code,
        conclusion=conclusion,
        outputs=outputs,
        state=state_out,
        env_updates=env_updates,
        summary=summary,
        annotations=processor.annotations,
        log=processor.log,
        secrets=processor.secrets,
        legacy_commands=processor.legacy_commands,
        file_command_errors=errors + processor.failed,
        commands=processor.commands,
        signals_sent=signals_sent,
        duration_s=duration,
        raw_stdout="\n".join(raw),
    )


def run_action(
    action_dir: Path,
    with_: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    stage: str = "main",
    state: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    event: Mapping[str, Any] | None = None,
    github: Mapping[str, Any] | None = None,
    cancel_after: float | None = None,
    debug: bool = False,
    timeout: float = 120.0,
    echo: bool = False,
    cancel_at_start: bool = False,
) -> StepResult:
    """``cancel_at_start``: SIGINT is sent the moment the process exists, held back (blocked)
    until the process unblocks it, so it lands in the action's start-up whatever the
    machine's speed; without handling it would never arrive (PID 1 semantics aside)."""
    prepared = prepare(
        action_dir, with_, env=env, stage=stage, state=state, workspace=workspace,
        event=event, github=github, debug=debug, echo=echo,
    )  # fmt: skip
    processor = prepared.processor
    started = time.monotonic()
    # The child inherits this thread's signal mask: held back here, SIGINT stays pending
    # in the child until it unblocks it.
    held = {signal.SIGINT} if cancel_at_start else set()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        proc = subprocess.Popen(
            _program(prepared.argv),
            cwd=prepared.workspace,
            env=prepared.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    signals_sent: list[tuple[str, float]] = []
    if cancel_at_start:
        proc.send_signal(signal.SIGINT)
        signals_sent.append(("SIGINT", time.monotonic() - started))
    raw: list[str] = []

    def pump(stream: Any) -> None:
        for chunk in iter(stream.readline, b""):
            text = chunk.decode("utf-8", errors="replace")
            for line in (
                re.split(r"\r\n|\n|\r", text.rstrip("\r\n")) if text.strip("\r\n") else [""]
            ):
                raw.append(line)
                processor.feed(line)

    readers = [
        threading.Thread(target=pump, args=(s,), daemon=True) for s in (proc.stdout, proc.stderr)
    ]
    for reader in readers:
        reader.start()
    killed = False
    exit_code: int | None = None
    deadline = started + (cancel_after if cancel_after is not None else timeout)
    try:
        exit_code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        for signum, grace in ((signal.SIGINT, SIGINT_GRACE_S), (signal.SIGTERM, SIGTERM_GRACE_S)):
            if _handles(proc.pid, signum):
                proc.send_signal(signum)
            signals_sent.append((signum.name, time.monotonic() - started))
            try:
                exit_code = proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            killed = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for reader in readers:
        reader.join(timeout=2)
    return collect(
        prepared,
        exit_code=exit_code,
        raw=raw,
        signals_sent=signals_sent,
        killed=killed,
        duration=time.monotonic() - started,
    )
