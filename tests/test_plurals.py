"""Labels that count something take the plural form their language calls for."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.console_labels import label_text, load_labels
from ivr.errors import ConfigError
from ivr.plurals import plural_form

from conftest import ROOT


@pytest.mark.parametrize("count, form", [
    (0, "few"), (1, "one"), (2, "few"), (19, "few"), (20, "other"), (87, "other"), (100, "other"),
    (101, "few"), (119, "few"), (120, "other"), (1001, "few"),
])
def test_romanian_has_one_few_and_other(count, form):
    assert plural_form("ro", count) == form


def test_english_has_one_and_other():
    assert [plural_form("en", n) for n in (0, 1, 2, 87)] == ["other", "one", "other", "other"]


@pytest.mark.parametrize("lang, count, text", [
    ("ro", 1, "depășită cu o zi"), ("ro", 2, "depășită cu 2 zile"), ("ro", 87, "depășită cu 87 de zile"),
    ("ro", 101, "depășită cu 101 zile"), ("en", 1, "overdue by 1 day"), ("en", 87, "overdue by 87 days"),
])
def test_the_shipped_labels_read_as_a_native_speaker_writes(lang, count, text):
    labels = load_labels(ROOT / "prompts", ["ro", "en"])
    assert label_text(labels[lang], lang, "overdue_by", count=count) == text


def test_a_label_with_unknown_plural_forms_is_refused(tmp_path: Path):
    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "ro.yaml").write_text('overdue_by: {one: "o zi", many: "{count} zile"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"console/ro.yaml: overdue_by: plural forms are one, few, other \(other is required\)"):
        load_labels(tmp_path, ["ro"])
