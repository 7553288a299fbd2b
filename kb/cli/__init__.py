"""The `kb` command: the Typer app (app.py), its shared options, and one module per command family.

The only package that imports typer. It may import everything below it (kb.api, kb.render,
kb.doctor and the packages under them); nothing imports it but ``kb/__main__.py`` and the
console-script entry point (``kb.cli.app:main``).
"""
