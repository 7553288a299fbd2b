"""Tests of the expert-page parser: the seed, the fixture pages, detection and robustness."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.errors import ParseError
from kb.models import EXPERT_FIELDS, Entry
from kb.parsers import expert_page

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "000_6ad11ddbde19ba67.txt"
SAMPLE = ROOT / "data" / "expert_page_sample.txt"
FIXTURES = Path(__file__).parent / "fixtures" / "expert_page"
CASES = sorted(p.name[: -len(".expected.json")] for p in FIXTURES.glob("*.expected.json"))


def _parse_one(text: str, name: str = "page.txt") -> Entry:
    entries = expert_page.parse(text, name)
    assert len(entries) == 1
    return entries[0]


def _check(actual: str | None, expected: object, what: str) -> None:
    """Compare one field: an exact value, or {"starts"/"ends"/"contains"} for long text."""
    if isinstance(expected, dict):
        assert actual is not None, what
        if "starts" in expected:
            assert actual.startswith(expected["starts"]), f"{what}: {actual[:80]!r}"
        if "ends" in expected:
            assert actual.endswith(expected["ends"]), f"{what}: {actual[-80:]!r}"
        for part in expected.get("contains", []):
            assert part in actual, f"{what} lacks {part!r}"
    else:
        assert actual == expected, what


def _body_words(text: str, category: str) -> list[str]:
    """Return the words of a page's body: between the header and the footer's category."""
    lines = text.replace("\r\n", "\n").replace("\u00a0", " ").split("\n")
    first = next(i for i, line in enumerate(lines) if line.strip())
    end = next((i for i, line in enumerate(lines) if line.strip() == "All Answers"), len(lines))
    body = [line.strip() for line in lines[first + 1 : end]]
    # Drop the footer's category line and a trailing copyright line.
    while body and (not body[-1] or body[-1] == category):
        body.pop()
    if body and body[-1].startswith("\u00a9"):
        body.pop()
    # "Question:" / "Answer" labels are structure, not content.
    body = [re.sub(r"^(?:Question|Answer)\s*:?\s*", "", line) for line in body]
    return re.findall(r"[\w'\u2019.,?!-]+", "\n".join(body))


# ---------------------------------------------------------------------------
# The seed


def test_parse_seed_golden() -> None:
    entry = _parse_one(SEED.read_text(encoding="utf-8"), "seeds/000_6ad11ddbde19ba67.txt")
    assert entry.category == "Oncology (General Cancer)"
    assert entry.title == "false negatiave on bone scan"
    assert entry.question.startswith("I have breast cancer and just had a bone scan.")
    assert entry.question.endswith("Is this possible?")
    assert entry.answer.startswith("You are right.")
    assert entry.answer.endswith("Hope this helps.")
    expert = entry.expert
    assert expert is not None
    assert expert.name == "Donald Higby, M.D."
    assert expert.expertise is not None and expert.expertise.startswith("I can answer almost all questions")
    assert expert.experience is not None
    assert expert.experience.startswith("I have been a practicing medical oncologist")
    assert expert.organizations == "American Society of Clinical Oncology"
    assert expert.publications is not None and expert.publications.startswith("New England Journal of Medicine")
    assert expert.education is not None and expert.education.startswith("MD, Stanford University")
    assert expert.awards == "America's Best Physicians, last 14 years"
    assert expert.clients is None
    assert entry.source.copyright == "\u00a92017 About.com"
    assert entry.source.split_guessed is False
    assert entry.source.format == "expert-page"
    assert entry.source.path == "seeds/000_6ad11ddbde19ba67.txt"
    assert entry.raw == SEED.read_text(encoding="utf-8")
    assert entry.id is None and entry.created_at is None
    assert len(entry.uid) == 16


def test_parse_seed_paragraphs_kept_and_spaces_normalised() -> None:
    entry = _parse_one(SEED.read_text(encoding="utf-8"))
    assert entry.question.count("\n\n") == 4
    # The answer's three lines are one paragraph on the page: joined by single newlines.
    assert entry.answer.count("\n") == 2 and "\n\n" not in entry.answer
    for text in (entry.question, entry.answer, entry.title, entry.expert.name):
        assert "\u00a0" not in text
        assert all(line == line.rstrip() for line in text.split("\n"))


def test_parse_seed_with_crlf_is_the_same_entry() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert _parse_one(text.replace("\n", "\r\n")).to_dict() == _parse_one(text).to_dict()


def test_parse_seed_nothing_dropped() -> None:
    text = SEED.read_text(encoding="utf-8")
    entry = _parse_one(text)
    both = entry.question + "\n" + entry.answer
    for word in _body_words(text, entry.category):
        assert word in both


# ---------------------------------------------------------------------------
# Fixture pages


def test_fixtures_are_plenty() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES)
def test_parse_fixture(case: str) -> None:
    expected = json.loads((FIXTURES / f"{case}.expected.json").read_text(encoding="utf-8"))
    text = (FIXTURES / f"{case}.txt").read_bytes().decode(expected.get("encoding", "utf-8"))
    entry = _parse_one(text, f"{case}.txt")
    for key in ("category", "title", "question", "answer"):
        _check(getattr(entry, key), expected[key], key)
    assert entry.source.copyright == expected["copyright"]
    assert entry.source.split_guessed is expected["split_guessed"]
    if expected["expert"] is None:
        assert entry.expert is None
    else:
        assert entry.expert is not None
        assert entry.expert.name == expected["expert"]["name"]
        for key in EXPERT_FIELDS:
            if key in expected["expert"]:
                _check(getattr(entry.expert, key), expected["expert"][key], f"expert.{key}")
            else:
                assert getattr(entry.expert, key) is None, f"expert.{key}"


@pytest.mark.parametrize("case", CASES)
def test_parse_fixture_nothing_dropped(case: str) -> None:
    expected = json.loads((FIXTURES / f"{case}.expected.json").read_text(encoding="utf-8"))
    text = (FIXTURES / f"{case}.txt").read_bytes().decode(expected.get("encoding", "utf-8"))
    entry = _parse_one(text)
    both = entry.question + "\n" + entry.answer
    words = _body_words(text, expected["category"])
    assert len(words) > 20
    for word in words:
        assert word in both, word


@pytest.mark.parametrize("case", CASES)
def test_parse_fixture_fields_clean(case: str) -> None:
    expected = json.loads((FIXTURES / f"{case}.expected.json").read_text(encoding="utf-8"))
    text = (FIXTURES / f"{case}.txt").read_bytes().decode(expected.get("encoding", "utf-8"))
    entry = _parse_one(text)
    values = [entry.question, entry.answer, entry.title, entry.category]
    if entry.expert:
        values += [entry.expert.name] + [getattr(entry.expert, k) or "" for k in EXPERT_FIELDS]
    for value in values:
        assert "\r" not in value and "\u00a0" not in value
        assert value == value.strip()


def test_detect_fixtures_high() -> None:
    for case in CASES:
        expected = json.loads((FIXTURES / f"{case}.expected.json").read_text(encoding="utf-8"))
        text = (FIXTURES / f"{case}.txt").read_bytes().decode(expected.get("encoding", "utf-8"))
        floor = 0.4 if case == "missing_footer" else 0.8
        assert expert_page.detect(text, f"{case}.txt") >= floor, case


def test_parse_data_sample() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    entry = _parse_one(text, "data/expert_page_sample.txt")
    assert expert_page.detect(text, "data/expert_page_sample.txt") >= 0.9
    assert entry.category and entry.title and entry.expert and entry.expert.name
    assert entry.source.copyright and not entry.source.split_guessed
    assert _parse_one(SEED.read_text(encoding="utf-8")).uid != entry.uid


# ---------------------------------------------------------------------------
# Detection


def test_detect_seed_high() -> None:
    assert expert_page.detect(SEED.read_text(encoding="utf-8"), "seed.txt") >= 0.9


def test_detect_header_without_footer_moderate() -> None:
    text = "Dogs/Barking\n\nMy dog barks at night. Why?\n\nDear Ann, dogs bark when bored.\n"
    assert 0.3 <= expert_page.detect(text, "x.txt") < 0.9


@pytest.mark.parametrize(
    "text",
    [
        "Q: How do I reset my password?\nA: Use the link on the login page.\n\n"
        "Q: Can I change my e-mail/user name?\nA: Yes, in settings.\n",
        "Title: Printers/Scanners\nQuestion: Why is my print faded?\nAnswer: The toner is low.\n",
        '{"question": "What is a/b testing?", "answer": "Comparing two versions."}',
        '[{"question": "Q1", "answer": "A1"}]',
        "---\ntitle: Backups/Restore\ncategory: IT\n---\n\n## Question\n\nHow?\n\n## Answer\n\nLike this.\n",
        "# Notes/Ideas\n\n## Question\n\nWhy?\n\n## Answer\n\nBecause.\n",
        "question,answer,category\nWhat is 1/2?,One half,Math\nWhat is 1/4?,A quarter,Math\n",
        "",
        "   \n\n",
    ],
)
def test_detect_other_formats_low(text: str) -> None:
    assert expert_page.detect(text, "input") < 0.3


# ---------------------------------------------------------------------------
# Edge cases in small inline pages

FOOTER = "\n\nPets\n\nAll Answers\n\nAnswers by Expert:\n\nAsk Experts\n\n\nJo Bell\n"


def test_parse_footer_only_raises() -> None:
    with pytest.raises(ParseError) as caught:
        expert_page.parse("Pets/Nothing here" + FOOTER, "p.txt")
    assert caught.value.path == "p.txt" and caught.value.line is not None


@pytest.mark.parametrize("text", ["", "\r\n \u00a0\n", "All Answers\n\nAsk Experts\n"])
def test_parse_empty_raises(text: str) -> None:
    with pytest.raises(ParseError):
        expert_page.parse(text, "e.txt")


def test_parse_single_sentence_body_raises() -> None:
    with pytest.raises(ParseError, match="one sentence"):
        expert_page.parse("Pets/Cat\n\nMy cat sneezes a lot" + FOOTER, "s.txt")


def test_parse_footer_category_decides_slash_in_category() -> None:
    text = (
        "Home/Garden/Patio/deck stain peeling\n\nMy deck stain peels after one winter. Why?\n\n"
        "Hi Al, the old coat was not stripped first.\n\nHome/Garden\n\nAll Answers\n\nAsk Experts\n\nBo Lee\n"
    )
    entry = _parse_one(text)
    assert (entry.category, entry.title) == ("Home/Garden", "Patio/deck stain peeling")


def test_parse_without_footer_splits_at_first_slash() -> None:
    text = "Home/Garden/Patio\n\nMy deck stain peels after one winter. Why?\n\nHi Al, the old coat was not stripped.\n"
    entry = _parse_one(text)
    assert (entry.category, entry.title) == ("Home", "Garden/Patio")
    assert entry.expert is None and entry.source.copyright is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("\u00a92017 About.com. All rights reserved.", "\u00a92017 About.com"),
        ("(c) 2017 Example Media", "\u00a92017 Example Media"),
        ("Copyright 2009-2017 Example Media, Inc. All Rights Reserved", "\u00a92009-2017 Example Media, Inc"),
        ("Copyright \u00a9 2015", "\u00a92015"),
    ],
)
def test_parse_copyright_variants(line: str, expected: str) -> None:
    text = "Pets/Cat\n\nMy cat sneezes. Is it a cold?\n\nYes, probably." + FOOTER + "\n" + line + "\n"
    assert _parse_one(text).source.copyright == expected


def test_parse_answer_label_alone_with_question_colon() -> None:
    text = "Pets/Cat\n\nQuestion:\nWhy does my cat knead?\n\nAnswer:\nKneading is a kitten habit.\n" + FOOTER
    entry = _parse_one(text)
    assert entry.question == "Why does my cat knead?"
    assert entry.answer == "Kneading is a kitten habit."
    assert not entry.source.split_guessed


def test_parse_greeting_to_expert_stays_in_question() -> None:
    text = (
        "Pets/Fish\n\nDear Jo Bell,\n\nMy goldfish has white spots and rubs on the gravel.\n\n"
        "What should I do?\n\nThat is ich, a common parasite. Treat the whole tank.\n\nJo" + FOOTER
    )
    entry = _parse_one(text)
    assert entry.question.startswith("Dear Jo Bell,") and entry.question.endswith("What should I do?")
    assert entry.answer == "That is ich, a common parasite. Treat the whole tank.\n\nJo"
    assert not entry.source.split_guessed


def test_parse_one_paragraph_splits_after_question_mark() -> None:
    entry = _parse_one("Pets/Cat\n\nwhy does my cat sneeze? probably dust, vacuum more often." + FOOTER)
    assert entry.question == "why does my cat sneeze?"
    assert entry.answer == "probably dust, vacuum more often."
    assert entry.source.split_guessed


def test_parse_later_labels_stay_in_text() -> None:
    text = "Pets/Cat\n\nQuestion: Why?\n\nAnswer: Habit.\n\nQuestion: And dogs?\n\nAnswer: Same.\n" + FOOTER
    entry = _parse_one(text)
    assert entry.question == "Why?"
    assert entry.answer == "Habit.\n\nQuestion: And dogs?\n\nAnswer: Same."


def test_parse_unlabelled_bio_unknown_paragraphs_kept() -> None:
    bio = "\n\nLikes long walks.\n\nAlso enjoys tea.\n\nAnd gardening on weekends.\n"
    text = "Pets/Cat\n\nMy cat sneezes. Is it a cold?\n\nYes, probably." + FOOTER + bio
    expert = _parse_one(text).expert
    assert expert is not None and expert.name == "Jo Bell"
    kept = "\n".join(getattr(expert, k) or "" for k in EXPERT_FIELDS)
    for phrase in ("Likes long walks.", "Also enjoys tea.", "And gardening on weekends."):
        assert phrase in kept


def test_parse_bio_without_name_keeps_sections() -> None:
    text = (
        "Pets/Cat\n\nMy cat sneezes. Is it a cold?\n\nYes, probably.\n\nPets\n\nAll Answers\n\n"
        "Expertise\nCats and kittens.\n"
    )
    expert = _parse_one(text).expert
    assert expert is not None and expert.expertise == "Cats and kittens."


def test_parse_lone_surrogates_do_not_break_the_uid() -> None:
    text = "Pets/Cat\ud800\n\nMy cat sneezes \udcff. Is it a cold?\n\nYes, probably." + FOOTER
    entry = _parse_one(text)
    assert "\ufffd" in entry.question and entry.raw == text


# ---------------------------------------------------------------------------
# Robustness: any text at all yields entries or a ParseError, nothing else

_PIECES = st.sampled_from(
    [
        "\n",
        "\n\n",
        "\r\n",
        "\r",
        " ",
        "\u00a0",
        "/",
        "?",
        ".",
        "Question",
        "Answer:",
        "Question:",
        "All Answers",
        "Answers by Expert:",
        "Ask Experts",
        "Expertise",
        "Awards and Honors",
        "Past/Present Clients",
        "Education/Credentials",
        "\u00a92017 About.com. All rights reserved.",
        "(c) 1999",
        "Copyright 20",
        "Hi Susan,",
        "Dear Tom",
        "You are right.",
        "Hope this helps.",
        "Thanks in advance",
        "I have",
        "you",
        "Oncology/PET/CT",
        "Dr. ",
        "MD, University",
        "1/2",
        "\ud800",
        "\t",
        "\x0c",
        "\u2028",
        "Yes,",
        "Susan,",
        "\u2014 Rachel",
    ]
)
_PAGES = st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=60).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), _PAGES))
def test_parse_arbitrary_text_raises_only_parse_error(text: str) -> None:
    try:
        entries = expert_page.parse(text, "fuzz.txt")
    except ParseError as error:
        assert error.path == "fuzz.txt"
        return
    assert len(entries) == 1
    entry = entries[0]
    assert entry.question.strip() and entry.answer.strip()
    assert entry.source.format == "expert-page"
    json.dumps(entry.to_dict())


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), _PAGES))
def test_detect_arbitrary_text_is_a_probability(text: str) -> None:
    assert 0.0 <= expert_page.detect(text, "fuzz.txt") <= 1.0


def test_expert_page_forced_on_other_formats_refuses_them(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    for sample, other in (("entries.json", "json"), ("faq_page.html", "html"), ("faq.txt", "qa")):
        done = subprocess.run(
            [sys.executable, "-m", "kb", "--db", str(tmp_path / "kb.json"), "ingest", "-F", "expert-page"]
            + [str(root / "data" / sample), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, sample
        report = json.loads(done.stdout)
        assert report["counts"]["added"] == 0
        [failure] = report["failures"]
        assert failure["reason"] == (
            "not an expert page: no 'Category/Title' first line and no footer "
            f"('All Answers', 'Answers by Expert'); it reads as {other}"
        )
        assert "Traceback" not in done.stderr
