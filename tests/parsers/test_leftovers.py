"""Scraping leftovers in expert pages: entities, rating blocks, follow-up exchanges."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from kb.parsers import expert_page, leftovers

FIXTURES = Path(__file__).parent / "fixtures" / "leftovers"


def _parse(name: str):
    path = FIXTURES / name
    return expert_page.parse(path.read_bytes().decode("utf-8"), str(path))


def test_leftovers_entities_decoded_in_title_body_and_footer():
    first, _ = _parse("rating_and_followup.txt")
    assert first.title == "Pipes knocking when the washing machine fills & stops"
    assert "It's getting worse." in first.question
    assert "the machine\u2019s valve" in first.answer
    assert first.source.copyright == "©2018 About.com"
    assert "&" not in first.question + first.answer


def test_leftovers_entities_only_whole_references():
    assert leftovers.decode_entities("AT&T &amp; R&D &c. &#39;x&#39; &nope") == "AT&T & R&D &c. 'x' &nope"
    # A decoded line break would move every later line: it becomes a space.
    assert leftovers.decode_entities("a&#10;b") == "a b"


def test_leftovers_rating_block_kept_out_but_in_raw():
    for name in ("rating_and_followup.txt", "unlabelled_followup_crlf.txt"):
        entries = _parse(name)
        for entry in entries:
            text = entry.question + entry.answer
            for leftover in (
                "Rating",
                "Knowledgeability",
                "Clarity of Response",
                "Comment",
                "thanks.",
                "exactly what I needed",
            ):
                assert leftover not in text, (name, leftover)
        assert "Knowledgeability" in entries[0].raw


def test_leftovers_follow_up_is_its_own_linked_entry():
    first, follow = _parse("rating_and_followup.txt")
    assert first.answer.endswith("clip them every metre as well.")
    assert follow.question.startswith("Thanks! The arrestor fixed the washing machine")
    assert follow.answer.startswith("Yes, one under the sink")
    assert follow.title == first.title + " (follow-up)"
    assert follow.category == first.category == "Plumbing"
    assert follow.expert == first.expert and follow.expert is not None
    assert follow.tags == ["follow-up"]
    assert follow.source.external_id == f"follow-up-of:{first.uid}"
    assert (first.source.key, follow.source.key) == (None, "followup-1")


def test_leftovers_unlabelled_follow_up_with_crlf_and_curly_apostrophe():
    first, follow = _parse("unlabelled_followup_crlf.txt")
    assert first.question.endswith("Is this a disease?")
    assert first.answer.startswith("It is not a disease.") and first.answer.endswith("every day.")
    assert follow.question == "Should I also remove the curled leaves?"
    assert follow.answer.startswith("No, leave them on.")
    assert first.expert is not None and first.expert.name == "Dr. Helen Okafor"


def test_leftovers_follow_up_link_resolves_with_kb_show(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    shutil.copy(FIXTURES / "rating_and_followup.txt", pages)
    db = str(tmp_path / "kb.json")

    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kb", "--db", db, *args], capture_output=True, text=True, timeout=120
        )

    assert kb("ingest", "--quiet", str(pages)).returncode == 0
    [follow] = json.loads(kb("list", "--tag", "follow-up", "--format", "json").stdout)
    first_uid = follow["source"]["external_id"].split(":", 1)[1]
    shown = json.loads(kb("show", first_uid, "--format", "json").stdout)
    assert shown["title"] == "Pipes knocking when the washing machine fills & stops"
    # Ingesting the page again changes nothing: both entries are recognised.
    again = json.loads(kb("ingest", "--json", str(pages)).stdout)
    assert again["counts"] == {"added": 0, "updated": 0, "unchanged": 2, "duplicates": 0, "failed": 0}
