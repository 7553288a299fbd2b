"""Time `kb browse` on a store: a keystroke to updated results, and the command to its first screen.

Keystrokes are timed in-process: the real app runs headless at 80x24 (Textual's pilot) on
the store, and every character of a few queries is typed one at a time. For each one it
records the search itself (KnowledgeBase.search on the worker thread), the update (the
list and the preview taking the hits on the UI thread), the wait for Textual's next frame,
the paint (layout, render, and the terminal's bytes, which headless Textual would skip)
and the whole keystroke (key in, the worker hops, the query and the redraw). On a shared
machine wall times swing with other people's load, so the CPU time of the three stages
(thread time of the worker and of the UI thread) is reported too. Start-up is timed on a real
pseudo-terminal (pexpect): from spawning `kb --db STORE browse` to the first results on
screen, then Ctrl-Q (which must exit 0).

Usage: python bench/browse.py --db bench/out/stores/100k/kb.json [--runs 5] [--no-startup] [--query Q ...]

Build a store first with bench/run.py (bench/out/stores/SIZE/kb.json), or ingest a corpus
from bench/corpus.py with `kb --db DIR/kb.json ingest medquad-100k.jsonl`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FLOOR = Path(__file__).resolve().with_name("browse_floor.py")
QUERIES = [
    "bone marrow transplant",
    "what are the symptoms of diabetes in children",
    "treatment for noonan syndrome",
    "category:GARD genetic",
    "my father has leukemia and kidney problems what are the side effects of a bone marrow transplant",
]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"| {name} | {len(samples)} | {_ms(statistics.median(ordered))} | {_ms(p90)} | {_ms(ordered[-1])} |"


def keystrokes(db: Path, queries: list[str]) -> dict[str, list[float]]:
    """Type every query one key at a time in the headless app; return the timings per stage."""
    from textual._compositor import CompositorUpdate
    from textual.screen import Screen

    from kb.api import KnowledgeBase
    from kb.tui.app import BrowseApp

    stages = ("search", "update", "frame wait", "paint", "keystroke", "search cpu", "update cpu", "paint cpu")
    timings: dict[str, list[float]] = {name: [] for name in stages}
    marks: dict[str, float] = {}

    class TimedApp(BrowseApp):
        drawn_query: str | None = None

        def _query(self, query, category, expert):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return super()._query(query, category, expert)
            finally:
                marks["search"] = time.perf_counter() - start
                marks["search cpu"] = time.thread_time() - cpu

        def show_results(self, seq, query, result):
            marks["shown"], cpu = time.perf_counter(), time.thread_time()
            super().show_results(seq, query, result)
            marks["updated"] = time.perf_counter()
            marks["update cpu"] = time.thread_time() - cpu

        def _display(self, screen, renderable):
            if isinstance(renderable, CompositorUpdate):
                # Headless, Textual skips turning the update into terminal bytes; do it here.
                renderable.render_segments(self.console)
            super()._display(screen, renderable)
            if "updated" in marks and "drawn" not in marks and marks.get("tick", 0) > marks["updated"]:
                marks["drawn"] = time.perf_counter()
                marks["paint cpu"] = time.thread_time() - marks["tick cpu"]
                self.drawn_query = self.shown_query

    on_timer_update = Screen._on_timer_update

    def timed_update(screen):
        if "updated" in marks and "drawn" not in marks:
            marks["tick"], marks["tick cpu"] = time.perf_counter(), time.thread_time()
        on_timer_update(screen)

    Screen._on_timer_update = timed_update
    kb = KnowledgeBase.open(db)
    print(f"store: {db} ({kb.count():,} entries)", file=sys.stderr)
    app = TimedApp(kb)

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            for query in queries:
                app.search_box.value = ""
                await pilot.pause(0.2)
                await app.workers.wait_for_complete()
                await pilot.pause(0.05)
                typed = ""
                for char in query:
                    typed += char
                    marks.clear()
                    app.drawn_query = None
                    pressed = time.perf_counter()
                    await pilot.press("space" if char == " " else char)
                    deadline = pressed + 10
                    while app.drawn_query != typed and time.perf_counter() < deadline:
                        await asyncio.sleep(0.0005)
                    if app.drawn_query != typed:
                        raise SystemExit(f"no results drawn for {typed!r}")
                    timings["search"].append(marks["search"])
                    timings["update"].append(marks["updated"] - marks["shown"])
                    timings["frame wait"].append(marks["tick"] - marks["updated"])
                    timings["paint"].append(marks["drawn"] - marks["tick"])
                    timings["keystroke"].append(marks["drawn"] - pressed)
                    for name in ("search cpu", "update cpu", "paint cpu"):
                        timings[name].append(marks[name])
            await pilot.press("ctrl+q")

    asyncio.run(run())
    Screen._on_timer_update = on_timer_update
    kb.close()
    return timings


def startup(db: Path, runs: int, floor: Path = FLOOR) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Spawn `kb browse` and the bare app (``floor``) in turns on a pseudo-terminal; time until the first results.

    Returns the wall times and the CPU times (user + system, read from /proc at that
    moment) of each ("kb", "bare").
    """
    import pexpect

    kb = str(Path(sys.executable).with_name("kb"))
    commands = {
        "kb": (kb, ["--db", str(db), "browse"]),
        "bare": (sys.executable, [str(floor)]),
    }
    env = dict(os.environ, TERM="xterm-256color", PYTHONPYCACHEPREFIX=str(REPO / "bench" / "out" / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cache kb's bytecode, as an installed package has it
    env.pop("NO_COLOR", None)
    tick = os.sysconf("SC_CLK_TCK")
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(runs + 1):  # the first run warms the caches and is not counted
        for name, (program, args) in commands.items():
            start = time.perf_counter()
            child = pexpect.spawn(program, args, env=env, dimensions=(24, 80), timeout=30)
            child.expect("entries by id")
            elapsed = time.perf_counter() - start
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            child.sendcontrol("q")
            child.expect(pexpect.EOF)
            child.close()
            if child.exitstatus != 0:
                raise SystemExit(f"{name} exited {child.exitstatus} after Ctrl-Q")
            if run:
                walls[name].append(elapsed)
                cpus[name].append(cpu)
    return walls, cpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store to browse (kb.json)")
    parser.add_argument("--runs", type=int, default=5, help="timed start-ups (after one warm-up)")
    parser.add_argument("--no-startup", action="store_true", help="only the keystrokes")
    parser.add_argument("--query", action="append", help="type this instead of the built-in queries (repeatable)")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up against the bare app")
    parser.add_argument(
        "--floor", type=Path, default=FLOOR, help="the bare app to time against (default: browse_floor.py)"
    )
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"store not found: {args.db}", file=sys.stderr)
        return 1
    print("| what (ms) | samples | median | p90 | max |")
    print("|---|---|---|---|---|")
    if not args.startup_only:
        _print_keystrokes(keystrokes(args.db, args.query or QUERIES))
    if not args.no_startup:
        walls, cpus = startup(args.db, args.runs, args.floor)
        print(_summary("`kb browse` to first results on screen", walls["kb"]))
        print(_summary("the bare Textual app to the same line on screen", walls["bare"]))
        print(_summary("CPU time of `kb browse` to first results", cpus["kb"]))
        print(_summary("CPU time of the bare app to the same line", cpus["bare"]))
        ratios = [k / b for k, b in zip(walls["kb"], walls["bare"])]
        print(f"| kb / bare, wall (run by run) | {len(ratios)} | {statistics.median(ratios):.2f}x | | |")
    return 0


def _print_keystrokes(timings: dict[str, list[float]]) -> None:
    print(_summary("search: KnowledgeBase.search (worker thread)", timings["search"]))
    print(_summary("update: the list and the preview take the hits", timings["update"]))
    print(_summary("frame wait: until Textual's next screen update (60 fps)", timings["frame wait"]))
    print(_summary("paint: layout, render, terminal bytes", timings["paint"]))
    print(
        _summary(
            "**search + update + paint**",
            [a + b + c for a, b, c in zip(timings["search"], timings["update"], timings["paint"])],
        )
    )
    print(_summary("keystroke to results on screen, all included", timings["keystroke"]))
    print(
        _summary(
            "CPU time of search + update + paint (what load on the machine does not add)",
            [a + b + c for a, b, c in zip(timings["search cpu"], timings["update cpu"], timings["paint cpu"])],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
