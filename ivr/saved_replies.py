"""prompts/console/replies_<lang>.yaml: saved replies, texts an operator starts a customer SMS
from and edits before the preview.

    router_replaced:
      title: "Router înlocuit"               # what the operator picks, in the console's language
      for: [resolve]                         # the forms that offer it: progress, resolve, reject
      text: "Am înlocuit routerul; ..."      # the SMS text, in the customer's language

An operator working in English on a Romanian customer's ticket picks an English title and gets
the Romanian text: the title comes from the console's language, the text from the ticket's.
So every language gives the same replies (the default language's file sets which exist).
Optional: without replies_<default language>.yaml there are no saved replies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .yaml_files import read_yaml

REPLY_ACTIONS = ("progress", "resolve", "reject")
MAX_TEXT = 1000  # as ivr.tickets.casework.MAX_TEXT: a reply must fit the form it fills


@dataclass(frozen=True)
class SavedReply:
    key: str
    title: str
    text: str
    actions: tuple[str, ...]


def replies_path(prompts_dir: Path, lang: str) -> Path:
    return prompts_dir / "console" / f"replies_{lang}.yaml"


def _reply(path: Path, key: str, entry: object, problems: list[str]) -> SavedReply | None:
    where, found_before = f"{path}: {key}", len(problems)
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping with title, for and text")
        return None
    unknown = sorted(str(k) for k in entry if k not in ("title", "for", "text"))
    problems += [f"{where}.{k}: unknown key (title, for, text)" for k in unknown]
    title, text, actions = entry.get("title"), entry.get("text"), entry.get("for")
    for name, value in (("title", title), ("text", text)):
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.{name}: must be a non-empty text")
    if isinstance(text, str) and len(text.strip()) > MAX_TEXT:
        problems.append(f"{where}.text: longer than {MAX_TEXT} characters")
    if not isinstance(actions, list) or not actions:
        problems.append(f"{where}.for: must list the forms that offer it ({', '.join(REPLY_ACTIONS)})")
        actions = []
    for index, action in enumerate(actions):
        if action not in REPLY_ACTIONS:
            problems.append(f"{where}.for[{index}]: {action!r} is not one of {', '.join(REPLY_ACTIONS)}")
    if len(problems) > found_before:
        return None
    return SavedReply(key, title.strip(), text.strip(), tuple(actions))


def _load_one(path: Path, problems: list[str]) -> dict[str, SavedReply]:
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping of reply names to replies")
        return {}
    replies = {}
    for key, entry in data.items():
        reply = _reply(path, str(key), entry, problems)
        if reply is not None:
            replies[str(key)] = reply
    return replies


def load_saved_replies(prompts_dir: Path, languages: list[str]) -> dict[str, dict[str, SavedReply]]:
    """Each language's saved replies by name; ConfigError naming file and key for every fault."""
    if not replies_path(prompts_dir, languages[0]).exists():
        return {lang: {} for lang in languages}
    problems: list[str] = []
    catalogs = {}
    for lang in languages:
        path = replies_path(prompts_dir, lang)
        if not path.exists():
            problems.append(f"{path}: file not found (replies_{languages[0]}.yaml has saved replies)")
            continue
        catalogs[lang] = _load_one(path, problems)
    default = catalogs.get(languages[0], {})
    for lang, replies in catalogs.items():
        path = replies_path(prompts_dir, lang)
        problems += [f"{path}: {key}: missing" for key in default if key not in replies]
        problems += [f"{path}: {key}: unknown reply (not in replies_{languages[0]}.yaml)" for key in replies if key not in default]
        problems += [f"{path}: {key}.for: {list(r.actions)} differs from replies_{languages[0]}.yaml's {list(default[key].actions)}"
                     for key, r in replies.items() if key in default and r.actions != default[key].actions]
    if problems:
        raise ConfigError(problems)
    return catalogs
