"""What every app a test makes would build again from the same sources, built once per run.

A test makes an app of its own (``create_app``) on a database of its own, so that no test
sees another's state. Most of that set-up is rebuilding what never differs from one test to
the next: the console's templates, the URL rules, the configuration files. These context
managers let the run's apps share them; whatever a test changes (a template, a prompts file)
is built again. conftest.py applies them to the whole run, and ``benchmarks/test_suite.py``
measures a test's set-up with and without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from jinja2.bccache import Bucket, BytecodeCache


class _RunBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory, keyed by template and checked against its source."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


@contextmanager
def templates_compiled_once() -> Iterator[None]:
    """Every app has a Jinja environment of its own, which compiles each template again on its
    first render: a third of a console test's time. The apps share the compiled code instead;
    a template whose source changed is compiled again, as Jinja checks the source."""
    from flask import Flask

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": _RunBytecodeCache()})
        yield


@contextmanager
def url_rules_compiled_once() -> Iterator[None]:
    """Every app compiles each of its ~60 URL rules into Python code of its own (Werkzeug's
    ``Rule._compile_builder``): half of what ``create_app`` costs. The generated function
    takes the rule as its first argument, and its code depends only on the rule's text, its
    defaults and ``append_unknown``: rules alike share one. A rule whose defaults fill one of
    its own variables (converted by the rule's converter) is compiled each time, as is every
    rule if Werkzeug no longer has that method."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:
        yield
        return
    built: dict[tuple, Any] = {}

    def compiled_once(rule: Rule, append_unknown: bool = True):
        defaults = rule.defaults or {}
        if any(dynamic and name in defaults for dynamic, name in rule._trace):
            return compile_builder(rule, append_unknown)
        key = (rule.rule, tuple(rule._trace), tuple(sorted(defaults)), append_unknown)
        if key not in built:
            built[key] = compile_builder(rule, append_unknown)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", compiled_once)
        yield


def _configuration_files(routing_file: Path, prompts_dir: Path) -> tuple:
    """What ``load_hotline`` reads, as bytes: routing.yaml and every file under prompts/."""
    prompts = sorted(p for p in prompts_dir.rglob("*") if p.is_file()) if prompts_dir.is_dir() else []
    files = [routing_file, *prompts] if routing_file.is_file() else prompts
    return tuple((str(p.relative_to(prompts_dir)) if p != routing_file else "", p.read_bytes()) for p in files)


@contextmanager
def configuration_read_once() -> Iterator[None]:
    """Every app reads routing.yaml and prompts/ (each test its own copy, see conftest's
    ``config_dir``): parsing and checking them is a third of ``create_app``. Apps whose files
    hold the same bytes share one HotlineConfig instead, which nothing changes once loaded. A
    test that edits its copy gets its edits read; a configuration that fails is read each
    time, so its error names that test's files."""
    import ivr.settings

    loaded: dict[tuple, Any] = {}
    load = ivr.settings.load_hotline

    def load_once(routing_file: Path, prompts_dir: Path):
        files = _configuration_files(routing_file, prompts_dir)
        if files not in loaded:
            loaded[files] = load(routing_file, prompts_dir)
        return loaded[files]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ivr.settings, "load_hotline", load_once)
        yield


@contextmanager
def everything() -> Iterator[None]:
    """Templates, URL rules and configuration, each built once while this lasts."""
    with templates_compiled_once(), url_rules_compiled_once(), configuration_read_once():
        yield
