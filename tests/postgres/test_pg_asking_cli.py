"""kb post, kb answer and kb inbox on PostgreSQL through the real CLI (KB_DB a URL): the
exit codes, every format, one question from post to answer to search, hostile text, and
two `kb answer` processes racing for one question. A refused answer's draft goes to the
user's data folder (a store on a server has no folder of its own)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_asking import HOSTILE_ANSWER, HOSTILE_QUESTION, race_two_answers
from tests.cli.test_formats import check_output
from tests.conftest import DATA, run_kb
from tests.test_hostile import _assert_inert


@pytest.fixture
def desk(pg_url: str, pg_schema: str, tmp_path: Path) -> dict[str, str]:
    """A schema holding the bundled samples; drafts go under tmp_path."""
    env = {"KB_DB": pg_url, "KB_PG_SCHEMA": pg_schema, "XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_kb("ingest", "-q", str(DATA), env=env).returncode == 0
    return env


def kb(env: dict[str, str], *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    done = run_kb(*args, env=env, input=input)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done


def test_pg_asking_exit_codes(pg_url: str, pg_schema: str, desk: dict[str, str]) -> None:
    empty = {**desk, "KB_PG_SCHEMA": pg_schema + "_none"}
    assert kb(empty, "inbox").returncode == 1  # no knowledge base there
    assert kb(empty, "answer", "1", "--answer", "x").returncode == 1
    assert kb(empty, "post", "   ").returncode == 2
    assert kb(desk, "inbox").returncode == 0  # nothing waits: not an error
    assert kb(desk, "inbox", "nobody at all").returncode == 1
    assert kb(desk, "answer", "999", "--answer", "x").returncode == 1
    assert kb(desk, "post", "--follow-up", "999", "Why?").returncode == 1
    assert kb(desk, "post", "Is a question kept open?").returncode == 0
    assert kb(desk, "post", "is a question  KEPT open?").returncode == 1  # the same, refused
    assert kb(desk, "answer", "1", "--answer", "Another.").returncode == 1  # answered already
    assert kb(desk, "list", "--open", "--answered").returncode == 2


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv", "ids"])
def test_pg_asking_formats(desk: dict[str, str], fmt: str) -> None:
    posted = kb(desk, "post", f"Is a question posted as {fmt} kept open?", "--category", "Gardening", "--format", fmt)
    assert posted.returncode == 0, posted.stderr
    check_output(fmt, posted.stdout.decode())
    for args in (("inbox",), ("list", "--open"), ("search", "posted", "--open")):
        done = kb(desk, *args, "--format", fmt)
        assert done.returncode == 0, (args, done.stderr)
        check_output(fmt, done.stdout.decode())
    question = json.loads(kb(desk, "list", "--open", "--json").stdout)[0]["id"]
    answered = kb(desk, "answer", str(question), "--answer", "Yes.", "--format", fmt)
    assert answered.returncode == 0, answered.stderr
    check_output(fmt, answered.stdout.decode())


def test_pg_one_question_from_post_to_answer_to_search(desk: dict[str, str]) -> None:
    posted = kb(desk, "post", "Can I water roses with greywater?", "--category", "gardening", "--for", "pat doe")
    assert posted.returncode == 0 and "may already be answered" in posted.stderr.decode()
    question = int(posted.stdout)
    assert kb(desk, "search", "greywater").returncode == 1
    assert [r["id"] for r in json.loads(kb(desk, "inbox", "pat", "--json").stdout)] == [question]
    assert json.loads(kb(desk, "experts", "pat doe", "--json").stdout)["inbox"] == 1
    follow = int(kb(desk, "post", "--follow-up", str(question), "And for vegetables?").stdout)
    assert "Follow-ups" in kb(desk, "show", str(question), "--no-pager").stdout.decode()
    done = kb(desk, "answer", str(question), "--expert", "Pat Doe", "--answer", "Yes, without boron or bleach.")
    assert done.returncode == 0, done.stderr
    hits = json.loads(kb(desk, "search", "greywater", "--json").stdout)
    assert hits[0]["id"] == question and hits[0]["status"] == "answered"
    assert hits[0]["expert"]["name"] == "Pat Doe"
    assert json.loads(kb(desk, "show", str(follow), "--json").stdout)["follows"] == question
    stats = json.loads(kb(desk, "stats", "--json").stdout)
    assert (stats["open"], stats["median_wait_seconds"] is not None) == (1, True)


def test_pg_hostile_text_in_questions_and_answers_stays_inert(desk: dict[str, str]) -> None:
    posted = kb(desk, "post", HOSTILE_QUESTION, "--by", "eve\x1b]0;x\x07")
    assert posted.returncode == 0
    question = posted.stdout.decode().strip()
    for args in (("inbox",), ("list", "--open"), ("show", question, "--no-pager")):
        done = kb({**desk, "NO_COLOR": "1"}, *args)
        _assert_inert(done.stdout + done.stderr, " ".join(args), terminal=False)
    assert kb(desk, "answer", question, "--answer", HOSTILE_ANSWER).returncode == 0
    shown = kb({**desk, "NO_COLOR": "1"}, "show", question, "--no-pager")
    _assert_inert(shown.stdout + shown.stderr, "show", terminal=False)


def test_pg_two_answers_at_once_one_is_stored_the_other_kept(desk: dict[str, str], tmp_path: Path) -> None:
    question = kb(desk, "post", "Can I compost citrus peel?").stdout.decode().strip()
    winner, _, refused = race_two_answers(desk, question, tmp_path)
    assert str(tmp_path / "data") in refused  # the draft is in the user's data folder
    stored = json.loads(kb(desk, "show", question, "--json").stdout)
    assert stored["answer"] == f"{winner} says yes." and stored["expert"]["name"] == winner
