"""`kb ask`: the best answer in full, the other answers one line each; and how hits read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED_QUESTION = "can chemotherapy make a bone scan come back falsely negative?"


@pytest.fixture
def samples(kb_run):
    done = kb_run("ingest", "-q", str(ROOT / "seeds"), str(ROOT / "data"))
    assert done.returncode == 0, done.stderr


def test_ask_answers_the_seed_question_with_the_seed(samples, kb_run):
    done = kb_run("ask", SEED_QUESTION, "--no-pager", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert out.splitlines()[0].startswith("#1  false negatiave on bone scan")
    assert "You are right." in out and "Donald Higby" in out  # the answer and the expert's card
    assert "Source:" in out


def test_ask_lists_no_other_answers_that_only_share_a_word(samples, kb_run):
    # The samples hold one entry on bone scans; the others share words like "back" at most.
    done = kb_run("ask", SEED_QUESTION, "--no-pager")
    assert "Other answers" not in done.stdout.decode()


def test_ask_json_has_the_answer_and_the_others(samples, kb_run):
    done = kb_run("ask", "how do I stop a kitchen tap dripping", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"answer", "others"}
    assert data["answer"]["title"] == "Dripping kitchen tap"
    assert isinstance(data["answer"]["score"], float) and data["answer"]["uid"]
    assert all({"id", "title", "question", "score", "snippet"} <= set(o) for o in data["others"])


def test_ask_nothing_found_exits_1_with_the_reason(samples, kb_run):
    done = kb_run("ask", "zzyzx quuxification")
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"no entry has" in done.stderr and b"Traceback" not in done.stderr


def test_ask_takes_the_filters_of_search(samples, kb_run):
    done = kb_run("ask", "water", "--category", "Health", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["answer"]["category"] == "Health"
    assert all(o["category"] == "Health" for o in data["others"])
    assert kb_run("ask", "water", "--category", "Nope").returncode == 1


def test_ask_offers_only_table_and_json(samples, kb_run):
    assert kb_run("ask", "water", "--format", "csv").returncode == 2


def test_search_hit_shows_title_its_question_and_a_wrapped_snippet(samples, kb_run):
    done = kb_run("search", "grout: diluted bleach, extractor fan, damp room", "-n", "1", env={"COLUMNS": "60"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0].startswith("  1. #") and "Mould on bathroom grout" in lines[0]
    assert lines[1].startswith("     Black spots keep coming back")  # the entry's own question
    assert all(len(line) <= 60 for line in lines)
    # The snippet wraps under a hanging indent of five columns.
    assert len(lines) > 3 and all(line.startswith("     ") and line[5] != " " for line in lines[1:])
