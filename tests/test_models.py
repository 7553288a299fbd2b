"""The uid's text folding (its quick path for single-spaced ASCII gives what the full one
gives), and the small value records of kb.models.Record."""

from __future__ import annotations

import hashlib
import random
import unicodedata

import pytest

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


def test_records_compare_and_show_their_fields_as_dataclasses_did() -> None:
    import copy
    import pickle

    from kb.backend import Request
    from kb.search.aliases import Alias
    from kb.search.query import ParsedQuery, Term

    assert Term(["bone"]) == Term(["bone"], prefix=False, column=None, text="", count=1)
    assert Term(["bone"]) != Term(["bone"], prefix=True)
    assert Term(["bone"]) != ("bone",)
    assert repr(Term(["a"], text="a")) == "Term(words=['a'], prefix=False, column=None, text='a', count=1)"
    first, second = ParsedQuery(), ParsedQuery()
    first.should.append(Term(["x"]))
    assert second.should == []  # each gets its own lists
    with pytest.raises(TypeError):
        hash(Term(["a"]))  # mutable: unhashable, as a dataclass with eq

    request = Request(category="oncology", limit=5)
    assert request == Request("oncology", limit=5) and hash(request) == hash(Request("oncology", limit=5))
    assert request.page(10, 20) == Request(category="oncology", limit=10, offset=20)
    assert request.unpaged() == Request(category="oncology")
    with pytest.raises(AttributeError):
        request.limit = 1  # type: ignore[misc]
    assert copy.copy(request) == request and pickle.loads(pickle.dumps(request)) == request
    alias = Alias("ringing ear", "tinnitu", "ringing in the ears", "tinnitus", 3)
    assert {alias, Alias(*pickle.loads(pickle.dumps(alias))._values())} == {alias}
