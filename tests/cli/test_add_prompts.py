"""`kb add`'s prompts on a real terminal (pexpect): answers of several lines and paragraphs,
Ctrl-C as a real SIGINT, and a category typed in another case than the stored one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.conftest import ROOT, make_entry

pexpect = pytest.importorskip("pexpect")

TIMEOUT = 30


def spawn(*args: str):
    env = dict(os.environ, NO_COLOR="1", TERM="dumb", COLUMNS="100")
    return pexpect.spawn(sys.executable, ["-m", "kb", *args], env=env, cwd=str(ROOT), timeout=TIMEOUT, encoding="utf-8")


def finish(child) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    rest = child.before
    child.close()
    return child.exitstatus, rest


def test_add_prompt_takes_an_answer_of_several_paragraphs(kb_db: Path) -> None:
    child = spawn("add")
    child.expect_exact("Question (end with Ctrl-D or two empty lines):")
    child.sendline("How do I keep roses healthy")
    child.sendline("in a hot summer?")
    child.sendeof()
    child.expect_exact("Answer (end with Ctrl-D or two empty lines):")
    for line in ("Water deeply once a week.", "", "Mulch keeps the roots cool.", "", ""):
        child.sendline(line)
    child.expect_exact("Title (optional): ")
    child.sendline("Summer roses")
    child.expect_exact("Category (optional): ")
    child.sendline("")
    status, _ = finish(child)
    assert status == 0
    entry = KnowledgeBase.open(kb_db).get(1)
    assert entry.question == "How do I keep roses healthy\nin a hot summer?"
    assert entry.answer == "Water deeply once a week.\n\nMulch keeps the roots cool."
    assert entry.title == "Summer roses"


QUESTION = "Question (end with Ctrl-D or two empty lines):"
ANSWER = "Answer (end with Ctrl-D or two empty lines):"


@pytest.mark.parametrize("where", [QUESTION, ANSWER, "Category (optional): "])
def test_add_ctrl_c_exits_130_with_one_clean_line(kb_db: Path, where: str) -> None:
    child = spawn("add")
    answers = iter([["Q?", "", ""], ["A.", "", ""], [""]])
    for prompt in (QUESTION, ANSWER, "Title (optional): ", "Category (optional): "):
        child.expect_exact(prompt)
        if prompt == where:
            break
        for line in next(answers):
            child.sendline(line)
    child.sendintr()  # a real SIGINT, from the terminal
    status, rest = finish(child)
    assert status == 130
    said = [line.strip() for line in rest.replace("^C", "").splitlines() if line.strip()]
    assert said == ["interrupted: nothing was added"], said
    assert not kb_db.exists() or not list(KnowledgeBase.open(kb_db).iter_entries())


def test_add_prompted_category_folds_to_the_stored_spelling(kb_db: Path) -> None:
    KnowledgeBase.open(kb_db).add(make_entry(1, category="GARD"))
    child = spawn("add", "--title", "T")
    child.expect_exact("Question (")
    child.sendline("Folded?")
    child.sendeof()
    child.expect_exact("Answer (")
    child.sendline("Yes.")
    child.sendeof()
    child.expect_exact("Category (optional): ")
    child.sendline("gard")
    child.expect_exact("using the existing category 'GARD'")
    status, _ = finish(child)
    assert status == 0
    assert [e.category for e in KnowledgeBase.open(kb_db).iter_entries()] == ["GARD", "GARD"]


def test_add_category_option_folds_to_the_stored_spelling(kb_db: Path, cli) -> None:
    KnowledgeBase.open(kb_db).add(make_entry(1, category="GARD"))
    result = cli("add", "-Q", "Another GARD question?", "-a", "Yes.", "-c", "gard", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"category": "GARD"' in result.stdout
    assert "using the existing category 'GARD'" in result.stderr
    same = cli("add", "-Q", "A third one?", "-a", "Yes.", "-c", "GARD")
    assert same.exit_code == 0 and "existing category" not in same.stderr
    fresh = cli("add", "-Q", "A new category?", "-a", "Yes.", "-c", "Gardening")
    assert fresh.exit_code == 0 and "existing category" not in fresh.stderr
    categories = dict(KnowledgeBase.open(kb_db).categories())
    assert categories == {"GARD": 3, "Gardening": 1}
