"""The house rules of ARCHITECTURE.md, checked by tools/imports.py over the real source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_circles_and_no_layering_breaches() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "imports.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout
    assert "0 circles" in done.stdout and "0 layering breaches" in done.stdout


def test_the_checker_sees_a_breach() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import imports
    finally:
        sys.path.pop(0)
    assert imports.layer_of("kb.search.ranking") > imports.layer_of("kb.api") > imports.layer_of("kb.cli.app")
    graph = {"kb.store.base": {"kb.api", "kb.search.index"}, "kb.api": set(), "kb.search.index": set()}
    paths = {name: ROOT / "kb" / "errors.py" for name in graph}
    found = imports.breaches(graph, paths)
    assert "kb.store.base imports kb.api, a layer above it" in found
    assert "kb.store.base imports kb.search.index: kb.search and kb.store stay apart" in found
    assert imports.circles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    reaching = {
        "kb.cli.complete": {"kb.search.index", "kb.search.query"},
        "kb.search.index": set(),
        "kb.search.query": set(),
    }
    found = imports.breaches(reaching, {name: ROOT / "kb" / "errors.py" for name in reaching})
    assert found == ["kb.cli.complete imports kb.search.index, behind the backend seam (go through kb.api)"]


def test_the_checker_counts_type_hint_imports_in_circles(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import imports
    finally:
        sys.path.pop(0)
    (tmp_path / "kb").mkdir()
    a = tmp_path / "kb" / "a.py"
    a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kb.b import B\n")
    b = tmp_path / "kb" / "b.py"
    b.write_text("def f():\n    from kb.a import A\n")
    modules = {"kb.a", "kb.b"}
    assert imports.imports_of("kb.a", a, modules) == set()
    assert imports.imports_of("kb.a", a, modules, typing=True) == {"kb.b"}
    graph = {name: imports.imports_of(name, p, modules, typing=True) for name, p in (("kb.a", a), ("kb.b", b))}
    assert imports.circles(graph) == [["kb.a", "kb.b"]]
