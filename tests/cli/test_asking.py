"""kb post, kb answer and kb inbox as people and scripts use them; open questions in list,
search, ask, show, experts and stats; hostile text in questions and answers; and two real
`kb answer` processes racing for one question."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from tests.test_hostile import CLEAR, CSI_COLOUR, LINK_MARKUP, MARKUP, OSC8_LINK, OSC_TITLE, RTL, _assert_inert


@pytest.fixture
def desk(kb_db: Path) -> Path:
    """A store with one answered entry (#1, Donald Higby's, in Oncology)."""
    with KnowledgeBase.open(kb_db) as kb:
        kb.add(
            question="Can chemotherapy make a bone scan miss a tumour?",
            answer="Yes: a flare after treatment can hide it for a while.",
            category="Oncology",
            expert="Donald Higby, M.D.",
        )
    return kb_db


def test_post_prints_the_id_and_what_may_already_answer_it(cli, desk: Path) -> None:
    result = cli("post", "Can a bone scan miss a tumour after chemo?", "--for", "higby", "--by", "sue")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2\n"
    assert "may already be answered:" in result.stderr and "#1" in result.stderr
    assert "posted #2 for Donald Higby, M.D." in result.stderr
    record = json.loads(cli("show", "2", "--json").stdout)
    assert (record["status"], record["asked_by"], record["asked_for"]) == ("open", "sue", "Donald Higby, M.D.")


def test_post_json_carries_the_entry_and_the_candidates(cli, desk: Path) -> None:
    record = json.loads(cli("post", "Can a bone scan miss a tumour?", "--json").stdout)
    assert record["status"] == "open" and record["may_be_answered_by"][0]["id"] == 1
    assert record["asked_before"] == []


def test_post_reads_the_question_from_stdin(cli, desk: Path) -> None:
    result = cli("post", "--by", "sue", input="Is a piped question\nkept whole?\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(cli("show", "2", "--json").stdout)["question"] == "Is a piped question\nkept whole?"


def test_the_same_open_question_is_refused_with_its_id(cli, desk: Path) -> None:
    assert cli("post", "Is chemo brain real?").exit_code == 0
    again = cli("post", "is  CHEMO brain real?")
    assert again.exit_code == 1
    assert "already posted as #2" in again.stderr and "kb show 2" in again.stderr
    assert again.stdout == ""


def test_ask_that_finds_nothing_says_how_to_post(cli, desk: Path) -> None:
    result = cli("ask", "how", "do", "I", "grow", "tomatoes?")
    assert result.exit_code == 1
    assert "kb post 'how do I grow tomatoes?'" in result.stderr


def test_list_open_and_answered_split_the_entries(cli, desk: Path) -> None:
    cli("post", "Is chemo brain real?", "--category", "oncology")
    opened = json.loads(cli("list", "--open", "--json").stdout)
    assert [(e["id"], e["status"], e["category"]) for e in opened] == [(2, "open", "Oncology")]
    assert [e["id"] for e in json.loads(cli("list", "--answered", "--json").stdout)] == [1]
    assert "[open]" in cli("list").stdout
    assert cli("list", "--open", "--category", "Oncology", "--format", "ids").stdout == "2\n"
    assert cli("list", "--open", "--answered").exit_code == 2
    assert cli("list", "categories", "--open").exit_code == 2


def test_list_open_with_no_open_question_is_an_unmatched_filter(cli, desk: Path) -> None:
    result = cli("list", "--open", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout) == []


def test_search_leaves_open_questions_out_unless_open(cli, desk: Path) -> None:
    cli("post", "What is a zygomycete infection?")
    hidden = cli("search", "zygomycete")
    assert hidden.exit_code == 1 and "open question" in hidden.stderr and "--open" in hidden.stderr
    shown = cli("search", "zygomycete", "--open")
    assert shown.exit_code == 0 and "[open]" in shown.stdout
    assert json.loads(cli("search", "zygomycete", "--open", "--json").stdout)[0]["status"] == "open"
    assert cli("ask", "what is a zygomycete infection", "--open", "--no-pager").exit_code == 0


def test_inbox_lists_the_oldest_first_with_the_wait(cli, desk: Path) -> None:
    cli("post", "Is chemo brain real?", "--category", "Oncology")
    cli("post", "Do PET scans replace bone scans?", "--for", "higby")
    cli("post", "When do I prune roses?", "--category", "Gardening")
    table = cli("inbox", "higby")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert len(lines) == 2 and "#2" in lines[0] and "#3" in lines[1]
    assert re.match(r"\s*\d+s\s+#2", lines[0])
    records = json.loads(cli("inbox", "higby", "--json").stdout)
    assert [r["id"] for r in records] == [2, 3] and all(r["waited_seconds"] >= 0 for r in records)
    assert cli("inbox", "--format", "ids").stdout == "2\n3\n4\n"
    assert cli("inbox", "--limit", "1", "--format", "ids").stdout == "2\n"
    assert cli("inbox", "nobody at all").exit_code == 1


def test_experts_name_counts_answers_and_the_inbox(cli, desk: Path) -> None:
    cli("post", "Do PET scans replace bone scans?", "--for", "higby")
    record = json.loads(cli("experts", "higby", "--json").stdout)
    assert (record["count"], record["inbox"]) == (1, 1)
    assert record["categories"] == [{"category": "Oncology", "count": 1}]
    assert "1 open question waits in their inbox" in cli("experts", "higby").stdout


def test_answer_from_an_option_a_file_and_stdin(cli, desk: Path, tmp_path: Path) -> None:
    for n in range(3):
        cli("post", f"Question {n} about compost?")
    assert cli("answer", "2", "--answer", "From the option.", "--expert", "Ann").stdout == "2\n"
    (tmp_path / "answer.md").write_text("From a file,\n\nin two paragraphs.\n")
    assert cli("answer", "3", "--answer-file", str(tmp_path / "answer.md")).exit_code == 0
    assert cli("answer", "4", "--answer-file", "-", input="From stdin.\n").exit_code == 0
    answers = [json.loads(cli("show", str(i), "--json").stdout)["answer"] for i in (2, 3, 4)]
    assert answers == ["From the option.", "From a file,\n\nin two paragraphs.", "From stdin."]
    record = json.loads(cli("show", "2", "--json").stdout)
    assert record["status"] == "answered" and record["answered_at"] and record["expert"]["name"] == "Ann"
    assert json.loads(cli("search", "compost", "--json").stdout)


def test_answer_in_the_editor_keeps_what_is_above_the_line(
    cli, desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("post", "Can I compost citrus peel?")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\n{ printf "Yes, in moderation.\\n"; cat "$1"; } > "$1.new" && mv "$1.new" "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    result = cli("answer", "2", "--expert", "Ann")
    assert result.exit_code == 0, result.stderr
    assert json.loads(cli("show", "2", "--json").stdout)["answer"] == "Yes, in moderation."


def test_an_answer_left_empty_in_the_editor_keeps_the_question_open(
    cli, desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("post", "Can I compost citrus peel?")
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.delenv("VISUAL", raising=False)
    result = cli("answer", "2")
    assert result.exit_code == 2 and "answer" in result.stderr
    assert json.loads(cli("show", "2", "--json").stdout)["status"] == "open"


def test_answer_options_refuse_each_other_and_answered_entries(cli, desk: Path, tmp_path: Path) -> None:
    cli("post", "Can I compost citrus peel?")
    both = cli("answer", "2", "--answer", "x", "--answer-file", str(tmp_path / "f"))
    assert both.exit_code == 2
    assert cli("answer", "2", "--answer-file", str(tmp_path / "missing.txt")).exit_code == 2
    refused = cli("answer", "1", "--answer", "Another answer.")
    assert refused.exit_code == 1
    assert "already answered by Donald Higby, M.D." in refused.stderr
    draft = re.search(r"kept in (\S+\.txt)", refused.stderr)
    assert draft and Path(draft.group(1)).read_text() == "Another answer.\n"


def test_show_lists_follow_ups_and_what_they_follow(cli, desk: Path) -> None:
    result = cli("post", "--follow-up", "1", "And does a PET scan miss it too?")
    assert result.exit_code == 0
    assert json.loads(cli("show", "2", "--json").stdout)["follows"] == 1
    shown = cli("show", "1", "--no-pager").stdout
    assert "Follow-ups" in shown and "#2" in shown and "[open]" in shown
    follower = cli("show", "2", "--no-pager").stdout
    assert "Follows up #1" in follower and "Waiting for an answer" in follower


def test_stats_shows_open_answered_and_the_median_wait(cli, desk: Path) -> None:
    cli("post", "Is chemo brain real?")
    cli("post", "Can I compost citrus peel?")
    cli("answer", "3", "--answer", "Yes.")
    stats = json.loads(cli("stats", "--json").stdout)
    assert (stats["open"], stats["answered"]) == (1, 2) and stats["median_wait_seconds"] >= 0
    assert "1 open, 2 answered" in cli("stats").stdout


HOSTILE_QUESTION = f"Is this {CSI_COLOUR} {CLEAR} {OSC_TITLE} {MARKUP} {RTL} safe?"
HOSTILE_ANSWER = f"It is inert {OSC8_LINK} {LINK_MARKUP} \x07 done."


def _run(store: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, KB_DB=str(store), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "kb", *args], env=env, input=input, capture_output=True, timeout=60)


def test_hostile_text_in_questions_and_answers_stays_inert(desk: Path) -> None:
    by = f"eve{OSC_TITLE}"
    assert (
        _run(desk, "post", HOSTILE_QUESTION, "--by", by, "--for", f"Dr {CLEAR}X", "--category", MARKUP).returncode == 0
    )
    for args in (("inbox",), ("list", "--open"), ("show", "2", "--no-pager"), ("search", "safe", "--open")):
        done = _run(desk, *args)
        assert done.returncode == 0, done.stderr
        _assert_inert(done.stdout + done.stderr, " ".join(args), terminal=False)
    assert MARKUP.encode() in _run(desk, "list", "--open").stdout  # markup shown as text
    answered = _run(desk, "answer", "2", "--answer", HOSTILE_ANSWER, "--expert", f"Dr {CSI_COLOUR}")
    assert answered.returncode == 0, answered.stderr
    _assert_inert(answered.stdout + answered.stderr, "answer", terminal=False)
    refused = _run(desk, "answer", "2", "--answer", HOSTILE_ANSWER)
    assert refused.returncode == 1
    _assert_inert(refused.stderr, "refused answer", terminal=False)
    for args in (("show", "2", "--no-pager"), ("search", "inert"), ("experts", "dr")):
        done = _run(desk, *args)
        _assert_inert(done.stdout + done.stderr, " ".join(args), terminal=False)
    record = json.loads(_run(desk, "show", "2", "--json").stdout)
    assert record["question"] == " ".join(HOSTILE_QUESTION.split()) or "\x1b" in record["question"]
    assert "\x1b" in record["answer"]  # JSON keeps the true text


def race_two_answers(env: dict[str, str], question: str, tmp_path: Path) -> tuple[str, str, str]:
    """Run two real `kb answer` processes (Ann's and Bob's) on one question, both in their
    editors with the question open, and let them save at the same moment.

    Returns (the winner, the loser, the loser's stderr), after checking one exited 0 and
    the other 1 with who answered and the draft that keeps the loser's text.
    """
    go = tmp_path / "go"
    editor = tmp_path / "editor.sh"
    # Each editor writes its answer, says it is ready, and waits for the go file.
    editor.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$ANSWER" > "$1"\ntouch "$READY"\nwhile [ ! -e "{go}" ]; do sleep 0.01; done\n'
    )
    editor.chmod(0o755)
    procs = []
    for name in ("Ann", "Bob"):
        full = dict(os.environ, **env, NO_COLOR="1", EDITOR=str(editor), ANSWER=f"{name} says yes.")
        full.update(READY=str(tmp_path / f"ready-{name}"))
        full.pop("VISUAL", None)
        cmd = [sys.executable, "-m", "kb", "answer", question, "--expert", name]
        procs.append(subprocess.Popen(cmd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in ("Ann", "Bob")):
        assert time.monotonic() < deadline, "the editors did not start"
        time.sleep(0.02)
    go.touch()
    outcomes = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _ in outcomes) == [0, 1], outcomes
    winner = ["Ann", "Bob"][[code for code, _ in outcomes].index(0)]
    loser = "Bob" if winner == "Ann" else "Ann"
    refused = next(err for code, err in outcomes if code == 1)
    assert f"already answered by {winner}" in refused
    draft = re.search(r"kept in (\S+\.txt)", refused)
    assert draft and Path(draft.group(1)).read_text() == f"{loser} says yes.\n"
    return winner, loser, refused


def test_two_answers_at_once_one_is_stored_the_other_kept(desk: Path, tmp_path: Path) -> None:
    """Two real `kb answer` processes save their answers to one open question at once:
    one answer is stored, the other is refused and kept in its draft."""
    with KnowledgeBase.open(desk) as kb:
        question = kb.post("Can I compost citrus peel?").entry.stored_id()
    winner, _, _ = race_two_answers({"KB_DB": str(desk)}, str(question), tmp_path)
    with KnowledgeBase.open(desk) as kb:
        stored = kb.get(question)
        assert stored.answer == f"{winner} says yes." and stored.expert and stored.expert.name == winner
