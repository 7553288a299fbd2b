"""The uid's text folding: its quick path for single-spaced ASCII gives what the full one gives."""

from __future__ import annotations

import hashlib
import random
import unicodedata

from kb.models import make_uid, normalise_text


def folded(text: str) -> str:
    """The folding as written out in full: NFKC, every run of white space one space, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def test_normalise_text_quick_path_matches_the_full_folding() -> None:
    spaces = [chr(i) for i in range(128) if chr(i).isspace()]
    assert len(spaces) == 10  # \t \n \v \f \r, the four separators \x1c-\x1f, the space
    cases = ["Why Is The Sky Blue?", "a b", " a", "a ", "", " ", "A\u00a0B", "ÉCOLE  x"]
    cases += [f"one{s}two" for s in spaces] + [f"one {s}two" for s in spaces] + [f"{s}x{s}" for s in spaces]
    rng = random.Random(23)
    alphabet = "aZ9?. " + "".join(spaces)
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(3000)]
    for text in cases:
        assert normalise_text(text) == folded(text), repr(text)


def test_uid_is_the_hash_of_the_folded_question_and_answer() -> None:
    question, answer = "What  is\tGLAUCOMA?", "Glaucoma is a group of diseases\r\nthat damage the optic nerve."
    key = folded(question) + "\x1f" + folded(answer)
    assert make_uid(question, answer) == hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    assert make_uid("what is glaucoma?", "glaucoma is a group of diseases that damage the optic nerve.") == (
        make_uid(question, answer)
    )
