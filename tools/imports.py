"""List kb's modules with their line counts and imports, and report import circles.

Run from the checkout: ``python tools/imports.py`` (``--edges`` prints every import too).
Every ``import`` counts, lazy ones inside functions included. For circles, imports under
``if TYPE_CHECKING:`` count too (two modules that name each other for type hints are
tangled all the same); for layering they do not, since they never run. It checks the
layering of ARCHITECTURE.md (which packages may import which, who may import typer and
rich, and what the CLI may not reach behind the backend seam).
Exits 1 when a circle or a layering breach exists.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "kb"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST, *, typing: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """The imports that run (with ``typing``, those under ``if TYPE_CHECKING:`` too)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if not typing and isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


# Layers, top to bottom: a module may import its own layer and those below it, never above.
LAYERS = (
    ("kb.cli", "kb.tui", "kb.render", "kb.emit", "kb.__main__"),
    ("kb.api",),
    # The backends behind the seam: kb.files (kb.store + kb.search) and kb.postgres.
    ("kb.files", "kb.postgres"),
    ("kb.doctor",),
    # kb.files.paired keeps the files backend's store and index in step.
    ("kb.entries", "kb.export", "kb.ingest", "kb.files.paired"),
    # kb.backend is the seam's protocol.
    ("kb.search", "kb.store", "kb.backend"),
    ("kb.parsers",),
    # kb/__init__.py imports nothing when it runs: its names load on first use.
    ("kb.models", "kb.errors", "kb.paths", "kb.config", "kb"),
)
# Third-party packages only some modules may import.
ONLY = {
    "typer": ("kb.cli",),
    "click": ("kb.cli",),
    "textual": ("kb.tui",),
    "rich": ("kb.cli", "kb.tui", "kb.render"),
    "psycopg": ("kb.postgres",),
}
# Packages of one layer that must not import each other.
APART = (("kb.search", "kb.store"), ("kb.postgres", "kb.store"))
# What stands behind the backend seam: the front's callers (the CLI, the TUI) reach it
# only through kb.api.KnowledgeBase. (kb.search's shared parts, the query parser and the
# result types, are not on this list.)
FRONT = ("kb.cli", "kb.tui")
BEHIND_SEAM = (
    "kb.files",
    "kb.postgres",
    "kb.store",
    "kb.doctor",
    "kb.ingest.pipeline",
    "kb.search.index",
)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(name: str) -> int:
    """Return the index in LAYERS of the most specific prefix naming module *name*."""
    best, depth = len(LAYERS), -1
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(name, prefix) and prefix.count(".") > depth:
                best, depth = rank, prefix.count(".")
    return best


def external_imports(path: Path) -> set[str]:
    """Return the top-level names of the non-kb packages a module imports when it runs."""
    found: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        found.update(n.split(".")[0] for n in names if n and n.split(".")[0] != PACKAGE)
    return found


def breaches(graph: dict[str, set[str]], paths: dict[str, Path]) -> list[str]:
    """Return one line per import that goes against LAYERS, ONLY or APART."""
    out = []
    for name in sorted(graph):
        for target in sorted(graph[name]):
            if layer_of(target) < layer_of(name):
                out.append(f"{name} imports {target}, a layer above it")
            if any(_within(name, f) for f in FRONT) and any(_within(target, b) for b in BEHIND_SEAM):
                out.append(f"{name} imports {target}, behind the backend seam (go through kb.api)")
            for a, b in APART:
                if (_within(name, a) and _within(target, b)) or (_within(name, b) and _within(target, a)):
                    out.append(f"{name} imports {target}: {a} and {b} stay apart")
        for package in sorted(external_imports(paths[name])):
            allowed = ONLY.get(package)
            if allowed is not None and not any(_within(name, p) for p in allowed):
                out.append(f"{name} imports {package}, which only {', '.join(allowed)} may")
    return out


def imports_of(name: str, path: Path, modules: set[str], *, typing: bool = False) -> set[str]:
    """Return the kb modules that module *name* imports when it runs (with ``typing``,
    or names for its type hints)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")), typing=typing):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from kb import render` imports the module kb.render; `from kb.x import f` imports kb.x.
            candidates = [f"{base}.{alias.name}" for alias in node.names]
        for candidate in candidates:
            # Importing kb.a.b runs kb.a first, but that is the package's own business: count
            # the deepest module named, not the parents it passes through.
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and candidate.split(".")[0] == PACKAGE:
                targets.add(candidate)
    return targets


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="print each module's kb imports")
    parser.add_argument("--max-lines", type=int, default=600, help="flag modules longer than this")
    args = parser.parse_args(argv)

    paths = {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}
    graph = {name: imports_of(name, path, set(paths)) for name, path in paths.items()}
    total = 0
    print(f"{'module':32} {'lines':>6}  imports")
    for name, path in paths.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        total += lines
        flag = "  *" if lines > args.max_lines else ""
        shown = ", ".join(sorted(graph[name])) if args.edges else str(len(graph[name]))
        print(f"{name:32} {lines:>6}  {shown}{flag}")
    # A circle through type hints is a circle still: the two modules know each other.
    found = circles({name: imports_of(name, path, set(paths), typing=True) for name, path in paths.items()})
    big = sum(1 for p in paths.values() if len(p.read_text(encoding="utf-8").splitlines()) > args.max_lines)
    print(f"\n{len(paths)} modules, {total} lines, {big} over {args.max_lines} lines (*), {len(found)} circles")
    for component in found:
        print("circle: " + " <-> ".join(component))
    wrong = breaches(graph, paths)
    for line in wrong:
        print("layering: " + line)
    print(f"{len(wrong)} layering breaches")
    return 1 if found or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
