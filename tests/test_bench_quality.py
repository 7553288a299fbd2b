"""The relevance benchmark's measures, on rankings small enough to score by hand."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import quality

JUDGED = {"a": 4, "b": 2, "c": 1, "d": 3}


def test_average_precision_counts_relevant_answers_at_their_ranks():
    # relevant at >= 2: a, b, d; ranked a (1), x, b (3), d (4): (1/1 + 2/3 + 3/4) / 3
    assert quality.average_precision(["a", "x", "b", "d"], JUDGED, 2) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    # at >= 3 only a and d; d is never returned
    assert quality.average_precision(["a", "x"], JUDGED, 3) == pytest.approx(1 / 2)
    assert quality.average_precision(["a"], {"a": 1}, 2) is None


def test_reciprocal_rank_and_first_grade():
    assert quality.reciprocal_rank(["x", "c", "d"], JUDGED, 3) == pytest.approx(1 / 3)
    assert quality.reciprocal_rank(["x"], JUDGED, 2) == 0.0
    assert quality.first_grade(["d"], JUDGED) == 3
    assert quality.first_grade(["x"], JUDGED) == 1  # unjudged counts as incorrect
    assert quality.first_grade([], JUDGED) == 0


def test_ndcg_uses_grade_minus_one_and_the_ideal_of_all_judged():
    ranked = ["b", "a"]
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert quality.ndcg(ranked, JUDGED) == pytest.approx(dcg / ideal)
    assert quality.ndcg(["a", "d", "b"], JUDGED) == pytest.approx(1.0)


def test_score_run_averages_and_condenses():
    qrels = {"q1": JUDGED, "q2": {"z": 4}}
    run = {"q1": ["x", "a"], "q2": []}
    means, rows = quality.score_run(run, qrels, ["q1", "q2"])
    assert rows["q1"]["first"] == 1 and rows["q2"]["first"] == 0
    assert means["score"] == 0.0 and means["succ2"] == 0.0
    condensed, rows = quality.score_run(run, qrels, ["q1", "q2"], condensed=True)
    assert rows["q1"]["first"] == 4  # the unjudged x is dropped
    assert condensed["score"] == pytest.approx(3 / 2) and condensed["succ4"] == pytest.approx(1 / 2)
    assert means["judged1"] == 0.0 and condensed["judged1"] == pytest.approx(1 / 2)


def test_read_qrels_keeps_the_highest_grade(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 a 2\nq1 0 a 4\nq2 0 b 1\n", encoding="utf-8")
    assert quality.read_qrels(path) == {"q1": {"a": 4}, "q2": {"b": 1}}
