"""An expert's bio on an "ask an expert" page: labelled or unlabelled sections, and the name.

The footer of a page lists the expert's expertise, experience, organisations, publications,
education, awards and clients, under labels or (scraped) without them; unlabelled
paragraphs are assigned to sections by the words they use, in the page's usual order.
"""

from __future__ import annotations

import re

# Canonical order of an expert's bio on the page; unlabelled paragraphs follow it.
_LABELS: list[tuple[str, str]] = [
    ("expertise", r"(?:areas?\s+of\s+)?expertise"),
    ("experience", r"experience"),
    ("organizations", r"(?:professional\s+)?(?:organi[sz]ations?|memberships?|affiliations?)"),
    ("publications", r"publications?"),
    ("education", r"education(?:\s*(?:/|and|&)\s*credentials)?|credentials"),
    ("awards", r"awards?(?:\s*(?:and|&|/)\s*honou?rs)?|honou?rs(?:\s*(?:and|&|/)\s*awards?)?"),
    ("clients", r"(?:past\s*/\s*present\s+)?clients"),
]
_LABEL_ALONE = [(f, re.compile(rf"^\s*+(?:{p})\s*+:?\s*+$", re.IGNORECASE)) for f, p in _LABELS]
_LABEL_INLINE = [(f, re.compile(rf"^\s*+(?:{p})\s*+:\s*+(\S.*)$", re.IGNORECASE)) for f, p in _LABELS]


def bio_label(line: str) -> tuple[str, str] | None:
    """Return (field, text after the label) if ``line`` starts a labelled bio section."""
    for name, pattern in _LABEL_ALONE:
        if pattern.match(line):
            return name, ""
    for name, pattern in _LABEL_INLINE:
        match = pattern.match(line)
        if match:
            return name, match.group(1)
    return None


def _hits(pattern: re.Pattern[str], text: str, weight: float, cap: int) -> float:
    return weight * min(cap, len(pattern.findall(text)))


_DEGREE = re.compile(
    r"\b(?:M\.?D|Ph\.?D|B\.?A|B\.?S|M\.?S|M\.?A|MBA|J\.?D|DVM|DDS|R\.?N|B\.?Sc|M\.?Sc|LL\.?[BM]|Ed\.?D|MFA|MPH|CPA)\b"
)
_BIO_WORDS: dict[str, re.Pattern[str]] = {
    "expertise": re.compile(r"\b(?:questions?|answer|help (?:you )?with|advice|topics?|specialty)\b", re.I),
    "experience": re.compile(
        r"\b(?:years?|practi[cs](?:e|ed|ing)|worked|working|career|since (?:19|20)\d\d|"
        r"experience|owner|owned|served|taught|teaching|managed|running)\b",
        re.I,
    ),
    "organizations": re.compile(
        r"\b(?:society|association|academy|college of|member|board|council|federation|guild|"
        r"league|institute|club|union|chapter|fellow)\b",
        re.I,
    ),
    "publications": re.compile(
        r"\b(?:journal|press|magazine|review|times|published|publisher|books?|newsletter|"
        r"quarterly|gazette|articles?|co-?authored|author of|edition|column)\b",
        re.I,
    ),
    "education": re.compile(
        r"\b(?:university|college|school|residency|fellowship|degree|graduated?|bachelor'?s?|"
        r"master'?s?|doctorate|diploma|certified|certificate|certification|licensed?|internship|"
        r"apprenticeship|studied)\b",
        re.I,
    ),
    "awards": re.compile(
        r"\b(?:awards?|awarded|prize|honou?rs?|honou?red|best|recipient|medal|winner|"
        r"recogni[sz]ed|top \d+)\b",
        re.I,
    ),
    "clients": re.compile(r"\b(?:clients?|customers?|companies|corporation|inc|llc|ltd|consulted)\b", re.I),
}
_EXPERTISE_OPENER = re.compile(
    r"^(?:i\s+(?:can|will|could|am able to|'m able to)\b|i'd be (?:happy|glad)|"
    r"i (?:answer|handle|take)|(?:ask|send) me|questions (?:about|on|regarding|related))",
    re.I,
)
_EXPERIENCE_OPENER = re.compile(
    r"^(?:i\s+(?:have|'ve|am|'m|was|worked|spent|own|ran|run)\b|for (?:over |more than )?\d+)", re.I
)


def _bio_score(text: str, name: str) -> float:
    """Score how well an unlabelled bio paragraph fits the section ``name``."""
    lowered = text.replace("\u2019", "'")
    score = _hits(_BIO_WORDS[name], lowered, 1.0, 3)
    if name == "expertise" and _EXPERTISE_OPENER.match(lowered):
        score += 3.0
    elif name == "experience" and _EXPERIENCE_OPENER.match(lowered):
        score += 1.5
    elif name == "education":
        score += _hits(_DEGREE, text, 1.5, 3)
    elif name == "organizations" and len(text.split()) <= 12 and not lowered.lower().startswith("i "):
        score += 0.5
    return score


def _assign_unlabelled(paras: list[str], slots: list[str]) -> list[str]:
    """Map unlabelled bio paragraphs to sections, keeping the page's canonical order.

    A small dynamic programme: each paragraph goes to one slot, slots never go backwards,
    and two paragraphs sharing a slot cost a penalty, so distinct sections are preferred
    while nothing is ever dropped.
    """
    merge_penalty, drift = 2.0, 0.25
    n, m = len(paras), len(slots)
    scores = [[_bio_score(p, s) - drift * abs(j - i) for j, s in enumerate(slots)] for i, p in enumerate(paras)]
    best = [[float("-inf")] * m for _ in range(n)]
    back = [[0] * m for _ in range(n)]
    best[0] = list(scores[0])
    for i in range(1, n):
        for j in range(m):
            for k in range(j + 1):
                value = best[i - 1][k] - (merge_penalty if k == j else 0.0)
                if value > best[i][j]:
                    best[i][j], back[i][j] = value, k
            best[i][j] += scores[i][j]
    j = max(range(m), key=lambda s: best[n - 1][s])
    chosen = [0] * n
    for i in range(n - 1, -1, -1):
        chosen[i] = j
        j = back[i][j]
    return [slots[j] for j in chosen]


def parse_bio(lines: list[str], numbers: list[int]) -> dict[str, str]:
    """Read bio sections, labelled or not, into Expert field values."""
    # Each chunk is (field or None for unlabelled, list of paragraphs as line lists).
    chunks: list[tuple[str | None, list[list[str]]]] = [(None, [])]
    fresh = True  # the next text line starts a new paragraph
    for line in lines:
        label = bio_label(line) if line.strip() else None
        if label:
            chunks.append((label[0], []))
            fresh = True
            if not label[1]:
                continue
            line = label[1]
        if not line.strip():
            fresh = True
            continue
        paras = chunks[-1][1]
        if fresh or not paras:
            paras.append([])
            fresh = False
        paras[-1].append(line)

    sections: dict[str, list[str]] = {}
    unlabelled = ["\n".join(p) for p in chunks[0][1]]
    labelled = [name for name, _ in chunks[1:] if name]
    if unlabelled:
        order = [name for name, _ in _LABELS]
        free = [f for f in order if f not in labelled]
        if labelled:
            # Unlabelled text comes before the first label, so it belongs to sections
            # that precede that label on the page; failing that, to the label itself.
            before = [f for f in free if order.index(f) < order.index(labelled[0])]
            free = before or free or [labelled[0]]
        for text, name in zip(unlabelled, _assign_unlabelled(unlabelled, free)):
            sections.setdefault(name, []).append(text)
    for field, paras in chunks[1:]:
        if field and paras:
            sections.setdefault(field, []).extend("\n".join(p) for p in paras)
    return {name: "\n\n".join(texts) for name, texts in sections.items() if texts}


_TITLES = {
    "dr",
    "dr.",
    "md",
    "m.d.",
    "phd",
    "ph.d.",
    "jr",
    "jr.",
    "sr",
    "sr.",
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
    "prof",
    "prof.",
}


def tokens_of_name(name: str) -> set[str]:
    """Return the distinctive words of an expert's name, for spotting signatures."""
    words = re.findall(r"[\w.'’-]+", name.casefold())
    return {w.strip(".,") for w in words if w not in _TITLES and len(w.strip(".,")) >= 3}


def looks_like_name(line: str) -> bool:
    """Tell a name line ("Donald Higby, M.D.") from the first sentence of a bio."""
    text = line.strip()
    short = 0 < len(text) <= 80 and len(text.split()) <= 10
    return short and "?" not in text and not re.match(r"(?i)i\s", text)
