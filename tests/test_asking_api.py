"""Asking an expert through the Python API: posting, the inbox, answering once, follow-ups,
open questions kept out of search, and their round trip through kb's JSON Lines export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.asking import answer_wait, duration, waited
from kb.errors import AlreadyAnswered, Duplicate, InvalidEntry, NotFound
from kb.models import Entry


@pytest.fixture
def kb(kb_db: Path):
    with KnowledgeBase.open(kb_db) as base:
        base.add(
            question="Can chemotherapy make a bone scan miss a tumour?",
            answer="Yes: a flare after treatment can hide it for a while.",
            category="Oncology",
            expert="Donald Higby, M.D.",
        )
        base.add(
            question="How often should I water tomatoes?", answer="Twice a week.", category="Gardening", expert="Ann"
        )
        yield base


def test_post_stores_an_open_question_with_who_asked_and_when(kb: KnowledgeBase) -> None:
    posted = kb.post("Does a PET scan  see bone metastases?", category="oncology", asked_by="sue", asked_for="higby")
    entry = kb.get(posted.entry.stored_id())
    assert entry.status == "open" and entry.answer == ""
    assert entry.asked_by == "sue"
    assert entry.asked_for == "Donald Higby, M.D."  # any unique form names a stored expert
    assert entry.category == "Oncology"  # the stored spelling
    assert entry.asked_at and entry.answered_at is None
    record = entry.to_dict()
    assert record["status"] == "open" and "answered_at" not in record and "follows" not in record


def test_entries_stored_before_asking_read_as_answered(kb: KnowledgeBase) -> None:
    record = kb.get(1).to_dict()
    assert record["status"] == "answered"
    assert not {"asked_by", "asked_for", "asked_at", "answered_at", "follows"} & set(record)
    assert Entry.from_dict({"question": "q", "answer": "a"}).status == "answered"


def test_post_lists_what_may_already_answer_it(kb: KnowledgeBase) -> None:
    first = kb.post("Can a bone scan miss a tumour after chemotherapy?")
    assert [h.entry.id for h in first.answered] == [1]
    again = kb.post("After chemotherapy, can my bone scan miss the tumour?")
    assert first.entry.id in [h.entry.id for h in again.asked]


def test_the_same_open_question_is_refused_with_its_id(kb: KnowledgeBase) -> None:
    posted = kb.post("Is bone pain after chemo normal?")
    with pytest.raises(Duplicate) as caught:
        kb.post("  is BONE pain after\nchemo normal? ")
    assert caught.value.existing_id == posted.entry.id
    assert f"#{posted.entry.id}" in str(caught.value)
    assert kb.count() == 3


def test_an_empty_question_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidEntry):
        kb.post("   \n ")


def test_search_and_ask_leave_open_questions_out_unless_asked(kb: KnowledgeBase) -> None:
    posted = kb.post("What is a zygomycete infection?")
    assert kb.search("zygomycete").total == 0
    assert "open question" in (kb.search("zygomycete").reason or "")
    assert [h.entry.id for h in kb.search("zygomycete", status=None)] == [posted.entry.id]
    assert [h.entry.id for h in kb.search("zygomycete", status="open")] == [posted.entry.id]
    assert not kb.ask("zygomycete infection").hits
    assert kb.list(status="open") == [kb.get(posted.entry.stored_id())]
    assert [e.id for e in kb.list(status="answered")] == [1, 2]
    assert kb.count(status="open") == 1 and kb.count() == 3


def test_answering_makes_it_an_entry_like_any_other(kb: KnowledgeBase) -> None:
    posted = kb.post("What is a zygomycete infection?", asked_for="Ann")
    entry = kb.answer(posted.entry.stored_id(), "A fungal infection, rare and serious.", expert="higby")
    assert entry.status == "answered" and entry.answered_at
    assert entry.expert is not None and entry.expert.name == "Donald Higby, M.D."
    assert [h.entry.id for h in kb.search("zygomycete")] == [entry.id]
    assert kb.ask("what is a zygomycete infection").hits[0].entry.answer.startswith("A fungal")
    assert kb.get(entry.stored_id()).asked_for == "Ann"  # who it was for stays
    assert kb.inbox("Ann").questions == []


def test_answering_by_a_new_expert_creates_the_profile(kb: KnowledgeBase) -> None:
    posted = kb.post("Can I compost citrus peel?")
    kb.answer(posted.entry.stored_id(), "Yes, in moderation.", expert="  Rosa   Lima ")
    assert kb.expert("rosa").count == 1


def test_an_answer_to_an_answered_question_is_refused_and_kept(kb: KnowledgeBase) -> None:
    posted = kb.post("Can I compost citrus peel?")
    kb.answer(posted.entry.stored_id(), "Yes, in moderation.", expert="Ann")
    with pytest.raises(AlreadyAnswered) as caught:
        kb.answer(posted.entry.stored_id(), "No, never.", expert="Bob")
    error = caught.value
    assert "already answered by Ann" in str(error)
    assert error.draft is not None and Path(error.draft).read_text() == "No, never.\n"
    assert Path(error.draft).parent == kb.drafts_path
    assert kb.get(posted.entry.stored_id()).answer == "Yes, in moderation."


def test_the_check_and_the_write_of_an_answer_are_one_step(kb: KnowledgeBase, kb_db: Path) -> None:
    """A writer that read the question open before another answered it is refused at the write."""
    posted = kb.post("Can I compost citrus peel?")
    question = kb.get(posted.entry.stored_id())
    with KnowledgeBase.open(kb_db) as other:
        other.answer(question.stored_id(), "Yes, in moderation.", expert="Ann")
    late = Entry.from_dict({**question.to_dict(), "answer": "No.", "status": "answered"})
    with pytest.raises(AlreadyAnswered):
        kb.answer_open(late)
    assert kb.get(question.stored_id()).answer == "Yes, in moderation."


def test_an_empty_answer_leaves_the_question_open(kb: KnowledgeBase) -> None:
    posted = kb.post("Can I compost citrus peel?")
    with pytest.raises(InvalidEntry):
        kb.answer(posted.entry.stored_id(), "  \n")
    assert kb.get(posted.entry.stored_id()).is_open


def test_inbox_holds_what_is_addressed_to_the_expert_and_their_categories(kb: KnowledgeBase) -> None:
    mine = kb.post("Do PET scans replace bone scans?", asked_for="higby").entry
    in_category = kb.post("Is chemo brain real?", category="Oncology").entry
    for_ann = kb.post("Is hair loss after chemo permanent?", category="Oncology", asked_for="Ann").entry
    elsewhere = kb.post("When do I prune roses?", category="Gardening").entry
    box = kb.inbox("higby")
    assert box.expert == "Donald Higby, M.D." and box.categories == ["Oncology"]
    assert [w.entry.id for w in box.questions] == [mine.id, in_category.id]
    assert [w.entry.id for w in kb.inbox("ann").questions] == [for_ann.id, elsewhere.id]
    assert len(kb.inbox().questions) == 4
    with pytest.raises(NotFound):
        kb.inbox("nobody at all")


def test_inbox_knows_an_expert_who_has_only_been_asked(kb: KnowledgeBase) -> None:
    posted = kb.post("Which mulch keeps slugs away?", asked_for="Greta Green").entry
    box = kb.inbox("greta green")
    assert box.expert == "Greta Green" and [w.entry.id for w in box.questions] == [posted.id]


def test_inbox_is_oldest_first_with_the_wait(kb: KnowledgeBase) -> None:
    newer = kb.post("Is chemo brain real?", category="Oncology").entry
    older = kb.post("Do PET scans replace bone scans?", category="Oncology").entry
    older.asked_at = "2020-01-01T00:00:00+00:00"
    kb.update(older)
    box = kb.inbox("higby")
    assert [w.entry.id for w in box.questions] == [older.id, newer.id]
    assert box.questions[0].waited > 86400 * 365


def test_waiting_times_and_their_words() -> None:
    asked = Entry(question="q", answer="", status="open", asked_at="2024-01-01T00:00:00+00:00")
    assert waited(asked, datetime(2024, 1, 2, 3, tzinfo=UTC)) == timedelta(days=1, hours=3).total_seconds()
    answered = Entry(
        question="q", answer="a", asked_at="2024-01-01T00:00:00+00:00", answered_at="2024-01-01T00:05:00+00:00"
    )
    assert answer_wait(answered) == 300
    assert answer_wait(Entry(question="q", answer="a")) is None
    assert [duration(s) for s in (5, 120, 3600, 3660, 90000, 86400 * 3)] == ["5s", "2m", "1h", "1h 1m", "1d 1h", "3d"]


def test_follow_ups_link_to_what_they_follow(kb: KnowledgeBase) -> None:
    follow = kb.post("And does a PET scan miss it too?", follows=1).entry
    assert follow.follows == 1
    assert [e.id for e in kb.follow_ups(1)] == [follow.id]
    assert [e.id for e in kb.follow_ups(kb.get(1))] == [follow.id]  # the entry read already (kb show)
    with pytest.raises(NotFound):
        kb.post("Follows nothing?", follows=999)


def test_stats_count_open_and_answered_and_the_median_wait(kb: KnowledgeBase) -> None:
    for n, minutes in enumerate((1, 3, 10)):
        posted = kb.post(f"Question number {n} about compost?").entry
        posted.asked_at = "2024-01-01T00:00:00+00:00"
        kb.update(posted)
        done = kb.answer(posted.stored_id(), "Answered.", expert="Ann")
        done.answered_at = f"2024-01-01T00:{minutes:02d}:00+00:00"
        kb.update(done)
    kb.post("Still waiting about compost?")
    stats = kb.stats().to_dict()
    assert (stats["open"], stats["answered"], stats["median_wait_seconds"]) == (1, 5, 180)


def test_open_questions_and_links_survive_export_and_ingest_byte_for_byte(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.post("Do PET scans replace bone scans?", asked_by="sue", asked_for="higby")
    done = kb.post("Can I compost citrus peel?", follows=2).entry
    kb.answer(done.stored_id(), "Yes, in moderation.", expert="Ann")
    first = tmp_path / "first.jsonl"
    kb.export("jsonl", first)
    with KnowledgeBase.open(tmp_path / "copy" / "kb.json") as copy:
        copy.ingest([str(first)])
        second = tmp_path / "second.jsonl"
        copy.export("jsonl", second)
        assert copy.list(status="open")[0].asked_for == "Donald Higby, M.D."
        assert [e.id for e in copy.follow_ups(2)] == [done.id]
    assert second.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_open_questions_keep_their_fields_through_json_and_csv(kb: KnowledgeBase, tmp_path: Path, fmt: str) -> None:
    kb.post("Do PET scans replace bone scans?", asked_by="sue", asked_for="higby", follows=1)
    dest = tmp_path / f"out.{fmt}"
    kb.export(fmt, dest)
    with KnowledgeBase.open(tmp_path / "copy" / "kb.json") as copy:
        report = copy.ingest([str(dest)])
        assert not report.failures
        [question] = copy.list(status="open")
        assert (question.asked_by, question.asked_for, question.follows) == ("sue", "Donald Higby, M.D.", 1)
        assert question.extra == {} and question.answer == ""
        assert all(e.extra == {} for e in copy.list(status="answered"))


def test_an_open_question_reads_back_from_markdown_and_is_edited_as_one(kb: KnowledgeBase, tmp_path: Path) -> None:
    from kb.parsers.markdown import parse, render_markdown

    posted = kb.post("Is the typo in this questoin fixable?", asked_by="sue", follows=1).entry
    [back] = parse(render_markdown(kb.get(posted.stored_id())), "q.md")
    assert (back.status, back.answer, back.asked_by, back.follows) == ("open", "", "sue", 1)
    edited = kb.update(posted.stored_id(), question="Is the typo in this question fixable?")
    assert edited.is_open and kb.get(posted.stored_id()).question.endswith("question fixable?")
    with pytest.raises(InvalidEntry):
        kb.update(posted.stored_id(), answer="Typed into an edit.")  # answering is kb answer's
