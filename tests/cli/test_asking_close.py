"""`kb ask` tells a close answer from a weak match (kb.search.closeness), on both backends;
`kb experts` with inbox counts; `kb show --expert`; `kb post --for` a name close to a known one."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from kb.api import KnowledgeBase

MEDQUAD = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "medquad.jsonl.gz"

ENTRIES = [
    ("When is the best time to prune roses?", "Late winter, just before the buds swell.", "Gardening", "Pat Doe"),
    ("How often should I water newly planted roses?", "Twice a week for the first month.", "Gardening", "Pat Doe"),
    ("Why are my tomato leaves curling?", "Heat and uneven watering curl them.", "Gardening", "Pat Doe"),
    ("How do I descale a kettle?", "Boil a mix of water and vinegar, then rinse.", "Home", "Marta Kowalczyk"),
    ("How long should I rest after a marathon?", "Rest a week; walk and stretch.", "Health", "Sam Reyes"),
    ("Can I freeze cooked rice?", "Yes, cool it fast and freeze within the hour.", "Home", "Marta Kowalczyk"),
]


@pytest.fixture
def garden(store: str) -> str:
    with KnowledgeBase.open(store) as kb:
        for question, answer, category, expert in ENTRIES:
            kb.add(question=question, answer=answer, category=category, expert=expert)
        kb.add(
            title="Ankle pain",
            question="What causes ankle pain?",
            answer="Sprains, arthritis and tendon injuries; rest and ice first.",
            category="Health",
            expert="Sam Reyes",
        )
    return store


def test_a_weak_match_is_not_close_and_says_how_to_post(cli, garden: str) -> None:
    # "time" is the only word the question shares with the knowledge base.
    result = cli("ask", "sprained wrist heal time", "--no-pager")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "not close:" in result.stderr and "#1" in result.stderr
    assert "kb post 'sprained wrist heal time'" in result.stderr
    assert "showing" not in result.stderr  # no paging note for a question
    record = json.loads(cli("ask", "sprained wrist heal time", "--json").stdout)
    assert record["answer"] is None and record["others"] == []
    assert [hit["id"] for hit in record["not_close"]][0] == 1


def test_hostile_titles_among_the_weak_matches_stay_inert(cli, store: str) -> None:
    with KnowledgeBase.open(store) as kb:
        kb.add(title="[bold red]x[/] \x1b[31mred\x1b[0m time", question="What time is it?", answer="Noon.")
        kb.add(question="How do I bake bread?", answer="Knead, rise, bake.")
    result = cli("ask", "sprained wrist heal time")
    assert result.exit_code == 1 and "not close:" in result.stderr
    assert "\x1b" not in result.stderr and "[bold red]x[/]" in result.stderr


def test_a_close_question_still_gets_its_answer(cli, garden: str) -> None:
    result = cli("ask", "when should I prune my roses?", "--no-pager")
    assert result.exit_code == 0, result.stderr
    assert "Late winter" in result.stdout and "not close" not in result.stderr
    assert json.loads(cli("ask", "kettle descale", "--json").stdout)["answer"]["id"] == 4


def test_a_long_question_that_names_the_title_is_close(cli, garden: str) -> None:
    story = (
        "I twisted my left ankle playing football five months ago and the x-ray showed nothing; "
        "the physiotherapy helped a little but the ankle pain comes back when I run. What can I do?"
    )
    result = cli("ask", story, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["answer"]["title"] == "Ankle pain"


def test_closeness_reads_both_ways(garden: str) -> None:
    with KnowledgeBase.open(garden) as kb:
        [weak] = kb.ask("sprained wrist heal time").hits[:1]
        [good] = kb.ask("when to prune roses").hits[:1]
        story = kb.ask("my ankle pain after a long football match on a frozen pitch in december").hits[0]
        assert kb.closeness("sprained wrist heal time", [weak])[weak.entry.stored_id()] < 0.5
        assert kb.closeness("when to prune roses", [good])[good.entry.stored_id()] == 1.0
        assert story.entry.title == "Ankle pain"
        share = kb.closeness("my ankle pain after a long football match on a frozen pitch in december", [story])
        assert share[story.entry.stored_id()] == 1.0  # the question holds the whole title
        assert kb.closeness("when to prune roses", []) == {}


def test_experts_list_their_inbox_counts_in_every_format(cli, garden: str) -> None:
    assert cli("post", "Is grey water fine for roses?", "--for", "pat doe").exit_code == 0
    cli("post", "Should I stretch before a run?", "--category", "Health")
    table = cli("experts")
    assert table.exit_code == 0 and "inbox" in table.stdout.splitlines()[0]
    pat = next(line for line in table.stdout.splitlines() if line.startswith("Pat Doe"))
    assert pat.split()[2:4] == ["3", "1"]
    records = {r["name"]: r for r in json.loads(cli("experts", "--json").stdout)}
    assert (records["Pat Doe"]["inbox"], records["Sam Reyes"]["inbox"], records["Marta Kowalczyk"]["inbox"]) == (
        1,
        1,
        0,
    )
    lines = [json.loads(line) for line in cli("experts", "--format", "jsonl").stdout.splitlines()]
    assert {r["name"]: r["inbox"] for r in lines} == {"Pat Doe": 1, "Sam Reyes": 1, "Marta Kowalczyk": 0}
    rows = list(csv.DictReader(io.StringIO(cli("experts", "--format", "csv").stdout)))
    assert {r["name"]: r["inbox"] for r in rows} == {"Pat Doe": "1", "Sam Reyes": "1", "Marta Kowalczyk": "0"}
    assert cli("experts", "--format", "ids").stdout.splitlines()[0] in {"Pat Doe", "Marta Kowalczyk", "Sam Reyes"}
    one = list(csv.DictReader(io.StringIO(cli("experts", "pat", "--format", "csv").stdout)))
    assert one[0]["inbox"] == "1"


def test_show_expert_shows_the_profile_as_experts_name_does(cli, garden: str) -> None:
    cli("post", "Is grey water fine for roses?", "--for", "pat doe")
    for fmt in ("table", "json", "jsonl", "csv", "ids"):
        shown = cli("show", "--expert", "pat", "--format", fmt)
        assert shown.exit_code == 0, shown.stderr
        assert shown.stdout == cli("experts", "pat", "--format", fmt).stdout
    assert json.loads(cli("show", "--expert", "pat", "--json").stdout)["inbox"] == 1
    missing = cli("show", "--expert", "nobody at all")
    assert missing.exit_code == 1 and "no expert" in missing.stderr
    assert cli("show", "--expert", "pat", "1").exit_code == 2
    assert cli("show", "--expert", "pat", "--raw").exit_code == 2
    assert cli("show").exit_code == 2


def test_post_for_a_name_close_to_an_expert_is_posted_with_a_notice(cli, garden: str) -> None:
    result = cli("post", "Do roses like coffee grounds?", "--for", "Pat Dow")
    assert result.exit_code == 0, result.stderr
    assert "no expert named Pat Dow yet; did you mean 'Pat Doe'?" in result.stderr
    assert json.loads(cli("show", result.stdout.strip(), "--json").stdout)["asked_for"] == "Pat Dow"
    known = cli("post", "Do roses like tea leaves?", "--for", "pat")
    assert known.exit_code == 0 and "no expert named" not in known.stderr
    new = cli("post", "Do roses like banana peel?", "--for", "Zebulon Quist")
    assert new.exit_code == 0 and "no expert named" not in new.stderr


@pytest.mark.skipif(not MEDQUAD.exists(), reason="the MedQuAD corpus is not beside the checkout")
def test_ordinary_questions_on_medquad_get_their_answer(kb_db: Path, tmp_path: Path) -> None:
    # The first 3,000 records and every one about the topics asked here (real questions
    # of the kind the corpus answers, and one it has nothing on).
    topics = {"Shingles", "Adult Acute Lymphoblastic Leukemia"}
    with gzip.open(MEDQUAD, "rt", encoding="utf-8") as lines:
        records = [line for n, line in enumerate(lines) if n < 3000 or json.loads(line)["title"] in topics]
    path = tmp_path / "medquad.jsonl"
    path.write_text("".join(records), encoding="utf-8")
    with KnowledgeBase.open(kb_db) as kb:
        kb.ingest([str(path)])
        for question in (
            "what are the symptoms of shingles",
            "how is adult acute lymphoblastic leukemia treated?",
            "my father was told he has acute lymphoblastic leukemia at 60, what are his chances?",
        ):
            best = kb.ask(question).hits[0]
            assert kb.closeness(question, [best])[best.entry.stored_id()] >= 0.5, (question, best.entry.title)
        weak = kb.ask("best pizza dough recipe").hits
        assert not weak or kb.closeness("best pizza dough recipe", weak[:1])[weak[0].entry.stored_id()] < 0.5
