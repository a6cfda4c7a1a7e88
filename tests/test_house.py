"""The house rules of issue 19, checked on the package: no module over 400 lines, no
function over 60, none with a cyclomatic complexity over 15 (radon's measure), and no import
cycle, counting imports made only for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

from radon.complexity import cc_visit

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "northflank_build"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 15


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def test_no_module_is_over_400_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in modules().items()}
    assert {n: c for n, c in long.items() if c > MAX_MODULE_LINES} == {}


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name}"] = lines
    assert long == {}


def test_no_function_is_more_complex_than_15() -> None:
    complex_ = {}
    for name, path in modules().items():
        for block in cc_visit(path.read_text()):
            if block.complexity > MAX_COMPLEXITY:
                complex_[f"{name}.{block.fullname}"] = block.complexity
    assert complex_ == {}


def imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports, anywhere in it (TYPE_CHECKING and function
    bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycle() -> None:
    found = modules()
    known = set(found)
    # A package's __init__ is imported on the way to its modules: not an edge of its own.
    graph = {
        n: {m for m in imports(p, known) if not n.startswith(m + ".")} for n, p in found.items()
    }
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_test_asserts_two_things_at_once() -> None:
    # ``assert a and b`` cannot say which part failed: one assert each (issue 19, item 5).
    compound = []
    for path in sorted(PACKAGE.parent.parent.joinpath("tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Assert):
                continue
            if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And):
                compound.append(f"{path.name}:{node.lineno}")
    assert compound == []


def test_the_package_has_no_fmt_skip() -> None:
    # Issue 19, item 4: every call is formatted by ruff, none by hand.
    skipped = [
        f"{name}:{n}"
        for name, path in modules().items()
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if "fmt: skip" in line
    ]
    assert skipped == []
