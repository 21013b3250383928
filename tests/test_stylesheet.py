"""The console's stylesheet is well formed: a brace left open (easy when two sections are
joined) silently moves every rule after it inside a media query."""

from __future__ import annotations

import re

from conftest import ROOT


def test_every_block_and_comment_of_the_stylesheet_is_closed():
    css = (ROOT / "ivr" / "static" / "console.css").read_text(encoding="utf-8")
    assert css.count("/*") == css.count("*/")
    depth = 0
    for number, line in enumerate(re.sub(r"/\*.*?\*/", "", css, flags=re.S).splitlines(), 1):
        if line.lstrip().startswith("@media"):
            assert depth == 0, f"line {number}: a media query inside an open block"
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {number}: a brace closes nothing"
    assert depth == 0, "a block is left open at the end"
