"""What a newcomer reads from ``ivr`` itself: its version, every command's line in the list
uncut, every option described, and where the configuration was looked for."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ivr.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"ivr {version('ivr')}\n"


def _subcommands(group: click.Group):
    """Every subcommand, the lazily imported ones too (``group.commands`` holds only those loaded)."""
    ctx = click.Context(group)
    return [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]


def test_the_command_list_shows_each_summary_whole():
    listing = CliRunner().invoke(main, ["--help"], terminal_width=80).output
    for name, command in _subcommands(main):
        summary = command.get_short_help_str(limit=1000)
        assert f"{name}  " in listing and summary in listing and not summary.endswith("..."), name


def test_every_command_of_the_list_is_found():
    names = [name for name, _ in _subcommands(main)]
    assert {"serve", "worker", "check", "user", "export", "reconcile", "compensation"} <= set(names)
    for name, command in _subcommands(main):
        assert isinstance(command, click.Command) and command.name == name


_LIST_MODULES_AFTER_HELP = """
import sys
from ivr.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("loaded:", *sorted(sys.modules))
"""


def test_the_help_imports_no_command_module_nor_the_web_stack():
    """`ivr --help` stays quick: the lazy commands' modules, Flask and SQLAlchemy are left alone
    (benchmarks/startup.py times it)."""
    output = subprocess.run([sys.executable, "-c", _LIST_MODULES_AFTER_HELP], capture_output=True, text=True,
                            check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    loaded = set(output.splitlines()[-1].split()[1:])
    assert "ivr.cli" in loaded and "Commands:" in output
    heavy = {"flask", "sqlalchemy", "pydantic", "yaml", "holidays", "ivr.cli.users", "ivr.cli.records", "ivr.cli.compensation"}
    assert not heavy & loaded, heavy & loaded


def _commands(group: click.Group, prefix: str = ""):
    for name, command in _subcommands(group):
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


@pytest.mark.parametrize("name, command", list(_commands(main)))
def test_every_option_says_what_it_is_for(name, command):
    undescribed = [p.opts[0] for p in command.params if isinstance(p, click.Option) and not p.help]
    assert not undescribed, f"ivr {name}: {undescribed}"


@pytest.mark.parametrize("args", [["check"], ["deadline", "--department", "technical"]])
def test_outside_the_project_folder_the_error_names_the_file_and_the_variable(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVR_ROUTING_FILE", raising=False)
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert f"{tmp_path / 'routing.yaml'}: file not found" in result.output and "IVR_ROUTING_FILE" in result.output
