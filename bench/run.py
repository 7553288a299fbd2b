"""kb's benchmark: build stores of 1k, 16k and 100k entries (1M with --million) and time kb.

Every measurement is a whole process (the installed ``kb`` console script, a fresh process
per run), the median of ``--runs`` runs after a warm-up, with its peak memory (the child's
``ru_maxrss`` from ``wait4``). Measured: ``kb ingest`` of one JSONL file and of one file
per entry into fresh stores (the index is built during ingest, so it is included);
``kb search`` with a 2-word query and a 20-word question; ``kb show ID``; ``kb list
--limit 20``; ``kb --help``; ``kb add``/``kb remove`` of one entry; and beside them the
framework floor (bench/floor.py), ``python -c "import typer"`` and ``rg -i -l`` over the
same corpus as text files. Commands of one store size run round-robin (run 1 of each,
then run 2 of each, ...), so a burst of load on this shared machine hits all of them alike.

    python bench/run.py              # full run, writes bench/RESULTS.md (about 30-40 min)
    python bench/run.py --smoke      # 1k synthetic entries, one run each, < 60 s, for CI
    python bench/run.py --profile    # profiles into bench/out/profile (after a full run)

The smoke mode writes bench/out/SMOKE-RESULTS.md, never bench/RESULTS.md, asserts no
times, and exits non-zero only when a kb command fails (crashes or exits >= 2).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import corpus as corpora  # noqa: E402 - bench/ is not a package

QUERY_2 = "bone marrow"
# Twenty words, the way a worried person types a question.
QUERY_20 = (
    "What are the serious side effects of a bone marrow transplant for my father who has leukemia and kidney problems?"
)
# The content words of QUERY_20 (what kb ORs after dropping stop words), for rg -e ... .
QUERY_20_WORDS = [
    "serious",
    "side",
    "effects",
    "bone",
    "marrow",
    "transplant",
    "father",
    "leukemia",
    "kidney",
    "problems",
]
ADD_QUESTION = "How long does recovery from a bone marrow biopsy take for benchmark run {n}?"
ADD_ANSWER = "Most people go home the same day; soreness lasts a few days (benchmark entry {n}, {nonce})."
TIMEOUT = 3 * 3600
# GNU time measures peak memory from a ~2 MB process. A child's ru_maxrss taken straight
# from wait4 would include this runner's own RSS: Linux carries the high-water mark of the
# forked copy of the parent across exec.
TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# Targets of issues 2, 3 and 6.
INGEST_RATE = 4000
LINEAR_MAX = 7.0
SCALE_MAX, SCALE_SLACK = 1.5, 0.050
FLOOR_MAX_100K, FLOOR_MAX_16K_SEARCH = 1.6, 1.3
HELP_MAX = 2.5
WRITE_MAX = 1.5
MILLION_MAX = 0.5
MEMORY_FLAT = 1.25


# -- running one process ------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    code: int


@dataclass
class Measure:
    """Timed runs of one command (``first`` is the warm-up, not in the median)."""

    name: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)
    first: Sample | None = None
    note: str = ""

    @property
    def wall(self) -> float | None:
        return statistics.median(s.wall for s in self.samples) if self.samples else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(s.cpu for s in self.samples) if self.samples else None

    @property
    def rss(self) -> float | None:
        runs = self.samples or ([self.first] if self.first else [])
        return max(s.rss_mb for s in runs) if runs else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "argv": self.argv,
            "median_wall": self.wall,
            "median_cpu": self.cpu,
            "peak_rss_mb": self.rss,
            "note": self.note,
            "first": vars(self.first) if self.first else None,
            "samples": [vars(s) for s in self.samples],
        }


class CommandFailed(Exception):
    """A benchmarked command exited with a code it should not have."""


def _tree_rss_kb(pid: int) -> int:
    """The resident memory of a process and all its descendants now, in kB (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


class _TreeSampler:
    """Sample a process tree's summed RSS every 20 ms: GNU time's %M (like wait4's
    ru_maxrss) is the largest single process, and a bulk ingest runs two at once."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


def run_once(
    argv: list[str],
    env: dict[str, str],
    *,
    ok: tuple[int, ...] = (0,),
    keep_stdout: bool = False,
    cwd: Path | None = None,
    tree: bool = False,
) -> tuple[Sample, str]:
    """Run one process to its end; return its wall/CPU time, peak RSS and exit code (and stdout).

    With ``tree`` the peak RSS is the larger of GNU time's and the process tree's sampled sum.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        wrapped = [TIME_BIN, "-f", "%M", "-o", rss.name, *argv] if TIME_BIN else argv
        start = time.perf_counter()
        proc = subprocess.Popen(
            wrapped,
            stdin=subprocess.DEVNULL,
            stdout=out if keep_stdout else subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd,
        )
        timer = threading.Timer(TIMEOUT, proc.kill)
        timer.start()
        sampler = _TreeSampler(proc.pid) if tree and os.path.isdir("/proc") else None
        try:
            # wait4 gives this child's own rusage (peak RSS included), unlike RUSAGE_CHILDREN's running max.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            tree_kb = sampler.stop() if sampler else 0
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        peak_kb = usage.ru_maxrss
        if TIME_BIN:
            # The last line is %M; a line before it may say the command exited non-zero.
            last = (rss.read().strip().splitlines() or ["0"])[-1]
            peak_kb = int(last) if last.isdigit() else 0
        sample = Sample(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss_mb=max(peak_kb, tree_kb) / 1024, code=code)
        stdout = ""
        if keep_stdout:
            out.seek(0)
            stdout = out.read().decode("utf-8", "replace")
        if code not in ok:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-8:]
            raise CommandFailed(f"{shlex.join(argv)} exited {code}:\n    " + "\n    ".join(tail))
    return sample, stdout


@dataclass
class Command:
    name: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)
    env: dict[str, str] | None = None


def bench_round_robin(commands: list[Command], env: dict[str, str], runs: int, warmup: int, log) -> dict[str, Measure]:
    """Warm each command up, then time ``runs`` rounds of all of them, interleaved."""
    measures = {c.name: Measure(c.name, c.argv) for c in commands}
    for command in commands:
        for _ in range(warmup):
            measures[command.name].first, _ = run_once(command.argv, command.env or env, ok=command.ok)
    for n in range(runs):
        for command in commands:
            sample, _ = run_once(command.argv, command.env or env, ok=command.ok)
            measures[command.name].samples.append(sample)
        log(
            f"    round {n + 1}/{runs}: "
            + ", ".join(f"{c.name} {measures[c.name].samples[-1].wall:.3f}s" for c in commands)
        )
    return measures


# -- the environment ----------------------------------------------------------------------


def find_kb() -> Path:
    """Return the ``kb`` console script of this interpreter's environment (else the one on PATH)."""
    beside = Path(sys.executable).parent / "kb"
    if beside.exists():
        return beside
    found = shutil.which("kb")
    if not found:
        raise SystemExit("kb is not installed here: run 'pip install -e .' first")
    return Path(found)


def script_python(script: Path) -> str:
    """Return the interpreter a console script runs with (its #! line), so baselines use the same one."""
    first = script.read_bytes().split(b"\n", 1)[0].decode()
    interp = first[2:].strip() if first.startswith("#!") else ""
    return interp.split()[0] if interp and Path(interp.split()[0]).exists() else sys.executable


def machine(python: str) -> dict[str, str]:
    """Describe the machine and the software under test."""
    info: dict[str, str] = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    info["cores"] = f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}"
    try:
        kb_total = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        info["memory"] = f"{kb_total / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        info["memory"] = "unknown"
    info["os"] = f"{platform.system()} {platform.release()}"
    probe = (
        "import sys, sqlite3, importlib.metadata as m\n"
        "print(sys.version.split()[0]); print(sqlite3.sqlite_version)\n"
        "def v(p):\n"
        "    try:\n        return f'{p} {m.version(p)}'\n"
        "    except m.PackageNotFoundError:\n        return f'{p} (vendored or absent)'\n"
        "print(', '.join(v(p) for p in ('typer', 'click', 'rich', 'tinydb', 'orjson')))"
    )
    lines = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    info["python"], info["sqlite"], info["packages"] = lines[0], lines[1], lines[2]
    info["rg"] = _rg_version() or "not installed"

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "kb", "pyproject.toml")
    info["kb commit"] = git("rev-parse", "--short", "HEAD") + (
        f" + uncommitted changes in {len(dirty.splitlines())} kb file(s) (the working tree was measured)"
        if dirty
        else ""
    )
    return info


def code_fingerprint() -> str:
    """Hash kb's source files as they are on disk (others may change them during a run)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "kb").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _rg_version() -> str | None:
    rg = shutil.which("rg")
    if not rg:
        return None
    out = subprocess.run([rg, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else rg


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- the benchmark --------------------------------------------------------------------------


@dataclass
class Store:
    """A store built by the warm-up JSONL ingest, kept for the lookup benchmarks."""

    size: str
    db: Path
    entries: int
    show_id: int | None
    store_bytes: int
    index_bytes: int
    first_read: float


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.kb = str(find_kb())
        self.python = script_python(Path(self.kb))
        self.work = args.out
        self.env = {k: v for k, v in os.environ.items() if k not in ("KB_DB", "NO_COLOR", "FORCE_COLOR")}
        self.env.update(COLUMNS="120", LINES="50", KB_LOCK_TIMEOUT="60")
        # Installed packages run from cached bytecode (pip compiles site-packages; a first run
        # writes __pycache__ for an editable install). This machine's shell sets
        # PYTHONDONTWRITEBYTECODE=1, which would make every kb command compile kb's modules
        # from source (~40 ms here) while Typer and Rich load precompiled. So the runs use a
        # bytecode cache in the work folder (kb/ itself is left untouched).
        self.no_pyc_env = dict(self.env, PYTHONDONTWRITEBYTECODE="1")
        self.no_pyc_env.pop("PYTHONPYCACHEPREFIX", None)
        if args.bytecode_cache:
            self.env.pop("PYTHONDONTWRITEBYTECODE", None)
            self.env["PYTHONPYCACHEPREFIX"] = str(args.out / "pycache")
        else:
            self.env = dict(self.no_pyc_env)
        self.rg = shutil.which("rg")
        self.results: dict = {"ingest": {}, "lookup": {}, "write": {}, "startup": {}, "stores": {}, "notes": []}
        self.failures: list[str] = []

    def log(self, message: str) -> None:
        print(message, flush=True)

    def note(self, message: str) -> None:
        self.log(f"NOTE: {message}")
        self.results["notes"].append(message)

    def kb_argv(self, db: Path, *args: str) -> list[str]:
        return [self.kb, "--db", str(db), *args]

    # -- ingest --------------------------------------------------------------------------

    def ingest(self, size: str, info: dict, fmt: str) -> tuple[Measure, Store | None]:
        """Time ``kb ingest`` of one corpus into fresh stores; keep the warm-up's JSONL store."""
        source = info["jsonl"] if fmt == "jsonl" else info["qa_dir"]
        scratch = self.work / "stores" / f"scratch-{fmt}"
        measure = Measure(f"ingest {fmt}", self.kb_argv(scratch / "kb.json", "ingest", source))
        kept: Store | None = None
        runs = self.args.ingest_runs
        for n in range(self.args.warmup + runs):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            # Exit 1 means some inputs failed (the rest were read): counted and noted, not fatal.
            sample, _ = run_once(measure.argv, self.env, ok=(0, 1), tree=True)
            if sample.code == 1:
                measure.note = "kb ingest exited 1 (some inputs failed; see the entry count)"
            warm = n < self.args.warmup
            if warm:
                measure.first = sample
            else:
                measure.samples.append(sample)
            self.log(
                f"  ingest {fmt} {size} {'warm-up' if warm else f'run {n - self.args.warmup + 1}/{runs}'}: "
                f"{sample.wall:.2f}s, {sample.rss_mb:.0f} MB"
            )
            if n == 0:
                kept = self._keep(size, info, scratch, fmt)
        shutil.rmtree(scratch, ignore_errors=True)
        return measure, kept

    def _keep(self, size: str, info: dict, scratch: Path, fmt: str) -> Store:
        """Count what the first ingest stored (and time the first read after it); keep the JSONL store."""
        db = scratch / "kb.json"
        sample, ids = run_once(
            self.kb_argv(db, "list", "--format", "ids", "--limit", "0"), self.env, keep_stdout=True, ok=(0, 1)
        )
        entries = len(ids.split())
        # The store is the catalog kb.json, any journal beside it and the shard files the
        # catalog names; the index is kb.index.sqlite (+ -wal); other files kb keeps beside
        # them (the backup catalog and the shard files only it names) are counted apart.
        files = {p.name: p.stat().st_size for p in scratch.iterdir() if p.is_file()}
        shard_dir = scratch / "kb.json.d"
        shards = {p.name: p.stat().st_size for p in shard_dir.iterdir()} if shard_dir.is_dir() else {}
        named = {doc["file"] for doc in json.loads((scratch / "kb.json").read_text()).get("shards", {}).values()}
        store_bytes = sum(v for k, v in files.items() if k in ("kb.json", "kb.json.journal")) + sum(
            v for k, v in shards.items() if k in named
        )
        index_bytes = sum(v for k, v in files.items() if ".index" in k)
        other_bytes = sum(files.values()) + sum(shards.values()) - store_bytes - index_bytes
        self.results["stores"][f"{size} {fmt}"] = {
            "records": info["records"],
            "entries": entries,
            "store_bytes": store_bytes,
            "index_bytes": index_bytes,
            "other_bytes": other_bytes,
            "files": files,
            "first_list_all_s": sample.wall,
        }
        self.log(
            f"  {size} {fmt}: {entries:,} entries; store {store_bytes / 1e6:.1f} MB, "
            f"index {index_bytes / 1e6:.1f} MB; first 'kb list --limit 0' after ingest {sample.wall:.2f}s"
        )
        if entries == 0:
            raise CommandFailed(f"kb ingest of {info['records']} records stored nothing")
        if fmt != "jsonl":
            return None  # type: ignore[return-value]
        final = self.work / "stores" / size
        shutil.rmtree(final, ignore_errors=True)
        # A rename, not a copy: a copied store gets new inodes, so its index would no longer
        # match it and the first lookup would rebuild the index (minutes at 1M entries).
        scratch.rename(final)
        return Store(
            size,
            final / "kb.json",
            entries,
            self._show_id(final / "kb.json", info),
            store_bytes,
            index_bytes,
            sample.wall,
        )

    def _reuse(self, size: str, info: dict) -> Store | None:
        """The store a previous run kept for this size, if any (``--reuse-stores``: no ingest is timed)."""
        db = self.work / "stores" / size / "kb.json"
        if not db.exists():
            return None
        _, out = run_once(self.kb_argv(db, "path", "--format", "json"), self.env, keep_stdout=True)
        facts = json.loads(out)
        self.log(f"  {size}: reusing the kept store ({facts['entries']:,} entries); no ingest timed")
        self.note(f"{size}: the store of an earlier run was reused (--reuse-stores); its ingest was not timed")
        return Store(
            size,
            db,
            int(facts["entries"]),
            self._show_id(db, info),
            int(facts["store_bytes"] or 0),
            int(facts["index_bytes"] or 0),
            0.0,
        )

    def _show_id(self, db: Path, info: dict) -> int | None:
        """The integer id of the same record at every size: the 1k sample's middle record, by uid."""
        probe = self.results.setdefault("probe_uid", None)
        if probe is None:
            with open(info["jsonl"], encoding="utf-8") as fh:
                lines = fh.readlines()
            probe = self.results["probe_uid"] = corpora.kb_uid(json.loads(lines[len(lines) // 2]))
        try:
            _, out = run_once(self.kb_argv(db, "show", probe[:12], "--format", "json"), self.env, keep_stdout=True)
            return int(json.loads(out)["id"])
        except (CommandFailed, ValueError, KeyError, TypeError):
            return None

    # -- lookups -------------------------------------------------------------------------

    def lookups(self, store: Store, info: dict) -> dict[str, Measure]:
        db = store.db
        show_id = store.show_id if store.show_id is not None else max(1, store.entries // 2)
        commands = [
            Command("kb search (2 words)", self.kb_argv(db, "search", QUERY_2), ok=(0, 1)),
            Command("kb search (20 words)", self.kb_argv(db, "search", QUERY_20), ok=(0, 1)),
            Command("kb ask (2 words)", self.kb_argv(db, "ask", QUERY_2, "--no-pager"), ok=(0, 1)),
            Command("kb ask (20 words)", self.kb_argv(db, "ask", QUERY_20, "--no-pager"), ok=(0, 1)),
            Command("kb show ID", self.kb_argv(db, "show", str(show_id))),
            Command("kb list --limit 20", self.kb_argv(db, "list", "--limit", "20")),
            Command(
                "floor (Typer + Rich)",
                [self.python, str(HERE / "floor.py"), "search", "bone", "marrow", "--limit", "10"],
            ),
        ]
        if self.rg and info.get("txt_dir"):
            commands += [
                Command("rg -i -l (2 words)", [self.rg, "-i", "-l", QUERY_2, info["txt_dir"]], ok=(0, 1)),
                Command(
                    "rg -i -l (OR of 10 words)",
                    [self.rg, "-i", "-l", *[a for w in QUERY_20_WORDS for a in ("-e", w)], info["txt_dir"]],
                    ok=(0, 1),
                ),
            ]
        self.log(f"lookups at {store.size} ({store.entries:,} entries, show id {show_id}):")
        measures = bench_round_robin(commands, self.env, self.args.runs, self.args.warmup, self.log)
        for name in ("kb search (2 words)", "kb search (20 words)", "kb ask (2 words)", "kb ask (20 words)"):
            codes = {s.code for s in measures[name].samples}
            if codes != {0}:
                measures[name].note = "found nothing (exit 1)"
        return measures

    def startup(self) -> dict[str, Measure]:
        commands = [
            Command("python -c pass", [self.python, "-c", "pass"]),
            Command('python -c "import typer"', [self.python, "-c", "import typer"]),
            Command("floor (Typer + Rich)", [self.python, str(HERE / "floor.py"), "search", "bone", "marrow"]),
            Command("kb --help", [self.kb, "--help"]),
            Command("kb --version", [self.kb, "--version"]),
            Command(
                "kb --help, no bytecode cache (PYTHONDONTWRITEBYTECODE=1)", [self.kb, "--help"], env=self.no_pyc_env
            ),
            Command(
                "floor, no bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
                [self.python, str(HERE / "floor.py"), "search", "bone", "marrow"],
                env=self.no_pyc_env,
            ),
        ]
        self.log("start-up:")
        return bench_round_robin(commands, self.env, self.args.runs, self.args.warmup, self.log)

    # -- add / remove ----------------------------------------------------------------------

    def writes(self, store: Store) -> dict[str, Measure]:
        """Time adding one entry and removing it again (the store ends as it began)."""
        help_text = subprocess.run([self.kb, "add", "--help"], capture_output=True, text=True, env=self.env).stdout
        if "--question" not in help_text or "--answer" not in help_text:
            self.note("kb add has no --question/--answer options here: add/remove not measured")
            return {}
        add = Measure("kb add (one entry)", self.kb_argv(store.db, "add", "--question", "Q", "--answer", "A"))
        remove = Measure("kb remove (one entry)", self.kb_argv(store.db, "remove", "UID", "--yes"))
        nonce = f"{os.getpid()}-{time.time_ns()}"
        self.log(f"add/remove at {store.size}:")
        for n in range(self.args.warmup + self.args.runs):
            question = ADD_QUESTION.format(n=n)
            answer = ADD_ANSWER.format(n=n, nonce=nonce)
            uid = corpora.kb_uid({"question": question, "answer": answer})
            added, _ = run_once(
                self.kb_argv(
                    store.db,
                    "add",
                    "--question",
                    question,
                    "--answer",
                    answer,
                    "--title",
                    "Bone marrow biopsy recovery",
                    "--no-input",
                ),
                self.env,
            )
            removed, _ = run_once(self.kb_argv(store.db, "remove", uid, "--yes"), self.env)
            if n < self.args.warmup:
                add.first, remove.first = added, removed
            else:
                add.samples.append(added)
                remove.samples.append(removed)
            self.log(f"    add {added.wall:.3f}s ({added.rss_mb:.0f} MB), remove {removed.wall:.3f}s")
        return {add.name: add, remove.name: remove}

    # -- the whole run ---------------------------------------------------------------------

    def run(self, sizes: list[str], manifest: dict[str, dict]) -> None:
        self.results["load_before"] = load()
        self.results["code_before"] = code_fingerprint()
        self.results["startup"] = self.startup()
        stores: dict[str, Store] = {}
        for size in sizes:
            info = manifest[size]
            self.results["ingest"][size] = {}
            reused = self._reuse(size, info) if self.args.reuse_stores else None
            if reused is not None:
                stores[size] = reused
            formats = [] if reused else ["jsonl"] + (["files"] if info.get("qa_dir") else [])
            for fmt in formats:
                measure, kept = self.ingest(size, info, fmt)
                self.results["ingest"][size][fmt] = measure
                if kept is not None:
                    stores[size] = kept
            self.results["lookup"][size] = self.lookups(stores[size], info)
            if size in self.args.write_sizes or self.args.smoke:
                self.results["write"][size] = self.writes(stores[size])
        self.results["load_after"] = load()
        self.results["code_after"] = code_fingerprint()
        if self.results["code_after"] != self.results["code_before"]:
            self.note("kb's source files changed during this run (other work landed): the numbers mix two versions")
        self.results["store_objs"] = stores


# -- the report -----------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _x(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}x"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("PASS" if ok else "**MISS**")


def report(bench: Bench, sizes: list[str], command: str, info: dict[str, str], manifest: dict) -> str:
    r = bench.results
    lines = ["# kb benchmark results", ""]
    lines += [
        "Whole-process timings of the installed `kb` console script (a fresh process per run): median of "
        f"{bench.args.runs} run(s) after {bench.args.warmup} warm-up run(s); commands of one store size run "
        "round-robin. Peak memory is the process's maximum RSS "
        + ("(GNU time's `%M`)" if TIME_BIN else "(wait4; includes up to the runner's own RSS)")
        + "; for ingest, the larger of that and the sampled sum over kb and its indexing process. Generated by `bench/run.py`; "
        "see `bench/README.md` for the method and `bench/PROFILE.md` for where the time goes.",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += [
        "| Python bytecode | "
        + (
            "cached (PYTHONPYCACHEPREFIX=bench/out/pycache, PYTHONDONTWRITEBYTECODE unset), as for an installed kb"
            if bench.args.bytecode_cache
            else "not cached (PYTHONDONTWRITEBYTECODE=1): every run compiles kb from source"
        )
        + " |",
        f"| kb sources (sha256 of kb/**/*.py) | {r['code_before']}"
        + ("" if r["code_after"] == r["code_before"] else f" at the start, {r['code_after']} at the end")
        + " |",
        f"| load average (1/5/15 min) | before {r['load_before']}; after {r['load_after']} |",
        f"| date | {time.strftime('%Y-%m-%d %H:%M %Z')} |",
        "",
        "The machine is shared with other engineers running tests: expect ±30 % noise on single numbers; "
        "ratios measured in the same round-robin group are steadier than absolute times.",
        "",
    ]

    # Corpora and stores.
    lines += [
        "## Corpora and stores",
        "",
        "| size | records | entries stored | JSONL MB | store MB (TinyDB files) | index MB (SQLite) | bytes per entry (store + index) "
        "| other files MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        st = r["stores"].get(f"{size} jsonl", {})
        entries = st.get("entries") or 0
        total = st.get("store_bytes", 0) + st.get("index_bytes", 0)
        lines.append(
            f"| {size} | {manifest[size]['records']:,} | {entries:,} | {manifest[size]['jsonl_bytes'] / 1e6:.1f} | "
            f"{st.get('store_bytes', 0) / 1e6:.1f} | {st.get('index_bytes', 0) / 1e6:.1f} | "
            f"{total / entries if entries else 0:,.0f} | {st.get('other_bytes', 0) / 1e6:.1f} |"
        )
    lines += [
        "",
        "Store: the catalog `kb.json` (+ `kb.json.journal` if any) and the shard files it names in "
        "`kb.json.d/`; index: `kb.index.sqlite` (+ WAL); other files: what else kb keeps beside them "
        "(`kb.json.bak` and the shard files only it names). Sizes after the JSONL ingest.",
        "",
    ]

    # Ingest.
    lines += [
        "## Ingest (fresh store each run; the search index is built during ingest)",
        "",
        "| size | input | median s | entries/s | peak MB (both processes) | CPU s | vs 16k time |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for fmt, m in r["ingest"].get(size, {}).items():
            records = manifest[size]["records"]
            base = r["ingest"].get("16k", {}).get(fmt)
            label = "one JSONL file" if fmt == "jsonl" else "one qa file per entry"
            lines.append(
                f"| {size} | {label} | {_s(m.wall)} | {records / m.wall:,.0f} | {_mb(m.rss)} | {_s(m.cpu)} | "
                f"{_x(m.wall, base.wall if base else None)} |"
            )
    lines += [
        "",
        "Entries per second count the records read (MedQuAD repeats 48 of its 16,423 pairs; kb "
        "stores each once). `vs 16k time` of 100k is the linearity check: 100k/16,423 records = 6.09x, "
        "target ≤ 7x.",
        "",
    ]
    lines += [
        "First `kb list --format ids --limit 0` right after each ingest (a stale index would be "
        "rebuilt here): " + ", ".join(f"{k} {v['first_list_all_s']:.2f}s" for k, v in r["stores"].items()),
        "",
    ]

    # Lookups.
    names = list(next(iter(r["lookup"].values())).keys()) if r["lookup"] else []
    small, big = sizes[0], ("100k" if "100k" in sizes else sizes[-1])
    scaled = big != small
    head = "| command | " + " | ".join(f"{s} s" for s in sizes) + (f" | {big} / {small}" if scaled else "")
    head += "".join(f" | vs floor @{s}" for s in sizes) + " |"
    lines += ["## Lookups (median seconds, whole process)", "", head, "|---" * (1 + 2 * len(sizes) + scaled) + "|"]
    for name in names:
        group = {s: r["lookup"].get(s, {}).get(name) for s in sizes}
        cells = [_s(m.wall if m else None) for m in group.values()]
        if scaled:
            cells.append(_x(group[big].wall, group[small].wall) if group[big] and group[small] else "–")
        for s in sizes:
            floor = r["lookup"].get(s, {}).get("floor (Typer + Rich)")
            m = group[s]
            cells.append("–" if name.startswith("floor") or not m or not floor else _x(m.wall, floor.wall))
        note = next((m.note for m in group.values() if m and m.note), "")
        lines.append(f"| {name}{' (' + note + ')' if note else ''} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The floor (`bench/floor.py`) was run in each size's round-robin group; ratios use the floor "
        "of the same group. rg searches the same records as one plain-text file each: the 2-word query as "
        "the literal phrase, the 20-word question as an OR of its 10 content words (`-e` per word), "
        "which is what kb's natural-language search matches on.",
        "",
    ]

    lines += [
        "### Peak memory (MB, max RSS)",
        "",
        "| command | " + " | ".join(sizes) + (f" | {big} / {small} |" if scaled else " |"),
        "|---" * (len(sizes) + 1 + scaled) + "|",
    ]
    for name in names:
        row = [r["lookup"][s][name].rss if name in r["lookup"].get(s, {}) else None for s in sizes]
        ratio = f" | {_x(row[sizes.index(big)], row[0])}" if scaled else ""
        lines.append(f"| {name} | " + " | ".join(_mb(v) for v in row) + ratio + " |")
    lines.append("")

    lines += [
        "## Start-up",
        "",
        "| command | median s | CPU s | peak MB | vs `import typer` |",
        "|---|---|---|---|---|",
    ]
    typer_t = r["startup"]['python -c "import typer"'].wall
    for name, m in r["startup"].items():
        lines.append(f"| `{name}` | {_s(m.wall)} | {_s(m.cpu)} | {_mb(m.rss)} | {_x(m.wall, typer_t)} |")
    lines.append("")

    if any(r["write"].values()):
        lines += [
            "## Writing one entry (`kb add`, then `kb remove` of it)",
            "",
            "| size | kb add s | peak MB | kb remove s | peak MB |",
            "|---|---|---|---|---|",
        ]
        for size, group in r["write"].items():
            if group:
                a, d = group["kb add (one entry)"], group["kb remove (one entry)"]
                lines.append(f"| {size} | {_s(a.wall)} | {_mb(a.rss)} | {_s(d.wall)} | {_mb(d.rss)} |")
        lines.append("")

    lines += ["## Against the targets (issues 2, 3 and 6)", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += target_rows(bench, sizes, manifest)
    lines.append("")
    if r["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    lines += [
        "Corpus: MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 20:511, 2019), CC BY 4.0; "
        "100k and 1M are replicas with shuffled sentences and swapped words (see `bench/README.md`).",
        "",
    ]
    return "\n".join(lines)


def target_rows(bench: Bench, sizes: list[str], manifest: dict) -> list[str]:
    r = bench.results
    rows = []
    for size in [s for s in ("16k", "100k", "1m") if s in sizes]:
        for fmt, m in r["ingest"].get(size, {}).items():
            rate = manifest[size]["records"] / m.wall
            rows.append(
                f"| ingest {fmt} {size} ≥ {INGEST_RATE:,} entries/s | {int(rate):,}/s "
                f"({m.wall:.2f} s) | {verdict(rate >= INGEST_RATE)}"
                + ("" if rate >= INGEST_RATE else f" (needs {INGEST_RATE / rate:.2f}x faster)")
                + " |"
            )
    if "16k" in sizes and "100k" in sizes:
        for fmt in ("jsonl", "files"):
            a, b = r["ingest"]["16k"].get(fmt), r["ingest"]["100k"].get(fmt)
            if a and b:
                ratio = b.wall / a.wall
                rows.append(
                    f"| ingest {fmt} linear: 100k time ≤ {LINEAR_MAX:g}x 16k time | {ratio:.2f}x | "
                    f"{verdict(ratio <= LINEAR_MAX)} |"
                )
    if "16k" in sizes and "100k" in sizes:
        a, b = r["ingest"]["16k"].get("jsonl"), r["ingest"]["100k"].get("jsonl")
        if a and b:
            rows.append(
                f"| ingest jsonl in bounded memory (peak at 100k ≤ {MEMORY_FLAT}x 16k) | {b.rss:.0f} MB vs "
                f"{a.rss:.0f} MB ({b.rss / a.rss:.2f}x) | {verdict(b.rss <= a.rss * MEMORY_FLAT)} |"
            )
    lookups = (
        "kb search (2 words)",
        "kb search (20 words)",
        "kb ask (2 words)",
        "kb ask (20 words)",
        "kb show ID",
        "kb list --limit 20",
    )
    small, big = sizes[0], ("100k" if "100k" in sizes else None)
    if big:
        for name in lookups:
            a, b = r["lookup"][small][name], r["lookup"][big][name]
            limit = max(a.wall * SCALE_MAX, a.wall + SCALE_SLACK)
            rows.append(
                f"| {name}: 100k ≤ 1.5x (or +50 ms) of 1k | {b.wall:.3f} s vs {a.wall:.3f} s "
                f"({b.wall / a.wall:.2f}x, limit {limit:.3f} s) | {verdict(b.wall <= limit)} |"
            )
        for name in lookups:
            b, floor = r["lookup"][big][name], r["lookup"][big]["floor (Typer + Rich)"]
            ratio = b.wall / floor.wall
            rows.append(
                f"| {name}: 100k ≤ {FLOOR_MAX_100K}x floor | {b.wall:.3f} s vs floor {floor.wall:.3f} s "
                f"({ratio:.2f}x) | {verdict(ratio <= FLOOR_MAX_100K)} |"
            )
        for name in lookups:
            a, b = r["lookup"][small][name].rss, r["lookup"][big][name].rss
            rows.append(
                f"| {name}: peak memory flat (100k ≤ {MEMORY_FLAT}x 1k) | {b:.0f} MB vs {a:.0f} MB "
                f"({b / a:.2f}x) | {verdict(b <= a * MEMORY_FLAT)} |"
            )
    if "16k" in sizes:
        for name in lookups[:2]:
            m, floor = r["lookup"]["16k"][name], r["lookup"]["16k"]["floor (Typer + Rich)"]
            ratio = m.wall / floor.wall
            rows.append(
                f"| {name}: 16k ≤ {FLOOR_MAX_16K_SEARCH}x floor | {m.wall:.3f} s vs floor {floor.wall:.3f} s "
                f"({ratio:.2f}x) | {verdict(ratio <= FLOOR_MAX_16K_SEARCH)} |"
            )
    if "1m" in sizes:
        for name in lookups:
            m = r["lookup"]["1m"][name]
            rows.append(
                f"| {name}: 1M < {MILLION_MAX * 1000:.0f} ms | {m.wall:.3f} s | {verdict(m.wall < MILLION_MAX)} |"
            )
    help_m, typer_m = r["startup"]["kb --help"], r["startup"]['python -c "import typer"']
    ratio = help_m.wall / typer_m.wall
    rows.append(
        f"| kb --help < {HELP_MAX}x `import typer` | {help_m.wall:.3f} s vs {typer_m.wall:.3f} s "
        f"({ratio:.2f}x) | {verdict(ratio < HELP_MAX)} |"
    )
    for size, group in r["write"].items():
        for name, m in group.items():
            if size in ("100k", "1m"):
                rows.append(
                    f"| {name} at {size} < {WRITE_MAX} s | {m.wall:.3f} s | {verdict(m.wall < WRITE_MAX)}"
                    + ("" if m.wall < WRITE_MAX else f" ({m.wall / WRITE_MAX:.1f}x over)")
                    + " |"
                )
    return rows


def dump(bench: Bench, path: Path, info: dict, command: str) -> None:
    def plain(value):
        if isinstance(value, Measure):
            return value.to_dict()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "store_objs"}
        return value

    path.write_text(json.dumps({"command": command, "machine": info, **plain(bench.results)}, indent=1))


# -- profiles ---------------------------------------------------------------------------------


def profile(bench: Bench, manifest: dict[str, dict]) -> None:
    """Profile the main commands with pyinstrument (cProfile if it is missing); -X importtime for --help."""
    out = bench.work / "profile"
    out.mkdir(parents=True, exist_ok=True)
    py = bench.python
    env = bench.env
    have_pyinstrument = subprocess.run([py, "-c", "import pyinstrument"], capture_output=True).returncode == 0
    big = bench.work / "stores" / ("100k" if (bench.work / "stores" / "100k").exists() else "smoke") / "kb.json"
    mid = "16k" if "16k" in manifest else "smoke"
    with open(out / "importtime-help.txt", "w") as fh:
        subprocess.run([py, "-X", "importtime", "-m", "kb", "--help"], stdout=subprocess.DEVNULL, stderr=fh, env=env)
    summarise_importtime(out / "importtime-help.txt", out / "importtime-help-top.txt")
    with open(out / "importtime-search.txt", "w") as fh:
        subprocess.run(
            [py, "-X", "importtime", "-m", "kb", "--db", str(big), "search", QUERY_2],
            stdout=subprocess.DEVNULL,
            stderr=fh,
            env=env,
        )
    summarise_importtime(out / "importtime-search.txt", out / "importtime-search-top.txt")
    scratch = bench.work / "stores" / "scratch-profile"
    jobs = [
        ("search-2words-100k", ["--db", str(big), "search", QUERY_2]),
        ("search-20words-100k", ["--db", str(big), "search", QUERY_20]),
        ("list-100k", ["--db", str(big), "list", "--limit", "20"]),
        ("show-100k", ["--db", str(big), "show", "1"]),
        ("ingest-jsonl-" + mid, ["--db", str(scratch / "kb.json"), "ingest", manifest[mid]["jsonl"]]),
        ("ingest-files-" + mid, ["--db", str(scratch / "kb.json"), "ingest", manifest[mid]["qa_dir"]]),
    ]
    for name, args in jobs:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        if have_pyinstrument:
            argv = [
                py,
                "-m",
                "pyinstrument",
                "--renderer",
                "text",
                "--show-all",
                "-o",
                str(out / f"{name}.txt"),
                "-m",
                "kb",
                *args,
            ]
        else:
            argv = [py, "-m", "cProfile", "-o", str(out / f"{name}.pstats"), "-m", "kb", *args]
        bench.log(f"profiling {name} ...")
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if not have_pyinstrument:
            stats = subprocess.run(
                [
                    py,
                    "-c",
                    "import pstats,sys; pstats.Stats(sys.argv[1]).sort_stats('cumulative').print_stats(40)",
                    str(out / f"{name}.pstats"),
                ],
                capture_output=True,
                text=True,
            )
            (out / f"{name}.txt").write_text(stats.stdout)
    shutil.rmtree(scratch, ignore_errors=True)
    bench.log(f"profiles written to {out}")


def summarise_importtime(src: Path, dest: Path, top: int = 25) -> None:
    """Write the imports with the largest cumulative time from a -X importtime log."""
    rows = []
    for line in src.read_text().splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), int(parts[0].split(":")[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    dest.write_text(
        "cumulative_us  self_us  module\n" + "\n".join(f"{c:>12} {s:>8}  {m}" for c, s, m in rows[:top]) + "\n"
    )


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=corpora.DEFAULT_CORPUS, help="medquad.jsonl.gz")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="work folder (git-ignored)")
    parser.add_argument("--sizes", default="1k,16k,100k", help="store sizes, from 1k,16k,100k,1m")
    parser.add_argument("--million", action="store_true", help="also the 1M-entry store (slow: tens of minutes)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--ingest-runs", type=int, default=5, help="timed ingests per size and input (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs before timing (default 1)")
    parser.add_argument("--write-sizes", default="16k,100k", help="sizes at which kb add/remove are timed")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="where the Markdown table goes")
    parser.add_argument(
        "--no-bytecode-cache",
        dest="bytecode_cache",
        action="store_false",
        help="run Python children with PYTHONDONTWRITEBYTECODE=1 (every import compiles)",
    )
    parser.add_argument(
        "--reuse-stores",
        action="store_true",
        help="time lookups on the stores an earlier run kept in --out, without ingesting",
    )
    parser.add_argument("--smoke", action="store_true", help="1k synthetic entries, one run each, no corpus needed")
    parser.add_argument("--profile", action="store_true", help="profile kb on the stores of a previous run")
    args = parser.parse_args(argv)
    args.write_sizes = [s.strip().lower() for s in args.write_sizes.split(",")]
    command = "python bench/run.py" + (
        "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
        if argv is None
        else "".join(f" {shlex.quote(a)}" for a in argv)
    )
    if args.smoke:
        args.runs, args.ingest_runs, args.warmup = 1, 1, 0
        args.results = args.out / "SMOKE-RESULTS.md"
        sizes = ["smoke"]
    else:
        sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
        if args.million and "1m" not in sizes:
            sizes.append("1m")
        if not args.corpus.exists():
            print(f"corpus not found, skipping: {args.corpus} (try: python bench/run.py --smoke)")
            return 0
    bench = Bench(args)
    started = time.perf_counter()
    manifest = corpora.build(
        None if args.smoke else args.corpus, args.out / "corpora", sizes, smoke=args.smoke, log=bench.log
    )
    if args.profile:
        profile(bench, manifest)
        return 0
    info = machine(bench.python)
    if not bench.rg:
        bench.note("ripgrep (rg) is not installed: the rg comparison was skipped")
    try:
        bench.run(sizes, manifest)
    except CommandFailed as exc:
        print(f"benchmark stopped: a kb command failed\n  {exc}", file=sys.stderr)
        return 1
    text = report(bench, sizes, command, info, manifest)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    dump(bench, args.out / ("smoke-results.json" if args.smoke else "results.json"), info, command)
    print(f"\nwrote {args.results} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
