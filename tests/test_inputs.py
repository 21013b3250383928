"""The strict readers of untrusted request text (ivr.inputs)."""

from __future__ import annotations

import re

import pytest

from ivr.inputs import ascii_int, clean_text, has_control_characters, matches


@pytest.mark.parametrize("text, expected", [
    ("0", 0), ("42", 42), ("123456789", 123456789),
    ("²", None), ("①", None), ("٣", None), ("1²", None), ("", None), (None, None),
    ("-1", None), (" 1", None), ("1\n", None), ("1234567890", None),
])
def test_ascii_int_takes_only_bounded_ascii_digits(text, expected):
    assert ascii_int(text) == expected


def test_ascii_int_bound_is_the_caller_s():
    assert ascii_int("12345", max_digits=4) is None
    assert ascii_int("1234", max_digits=4) == 1234


def test_matches_is_a_whole_match_even_before_a_newline():
    call_sid = re.compile(r"CA[0-9a-f]{32}")
    assert matches(call_sid, "CA" + "a" * 32)
    assert not matches(call_sid, "CA" + "a" * 32 + "\n")
    assert not matches(re.compile(r"^CA[0-9a-f]{32}$"), "CA" + "a" * 32 + "\n")
    assert not matches(call_sid, None)


def test_control_characters_are_found_and_cleaned():
    assert has_control_characters("RE1\x00")
    assert has_control_characters("line\n")
    assert not has_control_characters("Ștefan Ălexandru 😀")
    assert clean_text("a\x00b\x07c\nd\te", 100) == "abc\nd\te"
    assert clean_text("x" * 10, 4) == "xxxx"
