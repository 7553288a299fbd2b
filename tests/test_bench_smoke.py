"""The benchmark's corpus generator: the synthetic smoke corpus and the replication that scales MedQuAD.

Fast and timing-free; the benchmark itself runs in CI as ``python bench/run.py --smoke``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from kb.models import make_uid
from kb.parsers import qa

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def corpus():
    spec = importlib.util.spec_from_file_location("bench_corpus", BENCH / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_corpus_counts_and_uniqueness(corpus, tmp_path):
    manifest = corpus.build(None, tmp_path, [], smoke=True, log=lambda _: None)
    info = manifest["smoke"]
    assert info["records"] == 1000
    records = [json.loads(line) for line in Path(info["jsonl"]).read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1000
    assert len({r["id"] for r in records}) == 1000
    # Distinct under kb's own de-duplication key, so a store of it holds 1,000 entries.
    assert len({make_uid(r["question"], r["answer"]) for r in records}) == 1000
    qa_files = sorted(Path(info["qa_dir"]).rglob("*.txt"))
    txt_files = sorted(Path(info["txt_dir"]).rglob("*.txt"))
    assert len(qa_files) == len(txt_files) == 1000
    assert len({p.parent for p in qa_files}) == 1  # 1,000 files per folder
    assert any("bone marrow" in r["answer"].lower() for r in records)


def test_smoke_qa_file_parses_to_its_record(corpus, tmp_path):
    info = corpus.build(None, tmp_path, [], smoke=True, log=lambda _: None)["smoke"]
    record = json.loads(Path(info["jsonl"]).read_text(encoding="utf-8").splitlines()[7])
    path = Path(info["qa_dir"]) / "000" / "000007.txt"
    (entry,) = qa.parse(path.read_text(encoding="utf-8"), str(path))
    assert (entry.question, entry.answer, entry.title) == (record["question"], record["answer"], record["title"])
    assert entry.uid == corpus.kb_uid(record)


def test_scaled_copies_are_distinct_and_keep_words(corpus):
    base = corpus.synthetic_records(50)
    # Two identical originals: the replica must still be distinct entries.
    base.append(dict(base[0], id="dup"))
    out = list(corpus.scaled(base, 400))
    assert len(out) == 400
    assert len({r["id"] for r in out}) == 400
    assert len({corpus.content_key(r) for r in out}) == 400
    original = {r["id"]: r for r in base}
    for copy in out[len(base) : len(base) + 20]:
        source = original[copy["id"].split("~")[0]]
        assert sorted(copy["answer"].split()) == sorted(source["answer"].split())


def test_missing_corpus_skips_cleanly(corpus, tmp_path, capsys):
    assert corpus.main([str(tmp_path / "absent.jsonl.gz"), "--out", str(tmp_path / "out")]) == 0
    assert "corpus not found, skipping" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
