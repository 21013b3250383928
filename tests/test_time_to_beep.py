"""The caller's minute: what the shipped prompts say before the beep, as benchmarks/time_to_beep.py
hears it. The speed figures are printed by the benchmark, not asserted here; the words are."""

from __future__ import annotations

import shutil
import sys

import pytest

from conftest import ROOT, bucharest

sys.path.insert(0, str(ROOT / "benchmarks"))
import time_to_beep as benchmark  # noqa: E402

AFTER_HOURS = bucharest(2026, 11, 24, 23, 0)


@pytest.fixture
def hotline(tmp_path):
    """The benchmark's own app (shipped configuration, its signing token) and its clock, after hours."""
    clock = benchmark.Clock(AFTER_HOURS)
    app = benchmark.make_app(tmp_path, clock)
    yield app, clock
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


def test_after_hours_the_first_key_reaches_the_beep_within_45_words(hotline):
    app, _ = hotline
    heard = benchmark.spoken_before_beep(app, "ro", "technical")
    assert heard == [
        "Bună ziua, ați sunat la ProNET Soluții IT.", "Apelul este înregistrat.",
        "Operatorii nu sunt disponibili acum, dar vă înregistrăm reclamația.", "Pentru Departamentul Tehnic, apăsați 1.",
        "După semnal, spuneți numele, adresa și problema, apoi apăsați diez.",
    ]
    assert benchmark.words_of(heard) <= 45


@pytest.mark.parametrize("department, options", [("payments", 2), ("customer_relations", 3)])
def test_the_menu_counts_up_to_the_chosen_option_and_closed_is_said_once(hotline, department, options):
    app, _ = hotline
    heard = benchmark.spoken_before_beep(app, "ro", department)
    menu = [line for line in heard if line.startswith("Pentru Departamentul")]
    assert len(menu) == options and heard[-1].startswith("După semnal")
    assert heard.count("Operatorii nu sunt disponibili acum, dar vă înregistrăm reclamația.") == 1
    assert not any(line.startswith("Operatorii de la") for line in heard)


def test_in_hours_the_beep_comes_after_the_operators_did_not_answer(hotline):
    app, clock = hotline
    clock.now = bucharest(2026, 11, 24, 10, 0)
    heard = benchmark.spoken_before_beep(app, "ro", "technical")
    assert "Operatorii nu sunt disponibili acum, dar vă înregistrăm reclamația." not in heard
    assert heard[-2:] == [
        "Operatorii de la Departamentul Tehnic nu pot răspunde acum, dar vă înregistrăm reclamația.",
        "După semnal, spuneți numele, adresa și problema, apoi apăsați diez.",
    ]


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("soxi")), reason="espeak-ng and sox (soxi) are not installed")
def test_the_seconds_are_those_of_the_spoken_text(hotline):
    app, _ = hotline
    heard = benchmark.spoken_before_beep(app, "ro", "technical")
    seconds = benchmark.seconds_of(heard, "ro")
    assert seconds == pytest.approx(sum(benchmark.speech_seconds(line, "ro") for line in heard))
    # More words take longer: the figure comes from the words, not from a constant.
    assert benchmark.seconds_of([*heard, heard[-1]], "ro") > seconds > benchmark.seconds_of(heard[:-1], "ro") > 0
    assert benchmark.seconds_of(["[recording https://media.example.ro/a.mp3]"], "ro") == 0
