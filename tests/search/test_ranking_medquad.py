"""Ranking on a real knowledge base: questions as people type them, on the MedQuAD corpus.

Each question names a condition (or a drug) with everyday words around it; the
condition's own entry must come first, or, where the question asks a kind of thing about
it, among the first three. Skipped when the corpus (MedQuAD, Ben Abacha and
Demner-Fushman 2019, CC BY 4.0) is not beside the checkout; it is read in place.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kb.models import Entry

MEDQUAD = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "medquad.jsonl.gz"

# The whole module is slow: its index of 16k entries takes ~20 s to build.
pytestmark = [pytest.mark.skipif(not MEDQUAD.exists(), reason="medquad corpus not present"), pytest.mark.slow]

# (question, the title of the entry that answers it, how high it must rank)
CASES = [
    ("my mom was told she has macular degeneration", "macular degeneration", 1),
    ("my mom was told she has macular degeneration what does that mean", "macular degeneration", 1),
    ("my husband has shingles is it contagious", "shingles", 1),
    ("my husband was diagnosed with shingles is it contagious", "shingles", 1),
    ("early signs of parkinsons disease", "parkinson disease", 1),
    ("early signs of parkinsons disease in older adults", "parkinson disease", 1),
    ("my 3 year old has a fever of 39 what should i do", "fever", 3),
    ("I keep getting UTIs", "urinary tract infections", 1),
    ("heart atack", "heart attack", 1),
    ("can I take medicines when pregnant", "pregnancy and medicines", 1),
    # "men" is also an abbreviation the corpus defines (multiple endocrine neoplasia).
    ("can men get breast cancer", "breast cancer", 1),
]
# Words a person uses that the knowledge base's titles do not: its answers define them
# ("ringing in the ears (tinnitus)", "transient ischemic attack (mini-stroke)"), and the
# aliases learned from those definitions find the entries' term (kb.search.aliases).
LAY_WORDS = [
    ("ringing in my ears", "tinnitus", 3),
    ("I think I had a mini stroke", "transient ischemic attack", 3),
]
# A lay word the corpus never uses: no entry says "afib" (only "atrial fibrillation (AF)"),
# so nothing can be learned. With the semantic option the entries nearest by meaning can
# join the candidates (fusion.NEIGHBOUR_WEIGHT), but that lost on cross-validation and is
# off; and the static embedding's nearest entry to "what is afib" is barely nearer than
# Afibrinogenemia (bench/RESULTS-quality.md).
UNDEFINED_LAY_WORDS = [("what is afib", "atrial fibrillation", 3)]
# A Japanese entry among the English ones: kb search 糖尿病 must find it by its first word.
JAPANESE = Entry(id=10**6, title="糖尿病とは", question="糖尿病とは何ですか", answer="血糖値が高くなる病気です。")


@pytest.fixture(scope="module")
def index(module_index_of):
    entries = []
    with gzip.open(MEDQUAD, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            record = json.loads(line)
            fields = {k: record.get(k) or "" for k in ("title", "question", "answer", "category")}
            entries.append(Entry(id=number, **fields))
    return module_index_of([*entries, JAPANESE])


@pytest.mark.parametrize("question,title,within", CASES, ids=[c[0][:48] for c in CASES])
def test_ranking_medquad_the_condition_entry_first(index, question, title, within):
    titles = [hit.entry.title.lower() for hit in index.search(question, limit=within).hits]
    assert title in titles, titles


@pytest.mark.parametrize("question,title,within", LAY_WORDS, ids=[c[0] for c in LAY_WORDS])
def test_ranking_medquad_lay_words_find_the_corpus_term(index, question, title, within):
    titles = [hit.entry.title.lower() for hit in index.search(question, limit=within).hits]
    assert any(title in t for t in titles), titles


@pytest.mark.xfail(reason="no entry uses the lay word: nothing defines it, and meaning is not enough", strict=False)
@pytest.mark.parametrize("question,title,within", UNDEFINED_LAY_WORDS, ids=[c[0] for c in UNDEFINED_LAY_WORDS])
def test_ranking_medquad_undefined_lay_words_find_the_corpus_term(index, question, title, within):
    titles = [hit.entry.title.lower() for hit in index.search(question, limit=within).hits]
    assert any(title in t for t in titles), titles


def test_ranking_medquad_a_drug_while_pregnant_finds_pregnancy(index):
    # It once put "Am I at Risk for Type 2 Diabetes? Taking Steps ..." first: no title holds
    # "ibuprofen" or "pregnant"; the titles say "pregnancy" (kb.search.planning, FAMILY_*).
    titles = [h.entry.title.lower() for h in index.search("is it safe to take ibuprofen while pregnant", limit=3).hits]
    assert all("pregnancy" in t for t in titles), titles


@pytest.mark.xfail(
    reason="no word of the question names medicines; the entry's question, 'Do you have information about ...', "
    "is longer than the other pregnancy entries' 'What is (are) ...' (kb.search.schema.HEAD_QUESTION: 5th "
    "even without the kind stage) and asks for information, which the question does not "
    "(kb.search.fusion.KIND_WEIGHT: 18th); sparing single-entry topics from the kind stage loses on the "
    "relevance benchmark (bench/RESULTS-quality.md)",
    strict=False,
)
def test_ranking_medquad_a_drug_while_pregnant_finds_pregnancy_and_medicines(index):
    titles = [h.entry.title.lower() for h in index.search("is it safe to take ibuprofen while pregnant", limit=3).hits]
    assert "pregnancy and medicines" in titles, titles


def test_ranking_medquad_a_cjk_word_finds_the_entry_titled_with_it(index):
    hits = index.search("糖尿病").hits
    assert hits and hits[0].entry.title == "糖尿病とは"


def test_ranking_medquad_spelled_right_words_get_no_suggestion(index):
    result = index.search('"heart atack"')
    assert result.suggestions == ["attack"]


def test_ranking_medquad_long_pasted_text_finds_its_subject(index):
    # The answers of one condition pasted whole: about 15,000 characters.
    rows = index.conn.execute(
        "SELECT answer FROM entries WHERE lower(title) = 'parkinson disease' ORDER BY length(answer) DESC"
    ).fetchall()
    text = "\n".join(r[0] for r in rows)[:15000]
    assert len(text) > 10000
    result = index.search(text, limit=3)
    assert result.reason is None and result.total > 100
    assert "parkinson disease" in [hit.entry.title.lower() for hit in result.hits]


def test_ranking_medquad_100k_characters_pasted_still_find_entries(index):
    rows = index.conn.execute("SELECT answer FROM entries ORDER BY id LIMIT 400").fetchall()
    text = "\n".join(r[0] for r in rows)[:100_000]
    assert len(text) == 100_000
    result = index.search(text, limit=3)
    assert result.reason is None and result.hits and result.total > 100


@pytest.mark.parametrize(
    "question,topic", [("how do you treat shingles", "shingles"), ("how do they treat gout", "gout")]
)
def test_ranking_medquad_treat_finds_the_entries_on_treatment(index, question, topic):
    # "treat" also searches "treatment", the word the entries' titles and questions use.
    first = index.search(question, limit=1).hits[0].entry
    assert topic in first.title.lower() and "treatment" in (first.title + first.question).lower()
