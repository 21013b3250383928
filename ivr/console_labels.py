"""prompts/console/<lang>.yaml: the operator console's labels, one catalog per language.

Which labels exist is listed in console_label_names.txt, those the console shows by name and
those whose name it builds ("status_" + a ticket's status). Every catalog gives each of them and
no other: a catalog kept from an older version is refused at start, naming what it lacks, rather
than failing the page that shows the new label, and a misspelt key is named too. A label that
counts something gives its plural forms (``{one: ..., few: ..., other: ...}``, with ``{count}``);
``label_text`` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import ConfigError
from .plurals import PLURAL_FORMS, plural_form
from .prompts import placeholders
from .yaml_files import read_yaml


Label = str | dict[str, str]  # a text, or its plural forms ({one: ..., few: ..., other: ...})

_NAMES = Path(__file__).with_name("console_label_names.txt")


@dataclass(frozen=True)
class LabelSpec:
    """What the console gives a label: whether it counts something, and the values it fills in."""

    plural: bool
    placeholders: frozenset[str]


@cache
def label_specs() -> dict[str, LabelSpec]:
    """The labels the console may show (console_label_names.txt): ``name [plural] {value}...``."""
    specs = {}
    for line in _NAMES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, *rest = line.split()
            specs[name] = LabelSpec("plural" in rest, frozenset(w.strip("{}") for w in rest if w.startswith("{")))
    return specs


def label_names() -> frozenset[str]:
    return frozenset(label_specs())


def _label_problem(text: object, spec: LabelSpec | None) -> str:
    if isinstance(text, dict):
        forms = ", ".join(PLURAL_FORMS)
        if spec is not None and not spec.plural:
            return "must be one text: this label counts nothing, so it has no plural forms"
        if "other" not in text or any(k not in PLURAL_FORMS for k in text):
            return f"plural forms are {forms} (other is required), each a text with {{count}}"
        if any(not isinstance(v, str) or not v.strip() for v in text.values()):
            return "every plural form must be a non-empty text"
        return next(filter(None, (_placeholder_problem(v, spec) for v in text.values())), "")
    if not (isinstance(text, str) and text.strip()):
        return "must be a non-empty text, or plural forms (one, few, other)"
    return _placeholder_problem(text, spec)


def _placeholder_problem(text: str, spec: LabelSpec | None) -> str:
    """What is wrong with ``text``'s {placeholders}: a stray brace, or a value the console does not give."""
    try:
        used = placeholders(text)
    except ValueError:
        return "a { or } without its pair (write {{ or }} for the character itself)"
    unknown = sorted(used - spec.placeholders) if spec is not None else []  # {name.attr} included
    if not unknown:
        return ""
    given = ", ".join(f"{{{p}}}" for p in sorted(spec.placeholders)) or "none"
    return f"unknown placeholder {{{unknown[0]}}} (this label's: {given})"


def label_text(labels: dict[str, Label], lang: str, key: str, **values: object) -> str:
    """A label with its values; a label with plural forms takes the form ``count`` calls for."""
    entry = labels[key]
    if isinstance(entry, dict):
        form = plural_form(lang, int(values["count"]))  # type: ignore[call-overload]
        entry = entry.get(form) or entry["other"]
    return entry.format(**values)


def load_labels(prompts_dir: Path, languages: list[str]) -> dict[str, dict[str, Label]]:
    catalogs, problems = {}, []
    for lang in languages:
        path = prompts_dir / "console" / f"{lang}.yaml"
        if not path.exists():
            problems.append(f"{path}: file not found (hotline.languages lists {lang})")
            continue
        data = read_yaml(path)
        if not isinstance(data, dict):
            problems.append(f"{path}: expected a mapping of label names to texts")
            continue
        specs = label_specs()
        problems += [f"{path}: {key}: {problem}" for key, text in data.items()
                     if (problem := _label_problem(text, specs.get(str(key))))]
        catalogs[lang] = {str(k): v if isinstance(v, dict) else str(v) for k, v in data.items()}
    names = label_names()
    for lang, labels in catalogs.items():
        path = prompts_dir / "console" / f"{lang}.yaml"
        problems += [f"{path}: {key}: missing (the console shows it)" for key in sorted(names - labels.keys())]
        problems += [f"{path}: {key}: unknown key (the console has no such label)" for key in labels if key not in names]
    if problems:
        raise ConfigError(problems)
    return catalogs
