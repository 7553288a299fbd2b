"""The real `kb` in a real terminal (pexpect): prompts, confirmations, reopening the editor.

And the other side: without a terminal nothing waits for an answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.conftest import ROOT, make_entry

pexpect = pytest.importorskip("pexpect")

TIMEOUT = 30


def spawn(*args: str, env: dict[str, str] | None = None):
    """Start `python -m kb ARGS` on a pseudo-terminal, with the test's KB_DB."""
    full_env = dict(os.environ, NO_COLOR="1", TERM="dumb", COLUMNS="100")
    full_env.update(env or {})
    return pexpect.spawn(
        sys.executable, ["-m", "kb", *args], env=full_env, cwd=str(ROOT), timeout=TIMEOUT, encoding="utf-8"
    )


def finish(child) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_add_prompts_for_what_is_missing(kb_db: Path) -> None:
    child = spawn("add", "--tag", "roses")
    child.expect_exact("Question (end with Ctrl-D or two empty lines):")
    child.sendeof()  # empty: asked again
    child.expect_exact("Question (end with Ctrl-D or two empty lines):")
    child.sendline("How deep should I plant roses?")
    child.sendeof()
    child.expect_exact("Answer (end with Ctrl-D or two empty lines):")
    child.sendline("About 5 cm below the graft.")
    child.sendeof()
    child.expect_exact("Title (optional): ")
    child.sendline("")
    child.expect_exact("Category (optional): ")
    child.sendline("Gardening")
    child.expect_exact("1")
    assert finish(child) == 0
    entry = KnowledgeBase.open(kb_db).get(1)
    assert (entry.question, entry.answer, entry.title, entry.category, entry.tags) == (
        "How deep should I plant roses?",
        "About 5 cm below the graft.",
        "",
        "Gardening",
        ["roses"],
    )


def test_add_asks_only_for_missing_fields(kb_db: Path) -> None:
    child = spawn("add", "-Q", "Given?", "--title", "T", "--category", "C")
    child.expect_exact("Answer (end with Ctrl-D or two empty lines):")
    child.sendline("Prompted.")
    child.sendeof()
    assert finish(child) == 0
    assert KnowledgeBase.open(kb_db).get(1).answer == "Prompted."


def test_add_with_question_and_answer_does_not_prompt(kb_db: Path) -> None:
    child = spawn("add", "-Q", "Complete?", "-a", "Yes.")
    child.expect_exact("1")
    assert finish(child) == 0
    assert "optional" not in child.before
    assert KnowledgeBase.open(kb_db).get(1).title == ""


def test_add_no_input_on_a_tty_names_missing_fields(kb_db: Path) -> None:
    child = spawn("add", "--no-input", "-Q", "Only a question?")
    child.expect_exact("missing answer")
    assert finish(child) == 2
    assert not kb_db.exists()


def _seed(kb_db: Path) -> None:
    KnowledgeBase.open(kb_db).add_many([make_entry(1), make_entry(2)])


def test_remove_asks_and_removes_on_yes(kb_db: Path) -> None:
    _seed(kb_db)
    child = spawn("remove", "1", "2")
    child.expect_exact("Title 1")
    child.expect_exact("Remove 2 entries? [y/N]: ")
    child.sendline("y")
    child.expect_exact("removed 2  Title 2")
    assert finish(child) == 0
    assert list(KnowledgeBase.open(kb_db).iter_entries()) == []


def test_remove_declined_removes_nothing(kb_db: Path) -> None:
    _seed(kb_db)
    child = spawn("rm", "1")
    child.expect_exact("Remove 1 entry? [y/N]: ")
    child.sendline("")
    child.expect_exact("nothing removed")
    assert finish(child) == 1
    assert [e.id for e in KnowledgeBase.open(kb_db).iter_entries()] == [1, 2]


def _two_step_editor(folder: Path) -> Path:
    """An editor that breaks the file the first time and fixes the answer the second."""
    folder.mkdir(parents=True, exist_ok=True)
    count = folder / "count"
    script = folder / "two step.py"
    script.write_text(
        f"#!{sys.executable}\nimport sys, os\npath = sys.argv[-1]\ncount = {str(count)!r}\n"
        "n = int(open(count).read()) if os.path.exists(count) else 0\n"
        "open(count, 'w').write(str(n + 1))\n"
        "text = open(path, encoding='utf-8').read()\n"
        "if n == 0:\n"
        "    text = text.replace('## Answer', 'Answer')\n"
        "else:\n"
        "    text = text.replace('Answer\\n', '## Answer\\n').replace('water the plants', 'water the roots')\n"
        "open(path, 'w', encoding='utf-8').write(text)\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def test_edit_invalid_text_offers_to_reopen_the_editor(kb_db: Path, tmp_path: Path) -> None:
    _seed(kb_db)
    script = _two_step_editor(tmp_path / "ed itors")
    child = spawn("edit", "1", env={"VISUAL": f"'{script}'"})
    child.expect_exact("no '## Answer' section")
    child.expect_exact("reopen the editor? [Y/n]: ")
    child.sendline("")
    child.expect_exact("1")
    assert finish(child) == 0
    assert KnowledgeBase.open(kb_db).get(1).answer == "Answer number 1: water the roots."


def test_edit_invalid_text_declined_leaves_the_store(kb_db: Path, tmp_path: Path) -> None:
    _seed(kb_db)
    before = kb_db.read_bytes()
    script = _two_step_editor(tmp_path / "editors")
    child = spawn("edit", "1", env={"EDITOR": str(script), "VISUAL": ""})
    child.expect_exact("reopen the editor? [Y/n]: ")
    child.sendline("n")
    child.expect_exact("nothing was saved")
    assert finish(child) == 2
    assert kb_db.read_bytes() == before


# -- without a terminal nothing waits ---------------------------------------------------------


def _run_without_tty(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, NO_COLOR="1"),
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["add"], "missing question and answer"),
        (["add", "--title", "T", "-Q", "Q?"], "missing answer"),
        (["add", "-a", "A."], "missing question"),
    ],
)
def test_add_without_a_tty_is_an_error_naming_fields(kb_db: Path, args: list[str], named: str) -> None:
    result = _run_without_tty(*args)
    assert result.returncode == 2
    assert named in result.stderr
    assert result.stdout == ""
    assert not kb_db.exists()


def test_remove_without_a_tty_does_not_wait(kb_db: Path) -> None:
    _seed(kb_db)
    result = _run_without_tty("remove", "1")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert len(list(KnowledgeBase.open(kb_db).iter_entries())) == 2
