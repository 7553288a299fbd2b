"""The second stage's features, their pure part: both backends look the facts up in their
own index and compute the features here (kb.search.fusion.second_stage weighs them).

- The topic (fusion.add_topic): the share of the question's rare words that each
  candidate's head holds. topic_terms picks the words looked up, topic_weights weighs
  them (idf squared times the share of the entries using a word that have it in their
  title, never below TOPIC_SHARE_FLOOR), coverage sums the weights a head holds.
- The kind of thing each entry asks (fusion.add_kind): kind_words reads the words an
  entry's question adds to its title, unasked the share of them the question lacks.

The files backend (kb.search.ranking) reads the facts from its FTS5 tables, the PostgreSQL
backend (kb.postgres.searching) from its postings and stems.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from kb.search import query as _query
from kb.search.planning import COMMON_SHARE, Planned
from kb.search.schema import WORD, fold, head_words

# The topic stage (fusion.add_topic) looks up at most this many of a question's rarest
# words in the candidates' heads, and stops before their postings pass the budget: FTS5
# reads a word's whole posting list to test a few entries (~0.35 us a posting).
TOPIC_TERMS = 8
TOPIC_BUDGET = 20_000
# Each word's weight there is also scaled by the share of the entries using it that have it
# in their title: a corpus statistic of how much the word names topics (topic_weights).
TOPIC_TITLES = True
# ... but never below this share: a rare word no title holds ("ibuprofen" where no entry is
# titled with it) still names the question's topic, and without a floor the generic words
# that a title happens to hold ("taking") took all the weight, so that an entry titled
# "... Taking Steps to Lower Your Risk" covered the whole of "is it safe to take ibuprofen
# while pregnant". Chosen by 5-fold cross-validation from {0, 0.02, 0.05, 0.1}
# (bench/RESULTS-quality.md): neutral on MAP held out, +0.015 on the first answer's score.
TOPIC_SHARE_FLOOR = 0.02
# Whether the planner's guesses at words the question did not use (spellings, completions
# of an unknown start) count in the topic. They do not: "guys" guessed as "guns", rare, took
# the topic of "I have an hernia ... could you guys help me" to "Gun Safety". The guesses
# are still searched.
TOPIC_GUESSES = False


def topic_terms(planned: list[Planned], total: int) -> tuple[dict[str, Planned], list[tuple[str, Planned]]]:
    """The question's terms that can name its topic, by their MATCH text (``usable``), and
    the rarest of them that are looked up in the heads (``kept``, within TOPIC_TERMS and
    TOPIC_BUDGET). No kept term when fewer than two are usable: one word is all the topic."""
    total = max(total, 1)
    usable = {p.term.fts(): p for p in planned if 0 < p.df <= total * COMMON_SHARE and (TOPIC_GUESSES or not p.guess)}
    if len(usable) < 2:
        return usable, []
    kept: list[tuple[str, Planned]] = []
    postings = 0
    for key, item in sorted(usable.items(), key=lambda kv: kv[1].df)[:TOPIC_TERMS]:
        postings += item.df
        if postings > TOPIC_BUDGET:
            break
        kept.append((key, item))
    return usable, kept


def title_share(titled: int, df: int) -> float:
    """The share of a term's ``df`` entries whose title holds it (``titled`` of them)."""
    return min(1.0, titled / df) if df else 0.0


def topic_weights(usable: Mapping[str, Planned], titled: Mapping[str, float], total: int) -> dict[str, float]:
    """Each usable term's share of the question's topic: its idf squared, times its title
    share (``titled``, by MATCH text; a term without one weighs nothing) when TOPIC_TITLES
    is on, over the sum of all of them. Without title shares the commoner words, which
    weigh little, count in the whole though they are not looked up."""
    total = max(total, 1)
    weight = {}
    for key, p in usable.items():
        weight[key] = math.log((total - p.df + 0.5) / (p.df + 0.5)) ** 2
        if TOPIC_TITLES:
            share = titled.get(key)
            weight[key] *= 0.0 if share is None else max(share, TOPIC_SHARE_FLOOR)
    whole = sum(weight.values()) or 1.0
    return {key: w / whole for key, w in weight.items()}


def coverage(holders: Mapping[str, Iterable[int]], weights: Mapping[str, float]) -> dict[int, float]:
    """Each entry's topic coverage: the weights of the terms whose holders it is among."""
    out: dict[int, float] = {}
    for key, ids in holders.items():
        for entry_id in ids:
            out[entry_id] = out.get(entry_id, 0.0) + weights[key]
    return out


def kind_words(title: str, question: str) -> list[str]:
    """The words an entry's question adds to its title that say what kind of thing it asks
    ("causes" in "Stroke | What causes Stroke ?"), folded as the index folds them: stop
    words and single letters aside."""
    added = map(fold, head_words(WORD.findall(title), WORD.findall(question)))
    return [w for w in added if len(w) > 1 and w not in _query.STOP_WORDS]


def word_stems(words: set[str], stems: Callable[[list[str]], list[list[str]]]) -> dict[str, str]:
    """The index's stem of each of these single words, by ``stems`` (a backend's tokenizer:
    texts to their stems). Tokenized as one text, whose cost is one row's; a word that does
    not give one stem is then tokenized alone, and left out unless it gives one."""
    ordered = sorted(words)
    found = stems([" ".join(ordered)])[0] if ordered else []
    if len(found) == len(ordered):
        return dict(zip(ordered, found))
    return {w: group[0] for w, group in zip(ordered, stems(ordered)) if len(group) == 1}


def unasked(
    heads: Mapping[int, tuple[str, str]], planned: list[Planned], stems: Callable[[list[str]], list[list[str]]]
) -> dict[int, float]:
    """For each entry (id -> title, question) whose question adds words to its title, the
    share of those words (compared by stem) that the question does not hold."""
    words = {entry_id: set(kind_words(title, question)) for entry_id, (title, question) in heads.items()}
    stem_of = word_stems({w for found in words.values() for w in found}, stems)
    asked = {stem for p in planned for stem in p.stems}
    out = {}
    for entry_id, found in words.items():
        kinds = {stem_of[w] for w in found if w in stem_of}
        if kinds:
            out[entry_id] = len(kinds - asked) / len(kinds)
    return out
