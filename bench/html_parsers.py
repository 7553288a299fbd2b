"""Compare HTML parsers for kb's html format: speed per page, and agreement with browsers.

    python bench/html_parsers.py            # needs selectolax, lxml, and html5lib + bs4

Speed: parsing a page and walking every node, median of repeated runs, for the pages in
data/ and tests/parsers/fixtures/html/, and a large generated page. Robustness: for each
broken snippet, the text of every text node with the chain of elements around it,
compared with html5lib's tree; html5lib implements the WHATWG parsing algorithm that
browsers follow, so it is the reference for "read as browsers read it".
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BROKEN = {
    "unclosed p and b": "<p>one <b>two<p>three</b> four",
    "misnested inline": "<p><i>a <b>b</i> c</b> d</p>",
    "p inside heading": "<h2>Answer<p>text</p>",
    "table without tr": "<table><td>a<td>b</table>after",
    "stray end tags": "</div></span><p>x</p></li></ul>y",
    "li without ul": "<li>one<li>two",
    "unquoted attributes": "<a href=/x class=a b>link</a>",
    "script with markup": "<script>if (a < b) document.write('<p>')</script><p>z</p>",
    "unclosed comment": "<p>a</p><!-- never closed <p>b</p>",
    "nested forms": "<form><p>a<form><p>b</form>c",
    "text in table": "<table>lost<tr><td>cell</td></tr></table>",
    "entity without ;": "<p>fish &amp chips &copy 2017 &notanentity;</p>",
    "select content": "<select><option>a<p>b</select>c",
    "nul and controls": "<p>a\x00b\x01c</p>",
}


def _sample_pages() -> dict[str, str]:
    pages = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "data").glob("*.html"))}
    for p in sorted((ROOT / "tests/parsers/fixtures/html").glob("*.html")):
        pages[p.name] = p.read_text(encoding="utf-8")
    block = (
        "<div class='post'><h2>Heading {n}</h2><p>Some <b>bold</b> and <a href='/x'>link</a> text {n}.</p>"
        "<ul><li>one</li><li>two</li></ul></div>\n"
    )
    pages["large (2,000 blocks)"] = "<html><body>" + "".join(block.format(n=n) for n in range(2000)) + "</body></html>"
    return pages


# -- the same walk in each library: (element chain, text) for every text node -------------


def walk_selectolax(html: str) -> list[tuple[str, str]]:
    from selectolax.lexbor import LexborHTMLParser

    out = []
    body = LexborHTMLParser(html).body
    for node in body.traverse(include_text=True) if body is not None else ():
        if node.tag == "-text" and node.text_content.strip():
            chain, parent = [], node.parent
            while parent is not None and parent.tag not in ("body", "html"):
                chain.append(parent.tag)
                parent = parent.parent
            out.append(("/".join(reversed(chain)), " ".join(node.text_content.split())))
    return out


def _walk_etree(body, tag_of) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def visit(el, chain):
        tag = tag_of(el)
        here = chain + [tag] if tag not in ("body", "html") else chain
        if el.text and el.text.strip() and tag not in ("script", "style"):
            out.append(("/".join(here), " ".join(el.text.split())))
        elif el.text and el.text.strip():
            out.append(("/".join(here), " ".join(el.text.split())))
        for child in el:
            if isinstance(child.tag, str):
                visit(child, here)
            if child.tail and child.tail.strip():
                out.append(("/".join(here), " ".join(child.tail.split())))

    if body is not None:
        visit(body, [])
    return out


def walk_lxml(html: str) -> list[tuple[str, str]]:
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:  # lxml refuses some inputs (empty documents, NULs)
        return [("(error)", "")]
    return _walk_etree(doc.find("body"), lambda el: el.tag)


def walk_html5lib(html: str) -> list[tuple[str, str]]:
    import html5lib

    doc = html5lib.parse(html, namespaceHTMLElements=False)
    return _walk_etree(doc.find("body"), lambda el: el.tag)


def walk_bs4_html5lib(html: str) -> list[tuple[str, str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html5lib")
    return [(t.parent.name, str(t)) for t in soup.body.find_all(string=True) if str(t).strip()] if soup.body else []


PARSERS = {
    "selectolax (lexbor)": walk_selectolax,
    "lxml.html (libxml2)": walk_lxml,
    "html5lib": walk_html5lib,
    "BeautifulSoup + html5lib": walk_bs4_html5lib,
}


def _time(fn, text: str, budget: float = 0.5) -> float:
    runs = []
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline or len(runs) < 3:
        start = time.perf_counter()
        fn(text)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    pages = _sample_pages()
    print("## Parse + walk every node, median ms per page\n")
    print("| page | bytes | " + " | ".join(PARSERS) + " |")
    print("|---|---|" + "---|" * len(PARSERS))
    for name, text in pages.items():
        cells = [f"{_time(fn, text) * 1000:.2f}" for fn in PARSERS.values()]
        print(f"| {name} | {len(text.encode()):,} | " + " | ".join(cells) + " |")
    print("\n## Broken markup: same text in the same elements as html5lib (the WHATWG algorithm)?\n")
    print("| snippet | selectolax | lxml |")
    print("|---|---|---|")
    agree = {"selectolax": 0, "lxml": 0}
    for name, snippet in BROKEN.items():
        reference = walk_html5lib(snippet)
        marks = []
        for key, fn in (("selectolax", walk_selectolax), ("lxml", walk_lxml)):
            same = fn(snippet) == reference
            agree[key] += same
            marks.append("same" if same else f"differs: {fn(snippet)!r}"[:90])
        print(f"| {name} | " + " | ".join(marks) + " |")
    print(f"\nagree with html5lib: selectolax {agree['selectolax']}/{len(BROKEN)}, lxml {agree['lxml']}/{len(BROKEN)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
