"""One meaning per short flag across kb, read from the Typer app itself.

A short flag names the same long option in every command that has it (`-F` is
`--format` everywhere, `-q` is `--quiet`), and a long option that has a short flag in
one command has it in every command that offers the option.
"""

from __future__ import annotations

from collections import defaultdict

import typer.main

from kb.cli.app import build


def _options():
    """Yield (command, short flags, long name) for every option of every command and the root."""
    group = typer.main.get_command(build())
    commands = [("kb", group), *sorted(group.commands.items())]
    for name, command in commands:
        for param in command.params:
            opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
            longs = [o for o in opts if o.startswith("--")]
            shorts = [o for o in opts if not o.startswith("--") and o.startswith("-")]
            if longs:
                yield name, shorts, longs[0]


def test_each_short_flag_means_one_option_everywhere() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for command, shorts, long in _options():
        for short in shorts:
            meanings[short].add(long)
            where[short].append(f"{command} {long}")
    clashes = {s: where[s] for s, longs in meanings.items() if len(longs) > 1}
    assert not clashes, clashes


def test_an_option_has_its_short_flags_wherever_it_is_offered() -> None:
    shorts_of: dict[str, dict[str, frozenset[str]]] = defaultdict(dict)
    for command, shorts, long in _options():
        shorts_of[long][command] = frozenset(shorts)
    for long, by_command in shorts_of.items():
        offered = set().union(*by_command.values())
        if not offered:
            continue
        # Every command gives the main short flag; one may keep an older alias beside it.
        common = frozenset.intersection(*by_command.values())
        assert common, f"{long} has different short flags: {by_command}"


def test_ingest_format_takes_the_same_short_flag_as_other_commands() -> None:
    formats = {c: s for c, s, long in _options() if long == "--format"}
    assert all("-F" in shorts for shorts in formats.values()), formats
