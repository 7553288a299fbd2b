"""The fast tier (`pytest -m "not slow"`) is the suite minus the tests tests/tiers.py names.

A name there that no longer names a test would quietly put a slow test back into the
fast tier (or keep a deleted one listed), so every name is checked against the files.
"""

from __future__ import annotations

import ast
import functools

import pytest

from tests.conftest import ROOT
from tests.tiers import SLOW


@functools.cache
def _test_functions(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    }


@pytest.mark.parametrize("path", sorted(SLOW))
def test_every_slow_name_names_a_test(path: str) -> None:
    assert (ROOT / path).is_file(), f"{path} is gone: drop it from tests/tiers.py"
    missing = SLOW[path] - _test_functions(path)
    assert not missing, f"{path} has no test {sorted(missing)}: rename or drop it in tests/tiers.py"


def test_every_test_file_keeps_a_fast_test_or_is_listed_whole() -> None:
    # A file whose every test is slow leaves its module to the full suite alone: say so here.
    whole = {
        "tests/cli/test_add_prompts.py",  # a real terminal per test; tests/cli/test_write.py adds in-process
        "tests/cli/test_ask.py",  # kb ask runs a real process per test; tests/cli/test_numbers.py asks in-process
        "tests/cli/test_completion.py",  # bash itself; tests/cli/test_write.py calls the completions in-process
        "tests/cli/test_interactive.py",  # a real terminal or a real process per test; test_write adds in-process
        "tests/cli/test_pager.py",  # a real terminal
        "tests/cli/test_pipes.py",  # a real shell pipeline per case
        "tests/parsers/test_ids_by_question.py",  # one test: a corpus re-ingested with a record inserted
        "tests/postgres/test_pg_replica.py",  # a streaming replica per test
        "tests/store/test_concurrency.py",  # real processes racing
        "tests/store/test_crash.py",  # processes killed mid-ingest
        "tests/store/test_readonly.py",  # a read-only copy per test; tests/cli covers reading
        "tests/store/test_upgrade.py",  # a store of the old layout converted whole
    }
    all_slow = sorted(path for path in SLOW if SLOW[path] >= _test_functions(path) and path not in whole)
    assert not all_slow, f"every test of {all_slow} is slow: keep a cheap one fast, or list the file here"
