"""What a newcomer reads from ``ivr`` itself: its version, every command's line in the list
uncut, every option described, and where the configuration was looked for."""

from __future__ import annotations

from importlib.metadata import version

import click
import pytest
from click.testing import CliRunner

from ivr.cli import main


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"ivr {version('ivr')}\n"


def test_the_command_list_shows_each_summary_whole():
    listing = CliRunner().invoke(main, ["--help"], terminal_width=80).output
    for name, command in main.commands.items():
        summary = command.get_short_help_str(limit=1000)
        assert f"{name}  " in listing and summary in listing and not summary.endswith("..."), name


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
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
