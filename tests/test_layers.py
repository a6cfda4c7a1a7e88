"""The layers and their one direction of imports, and what start-up must not load.

api (Northflank: HTTP, retries, decoding, routes, bodies, models, rate limits, the log tail)
< inputs (raw strings to a typed config) < engine (one run, as values) < the edges (the
GitHub runner edge, the CLI, the post step, the entry point). A module may import its own
layer and the ones below, never one above: docs/architecture.md draws it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "northflank_build"
LAYERS = {"api": 0, "inputs": 1, "engine": 2}
EDGE = 3  # github/, cli, post, __main__, _early


def layer_of(module: str) -> int | None:
    """The layer of a dotted module inside the package, or None for anything else."""
    parts = module.split(".")
    if parts[0] != "northflank_build":
        return None
    if len(parts) == 1:
        return 0  # the package itself holds only __version__
    return LAYERS.get(parts[1], EDGE)


def wrong_way_imports(module: str, source: str) -> list[str]:
    """Imports in ``source`` (the text of ``module``) that reach a higher layer."""
    own = layer_of(module)
    assert own is not None
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from northflank_build.github import commands": a submodule is what is imported.
            subs = [f"{node.module}.{a.name}" for a in node.names]
            names = [n for n in subs if _is_module(n)] or [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level:
            names = ["<relative>"]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name == "<relative>":
                found.append(f"{module}:{node.lineno}: relative import (write it absolute)")
                continue
            target = layer_of(name)
            # "from northflank_build.github import commands": the submodule decides.
            if target is not None and target > own and not _is_package_of(name, module):
                found.append(f"{module}:{node.lineno}: imports {name}")
    return sorted(set(found))


def _is_package_of(name: str, module: str) -> bool:
    return module.startswith(name + ".")


def _is_module(dotted: str) -> bool:
    if not dotted.startswith("northflank_build."):
        return False
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


def test_no_module_imports_a_higher_layer() -> None:
    problems = [p for name, path in modules() for p in wrong_way_imports(name, path.read_text())]
    assert problems == []


def test_the_check_catches_a_wrong_way_import() -> None:
    # What the test above would say if the API layer learnt of the engine or of GitHub.
    source = "from northflank_build.engine.run import run_step\nimport northflank_build.github\n"
    assert len(wrong_way_imports("northflank_build.api.client", source)) == 2
    assert wrong_way_imports("northflank_build.inputs.config", "from . import x\n")
    assert (
        wrong_way_imports("northflank_build.engine.run", "from northflank_build.api import wire\n")
        == []
    )


def test_every_module_is_in_a_known_layer() -> None:
    names = {name for name, _ in modules()}
    assert {"northflank_build.api.client", "northflank_build.inputs.config"} <= names
    assert {"northflank_build.engine.run", "northflank_build.github.events"} <= names


# -- what start-up loads ---------------------------------------------------------------

HEAVY = ("pydantic", "yaml", "websockets")


def loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        # The action's entry point with a valid set of inputs parsed: what runs before the
        # first request goes out.
        "import northflank_build.__main__\n"
        "from pathlib import Path\n"
        "from northflank_build.inputs.config import parse_inputs\n"
        "values = {'api-token': 't', 'project-id': 'p', 'job-id': 'j', 'sha': 'a' * 40}\n"
        "parse_inputs(values.get, {}, Path('.'), lambda _s: None)\n",
        # The CLI as far as --help.
        "from northflank_build import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n",
        # The post step's module.
        "import northflank_build.post\n",
    ],
    ids=["action after parsing inputs", "cli --help", "post step"],
)
def test_start_up_loads_no_pydantic_yaml_or_websockets(code: str) -> None:
    loaded = loaded_after(code)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], "loaded only after the first response, with a spec, or with logs"
