"""Benchmark corpora for kb: the real MedQuAD pairs at 1k, 16k, 100k (and 1M) records.

From ``../shared/corpora/medquad.jsonl.gz`` (never copied into the repository) this writes,
into a work folder (default ``bench/out/corpora``, git-ignored), for every size:

- ``medquad-<size>.jsonl``: one JSON object per line (id, title, category, qtype,
  question, answer, url), what ``kb ingest`` streams;
- ``qa-<size>/NNN/NNNNNN.txt``: one file per record in kb's ``qa`` format
  (``Title:``/``Category:`` headers, then ``Q:``/``A:``), 1,000 files per folder;
- ``txt-<size>/NNN/NNNNNN.txt``: the same records as plain text, for ripgrep.

1k is a fixed random sample of the real corpus; 16k is the real corpus as it is; 100k and
1M replicate it: copy 0 is the original and every further copy gets a new id, its
sentences shuffled within each paragraph and a few neighbouring words swapped, so that
kb's de-duplication (a hash of the normalised question and answer) cannot collapse it
while the text keeps its vocabulary and its look. ``--smoke`` synthesises 1k records from
a small built-in medical vocabulary instead, so CI needs no corpus.

Usage: python bench/corpus.py [CORPUS] [--out DIR] [--sizes 1k,16k,100k] [--million] [--smoke]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "medquad.jsonl.gz"
DEFAULT_OUT = REPO / "bench" / "out" / "corpora"
# Bump when the generated text changes, so cached corpora are rebuilt.
GENERATOR_VERSION = 1
SEED = 20240611
FILES_PER_FOLDER = 1000

SIZES = {"1k": 1_000, "16k": None, "100k": 100_000, "1m": 1_000_000}
# Sizes also written as one file per record (1M files would cost more disk than they teach).
FILE_SIZES = {"smoke", "1k", "16k", "100k"}


# -- reading and de-duplication keys ---------------------------------------------------

_SPACE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    # The same folding as kb.models.normalise_text (NFKC, whitespace collapsed, casefold),
    # repeated here so the generator does not depend on kb's internals.
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def content_key(record: dict) -> bytes:
    """Return a short hash of the normalised question and answer (what kb de-duplicates on)."""
    text = _normalise(record["question"]) + "\x1f" + _normalise(record["answer"])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def kb_uid(record: dict) -> str:
    """Return the uid kb gives a record (as kb.models.make_uid), to look it up by prefix."""
    text = _normalise(record["question"]) + "\x1f" + _normalise(record["answer"])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_records(path: Path) -> list[dict]:
    """Read the MedQuAD JSONL (gzipped or not) into a list of records."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# -- perturbation -----------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'-])")


def _shuffle_sentences(line: str, rng: random.Random) -> str:
    sentences = _SENTENCE_END.split(line)
    if len(sentences) > 1:
        rng.shuffle(sentences)
    return " ".join(sentences)


def _swap_words(line: str, rng: random.Random, swaps: int) -> str:
    words = line.split(" ")
    if len(words) < 3:
        return line
    for _ in range(swaps):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def perturb_text(text: str, rng: random.Random, *, shuffle: bool = True) -> str:
    """Shuffle sentences inside each paragraph and swap about one word pair in forty."""
    out = []
    for line in text.split("\n"):
        if line.strip():
            if shuffle:
                line = _shuffle_sentences(line, rng)
            line = _swap_words(line, rng, 1 + line.count(" ") // 40)
        out.append(line)
    return "\n".join(out)


def perturb(record: dict, copy: int, rng: random.Random) -> dict:
    """Return copy number ``copy`` of a record: a new id and reshuffled, still-readable text."""
    new = dict(record)
    new["id"] = f"{record['id']}~r{copy}"
    new["answer"] = perturb_text(record["answer"], rng)
    # Questions are short: one swap in two keeps most of them as people wrote them.
    if rng.random() < 0.5:
        new["question"] = perturb_text(record["question"], rng, shuffle=False)
    return new


def scaled(records: list[dict], total: int, seed: int = SEED) -> Iterator[dict]:
    """Yield ``total`` records with distinct content: the originals, then perturbed copies.

    A record whose content was already yielded (MedQuAD repeats a few pairs, and a swap
    can undo an earlier one) is perturbed again, then given a numbered suffix as a last
    resort, so every yielded record is a distinct kb entry.
    """
    seen: set[bytes] = set()
    produced = 0
    copy = 0
    while produced < total:
        for index, record in enumerate(records):
            if produced >= total:
                return
            rng = random.Random(f"{seed}:{copy}:{index}")
            candidate = record if copy == 0 else perturb(record, copy, rng)
            key = content_key(candidate)
            attempt = 0
            while key in seen:
                attempt += 1
                candidate = perturb(record, copy, rng)
                if attempt > 5:
                    candidate["answer"] += f" ({copy}.{attempt})"
                key = content_key(candidate)
            seen.add(key)
            produced += 1
            yield candidate
        copy += 1


def sample(records: list[dict], count: int, seed: int = SEED) -> list[dict]:
    """Return ``count`` records with distinct content, chosen at random, in corpus order."""
    unique: dict[bytes, int] = {}
    for index, record in enumerate(records):
        unique.setdefault(content_key(record), index)
    chosen = sorted(random.Random(seed).sample(sorted(unique.values()), count))
    return [records[i] for i in chosen]


# -- the synthetic smoke corpus --------------------------------------------------------

_CONDITIONS = (
    "acute myeloid leukemia",
    "aplastic anemia",
    "multiple myeloma",
    "sickle cell disease",
    "osteoporosis",
    "type 2 diabetes",
    "chronic kidney disease",
    "asthma",
    "migraine",
    "Parkinson disease",
    "lupus",
    "psoriasis",
    "celiac disease",
    "hepatitis C",
    "glaucoma",
    "Hodgkin lymphoma",
    "cystic fibrosis",
    "hemophilia",
    "thalassemia",
    "gout",
)
_QUESTIONS = (
    "What is (are) {c} ?",
    "What are the symptoms of {c} ?",
    "What are the treatments for {c} ?",
    "How to diagnose {c} ?",
    "What causes {c} ?",
    "Is {c} inherited ?",
    "How many people are affected by {c} ?",
    "What is the outlook for {c} ?",
    "Who is at risk for {c} ?",
    "How to prevent {c} ?",
)
_SUBJECTS = (
    "The bone marrow",
    "A blood test",
    "Chemotherapy",
    "Radiation therapy",
    "A stem cell transplant",
    "The doctor",
    "Physical therapy",
    "A kidney biopsy",
    "Genetic testing",
    "Regular exercise",
    "A healthy diet",
    "Pain medicine",
    "An MRI scan",
    "A bone scan",
    "The immune system",
)
_VERBS = (
    "can help with",
    "may reduce",
    "is used to detect",
    "often causes",
    "may increase the risk of",
    "is part of the treatment of",
    "can show signs of",
    "rarely affects",
    "is linked to",
    "protects against",
)
_OBJECTS = (
    "fatigue and weakness",
    "infections",
    "joint pain",
    "red blood cells",
    "platelets",
    "white blood cells",
    "bone loss",
    "high blood sugar",
    "swelling in the legs",
    "shortness of breath",
    "side effects",
    "kidney problems",
    "the nervous system",
    "inflammation",
    "fever and night sweats",
)


def synthetic_records(count: int = 1000, seed: int = SEED) -> list[dict]:
    """Return ``count`` distinct MedQuAD-like records made from a small medical vocabulary."""
    rng = random.Random(seed)
    seen: set[bytes] = set()
    records = []
    while len(records) < count:
        n = len(records)
        condition = _CONDITIONS[n % len(_CONDITIONS)]
        qtype = (n // len(_CONDITIONS)) % len(_QUESTIONS)
        sentences = [
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} in {condition}."
            for _ in range(rng.randint(3, 9))
        ]
        half = len(sentences) // 2
        record = {
            "id": f"SYN_{n:07d}",
            "title": condition[0].upper() + condition[1:],
            "category": ("GARD", "GHR", "NIDDK", "CancerGov", "NHLBI")[n % 5],
            "qtype": _QUESTIONS[qtype].split(" ")[2],
            "question": _QUESTIONS[qtype].format(c=condition),
            "answer": " ".join(sentences[:half]) + "\n\n" + " ".join(sentences[half:]),
            "url": f"https://example.org/{condition.replace(' ', '-')}",
        }
        key = content_key(record)
        if key in seen:
            continue
        seen.add(key)
        records.append(record)
    return records


# -- writing ----------------------------------------------------------------------------


def qa_text(record: dict) -> str:
    """Render one record in kb's ``qa`` format."""
    head = []
    if record.get("title"):
        head.append(f"Title: {record['title']}")
    if record.get("category"):
        head.append(f"Category: {record['category']}")
    return "\n".join(head) + f"\n\nQ: {record['question']}\nA: {record['answer']}\n"


def plain_text(record: dict) -> str:
    """Render one record as plain text (title, question, answer), for ripgrep."""
    return f"{record.get('title') or ''}\n\n{record['question']}\n\n{record['answer']}\n"


def write_corpus(records: Iterable[dict], out: Path, name: str, *, files: bool) -> dict:
    """Write one corpus as JSONL and, if ``files``, as one qa file and one text file per record."""
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / f"medquad-{name}.jsonl"
    qa_dir, txt_dir = out / f"qa-{name}", out / f"txt-{name}"
    for folder in (qa_dir, txt_dir):
        if folder.exists():
            shutil.rmtree(folder)
    count = 0
    tmp = jsonl.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            if files:
                shard = f"{count // FILES_PER_FOLDER:03d}"
                if count % FILES_PER_FOLDER == 0:
                    (qa_dir / shard).mkdir(parents=True)
                    (txt_dir / shard).mkdir(parents=True)
                leaf = f"{count:06d}.txt"
                (qa_dir / shard / leaf).write_text(qa_text(record), encoding="utf-8")
                (txt_dir / shard / leaf).write_text(plain_text(record), encoding="utf-8")
            count += 1
    os.replace(tmp, jsonl)
    # Paths are kept relative to ``out`` in the manifest, so the folder can move.
    info = {"name": name, "records": count, "jsonl": jsonl.name, "jsonl_bytes": jsonl.stat().st_size}
    if files:
        info.update(qa_dir=qa_dir.name, txt_dir=txt_dir.name)
    return info


def _source_stamp(path: Path | None) -> str:
    if path is None:
        return "synthetic"
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def build(
    corpus: Path | None,
    out: Path,
    sizes: Iterable[str],
    *,
    smoke: bool = False,
    force: bool = False,
    log=print,  # any print-like callable
) -> dict[str, dict]:
    """Write the requested corpora (reusing ones already built from the same source); return their manifest.

    With ``smoke`` the only corpus is 1k synthetic records named ``smoke`` and ``corpus`` is
    not read. Otherwise ``corpus`` must exist.
    """
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    wanted = ["smoke"] if smoke else list(sizes)
    stamp = _source_stamp(None if smoke else corpus)
    records: list[dict] | None = None
    for name in wanted:
        known = manifest.get(name)
        if (
            not force
            and known
            and known.get("source") == stamp
            and known.get("version") == GENERATOR_VERSION
            and (out / known["jsonl"]).exists()
            and (name not in FILE_SIZES or (out / known.get("qa_dir", "-")).exists())
        ):
            log(f"corpus {name}: {known['records']:,} records (cached in {out})")
            continue
        if name == "smoke":
            source: Iterable[dict] = synthetic_records(1000)
        else:
            if records is None:
                assert corpus is not None
                records = load_records(corpus)
            size = SIZES[name]
            if size is None:
                source = records
            elif size <= len(records):
                source = sample(records, size)
            else:
                source = scaled(records, size)
        log(f"corpus {name}: writing to {out} ...")
        info = write_corpus(source, out, name, files=name in FILE_SIZES)
        info.update(source=stamp, version=GENERATOR_VERSION)
        manifest[name] = info
        manifest_path.write_text(json.dumps(manifest, indent=1))
        log(f"corpus {name}: {info['records']:,} records")
    return {name: _absolute(manifest[name], out) for name in wanted}


def _absolute(info: dict, out: Path) -> dict:
    return {k: str(out / v) if k in ("jsonl", "qa_dir", "txt_dir") else v for k, v in info.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="medquad.jsonl.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="work folder (default bench/out/corpora)")
    parser.add_argument("--sizes", default="1k,16k,100k", help="comma-separated: 1k,16k,100k,1m")
    parser.add_argument("--million", action="store_true", help="also write the 1M-record JSONL")
    parser.add_argument("--smoke", action="store_true", help="1k synthetic records only; needs no corpus")
    parser.add_argument("--force", action="store_true", help="rewrite corpora even when cached")
    args = parser.parse_args(argv)
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    if args.million and "1m" not in sizes:
        sizes.append("1m")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    if not args.smoke and not args.corpus.exists():
        print(f"corpus not found, skipping: {args.corpus} (use --smoke for a synthetic 1k corpus)")
        return 0
    build(None if args.smoke else args.corpus, args.out, sizes, smoke=args.smoke, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
