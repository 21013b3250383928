"""How long a caller listens before the beep, for each department, in and out of hours, in every
language, with the shipped routing.yaml and prompts/.

    python benchmarks/time_to_beep.py [--quick]

It places calls through the real webhooks (the softphone, signed, on the whole Flask stack) as a
caller who presses the department's key as soon as it is offered, lets the operators' phones ring
out in hours, and keys nothing else. What is spoken up to the <Record> counts; of the menu, only
what comes before the caller can press the key: up to and including the chosen option. Each
<Say> is synthesised with espeak-ng (``-s 160``, the voice of the prompts' language) and measured
with ``soxi -D``; a prompt that is a recording is listed, not measured.

The target: after hours, 20 seconds in the first language. A figure, not a test: it prints and
never fails a build unless it crashes. ``--quick`` (CI) measures after hours only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402
from ivr.softphone import Call, WsgiTransport  # noqa: E402

TOKEN = "benchmark-token"
SPEED = 160                 # espeak-ng words a minute
TARGET_SECONDS = 20.0       # after hours, first language
# The caller of each language: a mobile of a country the hotline answers in that language (the
# first language's is a home mobile: no SMS number is asked, no language switch offered).
CALLERS = {"ro": "+40722123456", "en": "+447911123456"}
# A Tuesday when every department answers, and the same Tuesday's night when none does.
MOMENTS = {"in hours": (2026, 11, 24, 10, 0), "after hours": (2026, 11, 24, 23, 0)}


@dataclass
class ListenerToTheBeep:
    """A caller who presses ``digit`` when the menu offers ``option`` and nothing else; what they
    heard ends at the chosen option in the menu and at the first beep."""

    option: str
    digit: str
    heard: list[str] = field(default_factory=list)
    beeped: bool = False
    _chosen: bool = False

    def hear(self, text: str, who: str = "caller") -> None:
        if who == "caller" and not self.beeped:
            self.heard.append(text)

    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None:
        if self._chosen or self.beeped or self.option not in self.heard:
            return None
        last = len(self.heard) - 1 - self.heard[::-1].index(self.option)
        del self.heard[last + 1:]  # what the menu says after the option is not waited for
        self._chosen = True
        return self.digit

    def dial_outcome(self, targets: list[str]) -> str:
        return "no-answer"

    def record_seconds(self, max_length: int) -> int:
        self.beeped = True
        return 0  # silence: no ticket, so the next call from the same number hears no complaint

    def conversation(self) -> None:
        return None


def make_app(folder: Path, clock):
    """The hotline on the shipped configuration, with a database of its own in ``folder``."""
    return create_app({
        "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "benchmark", "PUBLIC_URL": None, "CLOCK": clock,
        "DATABASE_URL": f"sqlite:///{folder / 'benchmark.sqlite3'}", "DATABASE_AUTO_UPGRADE": True,
        "JOURNAL_DIR": str(folder / "journal"),
        "ROUTING_FILE": str(ROOT / "routing.yaml"), "PROMPTS_DIR": str(ROOT / "prompts"),
    })


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def spoken_before_beep(app, lang: str, department: str) -> list[str]:
    """What the caller of ``lang`` hears before the beep when they choose ``department``."""
    hotline = app.extensions["ivr.hotline"]
    dept = hotline.routing.departments[department]
    option = hotline.prompt_set(lang).say("menu_option", department=dept.name[lang], digit=dept.digit).text
    ui = ListenerToTheBeep(option, str(dept.digit))
    Call("http://localhost", TOKEN, WsgiTransport(app), ui, caller=CALLERS[lang]).run()
    if not ui.beeped:
        raise RuntimeError(f"{lang} {department}: the call never reached the beep: {ui.heard}")
    return ui.heard


def espeak_voice(language: str) -> str:
    """espeak-ng's voice for a prompts file's language ("ro-RO" -> "ro")."""
    return language.split("-")[0].lower()


@lru_cache(maxsize=None)
def speech_seconds(text: str, voice: str) -> float:
    """Seconds espeak-ng takes to say ``text`` at 160 words a minute, as ``soxi -D`` measures the wav."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "said.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(SPEED), "-w", str(wav), text], check=True, capture_output=True)
        return float(subprocess.run(["soxi", "-D", str(wav)], check=True, capture_output=True, text=True).stdout)


def seconds_of(heard: list[str], voice: str) -> float:
    """The speech time of what was heard; a recording played (``[recording URL]``) is not measured."""
    return sum(speech_seconds(text, voice) for text in heard if not text.startswith("[recording "))


def words_of(heard: list[str]) -> int:
    return sum(len(text.split()) for text in heard if not text.startswith("[recording "))


@dataclass(frozen=True)
class Figure:
    lang: str
    department: str
    moment: str
    seconds: float
    words: int
    recordings: int


def measure(quick: bool = False) -> list[Figure]:
    figures = []
    moments = {k: v for k, v in MOMENTS.items() if not quick or k == "after hours"}
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock(datetime(*MOMENTS["in hours"], tzinfo=ZoneInfo("UTC")))
        app = make_app(Path(folder), clock)
        hotline = app.extensions["ivr.hotline"]
        tz = hotline.routing.timezone
        try:
            for lang in [lang for lang in hotline.routing.hotline.languages if lang in CALLERS]:
                voice = espeak_voice(hotline.prompt_set(lang).language)
                for department in sorted(hotline.routing.departments, key=lambda k: hotline.routing.departments[k].digit):
                    for moment, at in moments.items():
                        clock.now = datetime(*at, tzinfo=tz)
                        heard = spoken_before_beep(app, lang, department)
                        figures.append(Figure(lang, department, moment, seconds_of(heard, voice), words_of(heard),
                                              sum(1 for text in heard if text.startswith("[recording "))))
        finally:
            app.extensions["ivr.call_events"].flush(5)
            app.extensions["ivr.db"].engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="after hours only (CI)")
    args = parser.parse_args()
    figures = measure(args.quick)
    print(f"Time to the beep (espeak-ng -s {SPEED}, soxi -D); target after hours: {TARGET_SECONDS:g} s")
    print(f"{'lang':<5}{'caller':<15}{'department':<22}{'when':<13}{'seconds':>8}{'words':>7}")
    for f in figures:
        note = "" if not f.recordings else f"  (+{f.recordings} recording(s), not measured)"
        print(f"{f.lang:<5}{CALLERS[f.lang]:<15}{f.department:<22}{f.moment:<13}{f.seconds:>8.1f}{f.words:>7}{note}")


if __name__ == "__main__":
    main()
