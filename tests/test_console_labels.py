"""The console's catalogs (prompts/console/<lang>.yaml): every label the console may show is in
each, by name or by a name it builds, and a catalog lacking one is refused at start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ivr.cli import main
from ivr.console_labels import label_names, label_specs
from ivr.errors import ConfigError
from ivr.settings import load_hotline
from ivr.states import CallbackOutcome, CallOutcome, Role, SmsStatus, TicketSource, TicketStatus

from conftest import ROOT, edit

IVR = ROOT / "ivr"
# label("key", value=...): the values the console fills in a label it names.
LABEL_VALUES = re.compile(r"""(?<![.\w])label\(\s*["']([a-z0-9_]+)["']\s*,([^()]*(?:\([^()]*\)[^()]*)*)\)""")
# label("key", ...) or labels["key"] in a template or a view: a label shown by its name.
NAMED_LABEL = re.compile(r"""(?<![.\w])label\(\s*["']([a-z0-9_]+)["']\s*[,)]|\blabels\[["']([a-z0-9_]+)["']\]""")


def problems(config_dir: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    return str(caught.value)


def shipped_keys(lang: str) -> set[str]:
    return set(yaml.safe_load((ROOT / "prompts" / "console" / f"{lang}.yaml").read_text(encoding="utf-8")))


def test_the_list_of_labels_is_what_the_shipped_catalogs_give():
    names = label_names()
    for lang in ("ro", "en"):
        keys = shipped_keys(lang)
        assert not keys - names, f"add to ivr/console_label_names.txt: {sorted(keys - names)}"
        assert not names - keys, f"prompts/console/{lang}.yaml lacks {sorted(names - keys)}"


def test_every_label_the_console_names_is_listed():
    sources = [*(IVR / "templates" / "console").glob("*.html"), *(IVR / "console").glob("*.py")]
    named = {called or indexed for path in sources for called, indexed in NAMED_LABEL.findall(path.read_text("utf-8"))}
    assert {"stats_complaints_without_operator", "callback_call", "bulk_done", "throttled"} <= named
    assert not named - label_names()


@pytest.mark.parametrize("prefix, values", [
    ("status_", [v for k, v in vars(TicketStatus).items() if k.isupper() and isinstance(v, str)]),
    ("count_", [v for k, v in vars(TicketStatus).items() if k.isupper() and isinstance(v, str)]),
    ("source_", [v for k, v in vars(TicketSource).items() if k.isupper() and isinstance(v, str)]),
    ("sms_status_", [v for k, v in vars(SmsStatus).items() if k.isupper() and isinstance(v, str)]),
    ("outcome_", [*CallOutcome.ALL, "open"]),
    ("stats_outcome_", CallOutcome.ALL),
    ("role_", Role.ALL),
    ("callback_outcome_", [*CallbackOutcome.ALL, "pending"]),
    ("stats_weekday_", [str(day) for day in range(7)]),
])
def test_every_label_the_console_builds_from_a_state_is_listed(prefix, values):
    assert {prefix + value for value in values} <= label_names()


def test_every_value_the_console_fills_in_is_listed_for_its_label():
    """A catalog may use the values console_label_names.txt lists: those the console gives."""
    sources = [*(IVR / "templates" / "console").glob("*.html"), *(IVR / "console").glob("*.py")]
    given = [(key, set(re.findall(r"(\w+)\s*=(?!=)", values)))
             for path in sources for key, values in LABEL_VALUES.findall(path.read_text("utf-8"))]
    specs = label_specs()
    assert ("signed_in_as", {"name", "role"}) in given
    assert [(key, names) for key, names in given if not names <= specs[key].placeholders] == []


@pytest.mark.parametrize("key, text, problem", [
    ("signed_in_as", '"{nume} ({role})"', "unknown placeholder {nume} (this label's: {name}, {role})"),
    ("title", '"Reclamații {company}"', "unknown placeholder {company} (this label's: none)"),
    ("signed_in_as", '"{name.__class__} ({role})"', "unknown placeholder {name.__class__}"),
    ("sign_out", '"Ieșire {"', "a { or } without its pair (write {{ or }} for the character itself)"),
    ("title", '{one: "Reclamație", other: "Reclamații"}', "must be one text: this label counts nothing"),
    ("bulk_done", '{one: "{count} gata", other: "{numar} gata"}', "unknown placeholder {numar} (this label's: {count})"),
], ids=["misspelt", "not given", "attribute", "lone brace", "plural forms", "in a plural form"])
def test_a_text_the_console_could_not_fill_in_is_refused_naming_the_file_and_the_key(config_dir, key, text, problem):
    """Each of these passed ``ivr check`` and then failed every page that shows the label (500)."""
    path = config_dir / "prompts" / "console" / "ro.yaml"
    lines = [f"{key}: {text}" if line.startswith(f"{key}: ") else line for line in path.read_text("utf-8").splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert f"prompts/console/ro.yaml: {key}: {problem}" in problems(config_dir)


def test_a_label_missing_in_one_language_is_named(config_dir):
    edit(config_dir / "prompts" / "console" / "en.yaml", 'reopen: "Re-open"\n', "")
    assert re.search(r"prompts/console/en\.yaml: reopen: missing \(the console shows it\)", problems(config_dir))


def test_a_misspelt_label_is_named(config_dir):
    edit(config_dir / "prompts" / "console" / "en.yaml", 'reopen: "Re-open"\n', 'reopn: "Re-open"\n')
    found = problems(config_dir)
    assert re.search(r"prompts/console/en\.yaml: reopn: unknown key \(the console has no such label\)", found)
    assert re.search(r"prompts/console/en\.yaml: reopen: missing", found)


def test_a_catalog_from_an_older_version_is_refused_naming_the_label_it_lacks(config_dir, runner, monkeypatch):
    """A label this console shows, missing from both languages (a catalog kept from before it
    existed): refused at start with the file and the key, not a failed page later."""
    for lang, line in (("ro", 'stats_complaints_without_operator: "Reclamații fără operator"\n'),
                       ("en", 'stats_complaints_without_operator: "Complaints without an operator"\n')):
        edit(config_dir / "prompts" / "console" / f"{lang}.yaml", line, "")
    assert re.search(r"prompts/console/ro\.yaml: stats_complaints_without_operator: missing \(the console shows it\)",
                     problems(config_dir))
    monkeypatch.chdir(config_dir)
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1 and "stats_complaints_without_operator: missing" in result.output


def test_a_catalog_lacking_a_label_whose_name_is_built_is_refused(config_dir, runner, monkeypatch):
    """The work list shows "status_" + each ticket's status: a catalog without one of them used
    to start, and the list failed once a ticket reached that status."""
    for lang, line in (("ro", 'status_in_progress: "în lucru"\n'), ("en", 'status_in_progress: "in progress"\n')):
        edit(config_dir / "prompts" / "console" / f"{lang}.yaml", line, "")
    found = problems(config_dir)
    for lang in ("ro", "en"):
        assert f"prompts/console/{lang}.yaml: status_in_progress: missing (the console shows it)" in found
    monkeypatch.chdir(config_dir)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "x")
    result = runner.invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1 and "status_in_progress: missing" in result.output
