"""Reading the administrator's YAML files (routing.yaml, prompts/): a key written twice in one
mapping is refused instead of silently keeping the last, and a file that is missing or not
YAML becomes a ConfigError naming it, with the faulty line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .schedule import parse_days


def _is_day_range(key: Any) -> bool:
    try:
        parse_days(str(key))
    except ValueError:
        return False
    return True


class _UniqueKeys(yaml.constructor.SafeConstructor):
    """A YAML loader's part that refuses a key written twice instead of silently keeping the last.

    The one exception is a day range in ``hours:``, which may be written once per span
    (``mon-fri: "09:00-12:00"`` then ``mon-fri: "13:00-17:30"``): its spans are collected.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key not in mapping:
                mapping[key] = self.construct_object(value_node, deep=deep)
            elif _is_day_range(key):
                value = self.construct_object(value_node, deep=True)
                earlier = mapping[key] if isinstance(mapping[key], list) else [mapping[key]]
                mapping[key] = earlier + (value if isinstance(value, list) else [value])
            else:
                raise yaml.constructor.ConstructorError(
                    None, None, f'key "{key}" is written twice in the same mapping', key_node.start_mark
                )
        return mapping


class _UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """PyYAML's own parser: its errors quote the faulty line."""


class _FastUniqueKeyLoader(_UniqueKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser, four times faster: the configuration is read on every start and the
    prompts are long. PyYAML built without libyaml has only its own parser."""


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file, another encoding than UTF-8 or bad syntax becomes a
    ConfigError naming it."""
    try:
        _require_utf8(path)
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_FastUniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except yaml.YAMLError:
        pass
    try:  # parsed again by PyYAML for an error message that shows the line, as it always did
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None


def _require_utf8(path: Path) -> None:
    """Editors on Windows may save as UTF-16 or the local code page: say so, with the line."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        encoding = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "another encoding"
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}: line {line}: saved in {encoding}, not UTF-8: save the file as UTF-8"]) from None
