"""Parser for scraped "ask an expert" pages (DESIGN.md, input format 1).

A page is ``Category/Title``, the member's question and the expert's answer as bare
paragraphs (the labels are usually gone, so the split is inferred by scoring), then a
footer with the category, site navigation, the expert's name and bio, and a copyright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.errors import ParseError
from kb.models import EXPERT_FIELDS, Entry, Expert, Source
from kb.parsers import leftovers
from kb.parsers.expert_bio import bio_label, looks_like_name, parse_bio, tokens_of_name

NAME = "expert-page"
UNNAMED_EXPERT = "(unnamed expert)"

# ---------------------------------------------------------------------------
# Text preparation


@dataclass
class _Para:
    """A run of non-blank lines; ``line`` is the 1-based number of its first line."""

    line: int
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# Lone surrogates (from a caller's surrogateescape decoding, or a fuzzer) cannot be
# encoded as UTF-8, and Entry's uid hashes UTF-8; they become U+FFFD in parsed fields.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Non-breaking and other fixed-width spaces scraped pages are full of.
_ODD_SPACE = re.compile("[\u00a0\u2007\u202f]")


def _prepare(text: str) -> list[str]:
    """Split ``text`` into lines with CR/CRLF, odd spaces and trailing blanks normalised."""
    text = _SURROGATE.sub("\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = leftovers.decode_entities(text)  # before odd spaces: "&nbsp;" is one
    text = _ODD_SPACE.sub(" ", text)
    if text.startswith("\ufeff"):
        text = text[1:]
    # split("\n") rather than splitlines(): line numbers must match what an editor shows,
    # and splitlines() also breaks on form feeds and other rare separators.
    return [line.rstrip() for line in text.split("\n")]


def _paragraphs(lines: list[str], numbers: list[int]) -> list[_Para]:
    """Group lines (with their 1-based numbers) into paragraphs at blank lines."""
    paras: list[_Para] = []
    current: _Para | None = None
    for number, line in zip(numbers, lines):
        if not line.strip():
            current = None
            continue
        if current is None:
            current = _Para(number)
            paras.append(current)
        current.lines.append(line)
    return paras


def _norm(text: str) -> str:
    """Fold text for comparisons: collapsed spaces, case-folded, straight apostrophes."""
    return " ".join(text.replace("\u2019", "'").split()).casefold()


# ---------------------------------------------------------------------------
# Footer, header and copyright

_MARKERS = {"all answers", "answers by expert", "answers by expert:", "ask experts", "ask an expert"}
_BY_EXPERT = re.compile(r"^answers by expert\s*:\s*(\S.*)$", re.IGNORECASE)
# The links a page shows beside the expert's name, run into its line when the page's
# links stand side by side ("Answers by Expert: Jane Roe Ask Experts").
_NAME_LINKS = re.compile(r"\s*\b(?:ask experts|ask an expert|all answers)\s*$", re.IGNORECASE)

_COPYRIGHT = re.compile(
    r"^\s*(?:©|\(c\)|copyright\b)\s*(?:©|\(c\))?\s*"
    r"((?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)?\d\d)?)\b\s*(.*)$",
    re.IGNORECASE,
)
_RIGHTS = re.compile(r"\ball rights reserved\b.*$", re.IGNORECASE)


def _is_marker(line: str) -> bool:
    # A page saved as HTML may list its navigation links as bullets.
    stripped = _norm(line).lstrip("-*\u2022 ")
    return stripped in _MARKERS or bool(_BY_EXPERT.match(line.strip()))


def _copyright(line: str) -> str | None:
    """Return ``©YEAR Publisher`` for a copyright line, or None if it is not one."""
    if len(line) > 160:
        return None
    match = _COPYRIGHT.match(line)
    if not match:
        return None
    year = re.sub(r"\s+", "", match.group(1))
    holder = _RIGHTS.sub("", match.group(2)).strip().rstrip(".,;:- ").strip()
    return f"©{year} {holder}" if holder else f"©{year}"


def _header_split(header: str) -> tuple[str, str] | None:
    """Split a ``Category/Title`` line at its first plausible slash, or return None."""
    if "://" in header or len(header) > 200:
        return None
    for match in re.finditer("/", header):
        pos = match.start()
        before, after = header[:pos], header[pos + 1 :]
        # "1/2 a pill" is a fraction in a sentence, not a category separator.
        if before[-1:].isdigit() and after[:1].isdigit():
            continue
        category = before.strip()
        if not category or len(category) > 60 or len(category.split()) > 8:
            return None
        return category, after.strip()
    return None


def _category_from_footer(header: str, footer_category: str) -> tuple[str, str] | None:
    """Split ``header`` where its prefix equals the footer's category (longest match)."""
    wanted = _norm(footer_category)
    best = None
    for match in re.finditer("/", header):
        if _norm(header[: match.start()]) == wanted:
            best = match.start()
    if best is None:
        return None
    return header[:best].strip(), header[best + 1 :].strip()


# ---------------------------------------------------------------------------
# Splitting the body into question and answer

_APOSTROPHE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})

# (pattern, weight): how strongly a unit starting this way opens the expert's answer.
_OPENERS: list[tuple[re.Pattern[str], float]] = [
    (re.compile(r"^(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening|day))\b"), 3.0),
    (
        re.compile(
            r"^thanks?(?: you)?(?: so much| very much)? (?:for|4) "
            r"(?:your|the|writing|asking|contacting|sending|reaching)"
        ),
        3.0,
    ),
    (re.compile(r"^(?:i'm|i am|im) (?:so |very |truly |really )?sorry (?:to hear|about|for)"), 2.5),
    (re.compile(r"^sorry to hear"), 2.5),
    (
        re.compile(
            r"^you(?:'re| are) (?:absolutely |quite |not |partly |probably )?"
            r"(?:right|correct|wrong|alone)"
        ),
        2.5,
    ),
    (
        re.compile(
            r"^(?:yes|no|yep|nope|absolutely|certainly|definitely|of course|not necessarily|"
            r"unfortunately|well|ok|okay|sure|indeed|actually)\s*[,.!:;-]"
        ),
        2.0,
    ),
    (
        re.compile(
            r"^(?:that's|that is|this is|what an?|a|great|good|excellent|interesting)\s++"
            r"(?:a\s++|an\s++)?(?:very\s++)?(?:(?:good|great|excellent|common|interesting|tough|"
            r"difficult|fair|important)\s++)?question"
        ),
        2.5,
    ),
    (re.compile(r"^(?:to answer your question|in answer to your question|(?:the )?short answer)"), 2.5),
    (re.compile(r"^it (?:sounds|seems|looks) (?:like|as (?:if|though)|that)"), 2.0),
    (re.compile(r"^(?:based on|from) (?:what|the (?:information|description)) you"), 2.0),
    (
        re.compile(
            r"^there (?:are|is) (?:several|a few|many|two|three|some) "
            r"(?:things|possibilities|ways|options|reasons)"
        ),
        1.0,
    ),
]
# A paragraph (or first line) that is just the member's first name: "Susan," / "Tom -".
# Closings and follow-up markers look the same ("Thanks,", "Update:") and are excluded.
_NAME_ADDRESS = re.compile(
    r"^(?!(?:Thanks|Thank|Regards|Sincerely|Cheers|Best|Update|Edit|Note|Followup|Please|Also|"
    r"However|Anyway|Again|Sorry)\b)[A-Z][a-z]+(?: [A-Z][a-z]+)?\s*[,!:-]\s*(?:\n|$)"
)
# A greeting aimed at the expert opens the question, not the answer.
_TO_EXPERT = re.compile(
    r"^(?:hi|hello|hey|dear|greetings)\b[^\n]{0,30}\b(?:dr\b|doctor|expert|sir|madam|professor)", re.I
)

_Q_CLOSERS: list[tuple[re.Pattern[str], float]] = [
    (
        re.compile(
            r"\b(?:thanks|thank you)(?: so much| very much)? (?:in advance|for (?:your|any) "
            r"(?:help|time|advice|reply|response|answer|input|thoughts|consideration))"
        ),
        2.0,
    ),
    (
        re.compile(
            r"\bany (?:help|advice|suggestions?|thoughts|input|information|insight|ideas)\b"
            r"[^.?!]{0,40}\b(?:appreciated|welcome)"
        ),
        2.0,
    ),
    (re.compile(r"\bplease (?:help|advise)\b"), 1.5),
    (re.compile(r"\b(?:what|how) (?:do|should|can|would) (?:i|we)\b[^.?!]{0,300}+\?"), 0.5),
]
# A short closing paragraph ("Thanks, Susan", "Regards,\nTom") ends a message.
_CLOSING_LINE = re.compile(r"^(?:thanks|thank you|many thanks|regards|best|sincerely|cheers)\b[^\n]{0,30}$|^-+\s*\w+")
_SIGN_OFFS = re.compile(
    r"\b(?:hope (?:this|that) (?:helps|answers|information)|i hope (?:this|that|i)\b|good luck|"
    r"best of luck|best (?:regards|wishes)|warm(?:est)? regards|kind regards|take care|"
    r"feel free to (?:write|ask|follow|contact)|let me know (?:if|how)|write (?:back|again) (?:if|any)|"
    r"all the best|wish(?:ing)? you (?:well|the best|luck))\b"
)

_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours)\b")
_SECOND_PERSON = re.compile(r"\b(?:you|you're|you've|you'd|you'll|your|yours|yourself)\b")
# "Can you tell me..." is the member asking the expert, not the expert addressing the member.
_ASKING_YOU = re.compile(r"\b(?:can|could|would|will) you\b|\bdo you (?:think|know|recommend|have any)\b")

_ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "vs", "prof", "jr", "sr", "e.g", "i.e", "etc", "approx", "no"}
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?])[\"')\]\u201d\u2019]*+([ \t]++)(?=[\"'(\[\u201c\u2018]?[A-Z0-9])|((?<![ \t])[ \t]*+\n[ \t]*+)"
)


@dataclass
class _Unit:
    """A paragraph (or sentence) of body text and the cues it carries."""

    text: str
    opener: float = 0.0  # answer-opening strength of its start
    asks: float = 0.0  # how much its end closes a question: "?", "Thanks in advance"
    lean: float = 0.0  # +1 reads like the member (I/my), -1 like the expert (you/your)
    closing: bool = False  # ends a question while answer text follows
    signs_off: bool = False  # expert sign-off: must stay in the answer


def _features(text: str, name_tokens: set[str]) -> _Unit:
    unit = _Unit(text)
    folded = text.translate(_APOSTROPHE)
    lowered = folded.lower().lstrip(" \t\"'(")
    for pattern, weight in _OPENERS:
        if pattern.match(lowered):
            unit.opener = max(unit.opener, weight)
    if _NAME_ADDRESS.match(folded.lstrip()):
        unit.opener = max(unit.opener, 2.5)
    if _TO_EXPERT.match(lowered) or (
        name_tokens
        and re.match(r"^(?:hi|hello|dear)\b", lowered)
        and name_tokens & tokens_of_name(lowered.split("\n")[0])
    ):
        unit.opener = -1.0

    end = folded.rstrip(" \t\"')]")
    if end.endswith("?"):
        unit.asks = 1.5
    elif "?" in folded:
        unit.asks = 0.5
    for pattern, weight in _Q_CLOSERS:
        if pattern.search(lowered):
            unit.asks += weight
            unit.closing = unit.closing or weight >= 1.5
    words = lowered.split()
    if len(words) <= 6 and _CLOSING_LINE.match(" ".join(words)) and not (name_tokens & tokens_of_name(lowered)):
        unit.closing = True
        unit.asks += 1.5

    first = len(_FIRST_PERSON.findall(lowered)) + len(_ASKING_YOU.findall(lowered))
    second = len(_SECOND_PERSON.findall(lowered)) - len(_ASKING_YOU.findall(lowered))
    unit.lean = (first - second) / (first + second + 2)

    # The expert's name in a short paragraph is a signature, unless it is the member's
    # greeting to the expert ("Dear Dr. Higby,").
    greeting = re.match(r"(?:hi|hello|hey|dear)\b", lowered) is not None
    unit.signs_off = bool(_SIGN_OFFS.search(lowered)) or (
        len(words) <= 6 and not greeting and bool(name_tokens & tokens_of_name(lowered))
    )
    return unit


def _score(units: list[_Unit]) -> tuple[list[float], list[float]]:
    """Score each split point k (question = units[:k]); return (scores, local cue scores).

    Weights: an answer opener 1.0-3.0; the question's last unit ending in "?" 1.5 (0.5
    if it only contains one); a question closer ("Thanks in advance") 1.5-2.0; person
    lean 0.75 per unit on the side it falls; -2.5 when an expert sign-off would land in
    the question; -2.0 when a question closer would land in the answer.
    """
    n = len(units)
    prefix = [0.0]
    for unit in units:
        prefix.append(prefix[-1] + unit.lean)
    first_sign = next((i for i, u in enumerate(units) if u.signs_off), n)
    last_close = max((i for i, u in enumerate(units[:-1]) if u.closing), default=-1)
    scores, local = [], []
    for k in range(1, n):
        cue = units[k].opener + units[k - 1].asks
        person = 0.75 * (prefix[k] - (prefix[n] - prefix[k]))
        penalty = (-2.5 if first_sign < k else 0.0) + (-2.0 if last_close >= k else 0.0)
        scores.append(cue + person + penalty)
        local.append(cue)
    return scores, local


def _best_split(units: list[_Unit]) -> tuple[int, bool]:
    """Return (k, confident) for the best split of ``units`` (at least two)."""
    scores, local = _score(units)
    k = max(range(len(scores)), key=lambda i: (scores[i], -i))
    others = [s for i, s in enumerate(scores) if i != k]
    margin = scores[k] - max(others) if others else float("inf")
    q_lean = sum(u.lean for u in units[: k + 1]) / (k + 1)
    a_lean = sum(u.lean for u in units[k + 1 :]) / (len(units) - k - 1)
    # Confident only with a clear winner backed by a real cue, or by a stark change
    # of voice from "I/my" to "you/your".
    confident = margin >= 1.0 and (local[k] >= 1.5 or q_lean - a_lean >= 0.5)
    return k + 1, confident


def _sentence_split(text: str, name_tokens: set[str]) -> tuple[str, str] | None:
    """Split one paragraph into question and answer at the best sentence boundary."""
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE_BREAK.finditer(text):
        group = 1 if match.group(1) is not None else 2
        start, stop = match.span(group)
        # Look back only a few characters: scanning text[:start] would be quadratic.
        word = re.search(r"([\w.]+)[.]\W*$", text[max(0, start - 24) : start])
        if group == 1 and word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        if 0 < start and stop < len(text):
            spans.append((start, stop))
    if not spans:
        # Last resort: a "?" followed by more words, even without a capital letter.
        spans = [m.span() for m in re.finditer(r"(?<=\?)\s++(?=\S)", text)]
    if not spans:
        return None
    bounds = [0] + [s for s, _ in spans] + [len(text)]
    starts = [0] + [e for _, e in spans]
    units = [_features(text[starts[i] : bounds[i + 1]], name_tokens) for i in range(len(starts))]
    k, _ = _best_split(units)
    cut_start, cut_stop = spans[k - 1]
    return text[:cut_start], text[cut_stop:]


_BODY_LABEL = re.compile(r"^\s*(question|answer)\s*(?::\s*(.*)|)$", re.IGNORECASE)


def _split_body(lines: list[str], numbers: list[int], name_tokens: set[str]) -> tuple[str, str, bool] | None:
    """Split body lines into (question, answer, split_guessed); None if there is no body."""
    lines = list(lines)
    answer_at = None
    seen_question = False
    for i, line in enumerate(lines):
        match = _BODY_LABEL.match(line)
        if not match:
            continue
        kind = match.group(1).lower()
        # Only the first Question and first Answer label are structure; later ones
        # (a follow-up inside the answer) stay as text.
        if kind == "question" and not seen_question and answer_at is None:
            seen_question = True
        elif kind == "answer" and answer_at is None:
            answer_at = i
        else:
            continue
        lines[i] = (match.group(2) or "").rstrip()

    if answer_at is not None:
        question = _paragraphs(lines[:answer_at], numbers[:answer_at])
        answer = _paragraphs(lines[answer_at:], numbers[answer_at:])
        if question and answer:
            return (
                "\n\n".join(p.text for p in question),
                "\n\n".join(p.text for p in answer),
                False,
            )

    paras = _paragraphs(lines, numbers)
    if not paras:
        return None
    if len(paras) == 1:
        halves = _sentence_split(paras[0].text, name_tokens)
        if halves is None:
            return None
        return halves[0], halves[1], True
    units = [_features(p.text, name_tokens) for p in paras]
    k, confident = _best_split(units)
    return "\n\n".join(p.text for p in paras[:k]), "\n\n".join(p.text for p in paras[k:]), not confident


# ---------------------------------------------------------------------------
# Public interface

_QA_MARKER = re.compile(r"^[ \t]*+(?:q|a|question|answer)[ \t]*+[:.)]", re.IGNORECASE | re.MULTILINE)


def detect(text: str, name: str) -> float:
    """Return how likely ``text`` is an expert page: high with its footer, moderate with a header."""
    lines = [line for line in _prepare(text[:200_000]) if line.strip()]
    if not lines:
        return 0.0
    markers = {_norm(line).rstrip(":") for line in lines if _is_marker(line)}
    markers = {"answers by expert" if m.startswith("answers by expert") else m for m in markers}
    if len(markers) >= 2:
        return 0.95
    if markers:
        return 0.8
    first = lines[0].strip()
    # JSON, Markdown, CSV and markup belong to other parsers.
    if first[:1] in "{[#<" or first.startswith("---"):
        return 0.0
    if _QA_MARKER.search("\n".join(lines[:200])):
        return 0.05
    if "," in first and len(lines) > 1 and first.count(",") == lines[1].count(","):
        return 0.05
    if _header_split(first) and len(lines) >= 3:
        return 0.5
    return 0.1


# Below this, not even a "Category/Title" first line or a footer marker: not an expert page.
_LEAST = 0.3


def _refuse(text: str, name: str) -> None:
    """Raise the ParseError for a text forced to be read as an expert page that is none."""
    from kb import parsers

    try:
        other = parsers.detect(text, name, among=tuple(f for f in parsers.DETECT_ORDER if f != NAME))
    except ParseError:
        other = None
    raise ParseError(
        "not an expert page: no 'Category/Title' first line and no footer "
        "('All Answers', 'Answers by Expert')" + (f"; it reads as {other}" if other else ""),
        path=name,
        line=1,
        hint=f"read it with --format {other}" if other else None,
    )


def parse(text: str, name: str) -> list[Entry]:
    """Parse one expert page into a single Entry.

    Raises:
        ParseError: when the page holds no recognisable question and answer.
    """
    if detect(text, name) < _LEAST:
        _refuse(text, name)
    lines = _prepare(text)
    numbers = list(range(1, len(lines) + 1))
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        raise ParseError("empty page: no question and answer", path=name, line=1)

    # Header: the first non-blank line when it reads "Category/Title".
    start = filled[0]
    header = lines[start].strip()
    header_split = _header_split(header)
    body_from = start + 1 if header_split else start

    # Footer: the first navigation marker that follows some body text. Markers above
    # the body are site navigation and are dropped with it.
    footer_at = None
    nav_lines: set[int] = set()
    seen_text = False
    for i in range(body_from, len(lines)):
        if _is_marker(lines[i]):
            if seen_text:
                footer_at = i
                break
            nav_lines.add(i)
        elif lines[i].strip():
            seen_text = True

    # A header without a slash is still a title when a footer proves the page's shape.
    if not header_split and footer_at is not None and len(header) <= 120:
        next_line = lines[start + 1] if start + 1 < len(lines) else ""
        if not next_line.strip() and any(lines[i].strip() for i in range(start + 1, footer_at)):
            body_from = start + 1

    category, title = "", ""
    if body_from > start:
        category, title = header_split or ("", header)

    copyright_text = None
    expert = None
    body_to = len(lines)
    if footer_at is not None:
        body_to = footer_at
        expert, copyright_text = _parse_footer(lines, numbers, footer_at)
        # The category stands alone just above the footer; it tells where the header's
        # category ends when the title holds a slash too.
        cat_at = next((i for i in range(footer_at - 1, body_from - 1, -1) if lines[i].strip()), None)
        if cat_at is not None:
            found = _footer_category(lines, cat_at, header if body_from > start else "", expert)
            if found is not None:
                body_to = cat_at
                footer_cat = found
                by_footer = _category_from_footer(header, footer_cat) if body_from > start else None
                if by_footer:
                    category, title = by_footer
                elif not category:
                    category = footer_cat
                    if title.casefold().startswith(footer_cat.casefold()):
                        title = title[len(footer_cat) :].strip(" -:|/")
    else:
        last = filled[-1]
        if last > start and (found_c := _copyright(lines[last])):
            copyright_text = found_c
            body_to = last

    body_lines = [lines[i] for i in range(body_from, body_to) if i not in nav_lines]
    body_numbers = [numbers[i] for i in range(body_from, body_to) if i not in nav_lines]
    name_tokens = tokens_of_name(expert.name) if expert else set()
    # Rating blocks are left out; a follow-up exchange becomes an entry of its own.
    (first_lines, first_numbers), *follow_ups = leftovers.sections(body_lines, body_numbers)
    split = _split_body(first_lines, first_numbers, name_tokens)
    if split is None:
        where = numbers[body_from] if body_from < len(lines) else numbers[start]
        has_text = any(line.strip() for line in first_lines)
        reason = (
            "only one sentence of body text: cannot tell the question from the answer"
            if has_text
            else "no question and answer found before the footer"
        )
        raise ParseError(reason, path=name, line=where)
    question, answer, guessed = split
    first = Entry(
        question=question,
        answer=answer,
        title=title,
        category=category,
        expert=expert,
        source=Source(path=name, format=NAME, copyright=copyright_text, split_guessed=guessed),
        raw=text,
    )
    entries = [first]
    for n, (more_lines, more_numbers) in enumerate(follow_ups, 1):
        # A follow-up that cannot be split stays in the raw text only.
        if (more := _split_body(more_lines, more_numbers, name_tokens)) is None:
            continue
        entries.append(
            Entry(
                question=more[0],
                answer=more[1],
                title=leftovers.follow_up_title(title, n, len(follow_ups)),
                category=category,
                expert=expert,
                tags=[leftovers.FOLLOW_UP_TAG],
                # The link to the first exchange: its uid, which `kb show` takes as a prefix.
                source=Source(
                    path=name,
                    format=NAME,
                    copyright=copyright_text,
                    split_guessed=more[2],
                    key=f"followup-{n}",
                    external_id=f"follow-up-of:{first.uid}",
                ),
                raw=text,
            )
        )
    return entries


def _footer_category(lines: list[str], at: int, header: str, expert: Expert | None) -> str | None:
    """Return the footer's category line at index ``at``, or None if it is body text."""
    line = lines[at].strip()
    if header and _category_from_footer(header, line):
        return line
    alone = at == 0 or not lines[at - 1].strip()
    if not alone or len(line) > 80 or line[-1:] in ".?!,;:":
        return None
    # A short line could also be the answer's sign-off ("Good luck", "Dr. Roe").
    if _SIGN_OFFS.search(line.lower()) or _CLOSING_LINE.match(line.lower()):
        return None
    if expert and tokens_of_name(expert.name) & tokens_of_name(line):
        return None
    return line


def _parse_footer(lines: list[str], numbers: list[int], footer_at: int) -> tuple[Expert | None, str | None]:
    """Read the expert's name, bio and the copyright from the footer."""
    name = ""
    i = footer_at
    # Skip the navigation markers (and blanks between them); "Answers by Expert: Name"
    # may carry the name on the same line.
    while i < len(lines) and (not lines[i].strip() or _is_marker(lines[i])):
        match = _BY_EXPERT.match(lines[i].strip())
        if match:
            name = _NAME_LINKS.sub("", match.group(1)).strip()
        i += 1
    rest = list(range(i, len(lines)))

    copyright_text = None
    for j in reversed(rest):
        found = _copyright(lines[j])
        if found:
            copyright_text = found
            rest.remove(j)
            break

    filled = [j for j in rest if lines[j].strip()]
    if not name and filled:
        first = lines[filled[0]]
        if looks_like_name(first) and not bio_label(first):
            name = first.strip()
            rest.remove(filled[0])
    bio = parse_bio([lines[j] for j in rest], [numbers[j] for j in rest])
    if not name and not bio:
        return None, copyright_text
    # A bio whose name was lost in scraping is kept under a placeholder name: the store
    # files profiles by name, and a nameless one would be dropped.
    return Expert(name=name or UNNAMED_EXPERT, **{k: v for k, v in bio.items() if k in EXPERT_FIELDS}), copyright_text
