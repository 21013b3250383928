"""prompts/console/<lang>.yaml: the operator console's labels, one catalog per language.

The default language's file sets which labels exist; every other language must give the
same ones, so a label never shows up untranslated.
"""

from __future__ import annotations

from pathlib import Path

from .config import read_yaml
from .errors import ConfigError


def load_labels(prompts_dir: Path, languages: list[str]) -> dict[str, dict[str, str]]:
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
        problems += [f"{path}: {key}: must be a non-empty text" for key, text in data.items()
                     if not isinstance(text, str) or not text.strip()]
        catalogs[lang] = {str(k): str(v) for k, v in data.items()}
    default = catalogs.get(languages[0], {})
    for lang, labels in catalogs.items():
        path = prompts_dir / "console" / f"{lang}.yaml"
        problems += [f"{path}: {key}: missing" for key in default if key not in labels]
        problems += [f"{path}: {key}: unknown key (not in {languages[0]}.yaml)" for key in labels if key not in default]
    if problems:
        raise ConfigError(problems)
    return catalogs
