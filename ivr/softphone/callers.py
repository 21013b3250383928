"""The person holding the softphone: a script (the tests) or someone at the terminal (``ivr call``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ..inputs import ascii_int

# How the operators' phones end: "voicemail" is a phone that diverts to its own voicemail,
# which picks up but presses no key.
DIAL_OUTCOMES = ("answered", "voicemail", "busy", "no-answer", "failed", "canceled")


class CallerUi(Protocol):
    """The person holding the phone."""

    def hear(self, text: str, who: str = "caller") -> None: ...
    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None: ...
    def dial_outcome(self, targets: list[str]) -> str: ...
    def record_seconds(self, max_length: int) -> int: ...
    def speech(self) -> str:
        """What the caller says in the recording, for a transcription that listens ("" = nothing)."""
    def conversation(self) -> None:
        """The caller talks with the operator; returns when they hang up."""


@dataclass
class ScriptedCaller:
    """A caller who follows a script: one entry of ``keys`` per <Gather> (None = silence;
    text starting with "say:" is speech), one of ``dials`` per <Dial>, one of ``records``
    per <Record> (seconds, 0 = silence), and one of ``said`` per recording a transcription
    listens to (its words). A script that runs out answers with silence, an unanswered dial
    and an empty recording."""

    keys_script: list[str | None] = field(default_factory=list)
    dials: list[str] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    operator_heard: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def hear(self, text: str, who: str = "caller") -> None:
        (self.heard if who == "caller" else self.operator_heard).append(text)

    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None:
        return self.keys_script.pop(0) if self.keys_script else None

    def dial_outcome(self, targets: list[str]) -> str:
        return self.dials.pop(0) if self.dials else "no-answer"

    def record_seconds(self, max_length: int) -> int:
        return self.records.pop(0) if self.records else 0

    def speech(self) -> str:
        return self.said.pop(0) if self.said else ""

    def conversation(self) -> None:
        return None

    @property
    def transcript(self) -> str:
        return "\n".join(self.heard)


class TerminalCaller:
    """A person at the keyboard; scripted answers are used first when given."""

    def __init__(self, keys: Iterable[str] = (), dial: str | None = None, record: int | None = None) -> None:
        self._keys, self._dial, self._record = list(keys), dial, record

    def hear(self, text: str, who: str = "caller") -> None:
        print(f"  {'🔊' if who == 'caller' else '🎧 operator hears:'} {text}")

    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None:
        if self._keys:
            pressed = self._keys.pop(0)
            print(f"  ☎ keys: {pressed or '(nothing)'}")
            return pressed or None
        hint = f"up to {num_digits} key(s)" if num_digits else "keys"
        answer = self._ask(f"  ☎ press {hint} (Enter = silence, 'say: words' = speech): ")
        return answer or None

    def dial_outcome(self, targets: list[str]) -> str:
        print(f"  📞 dialling {', '.join(targets)}")
        if self._dial:
            return self._dial
        answer = self._ask(f"  how does the dial end? {'/'.join(DIAL_OUTCOMES)} [no-answer]: ")
        return answer if answer in DIAL_OUTCOMES else "no-answer"

    def conversation(self) -> None:
        print("  🗣 talking with the operator: the console shows them this call.")
        self._ask("  press Enter to hang up: ")

    def record_seconds(self, max_length: int) -> int:
        print(f"  ⏺ beep: recording (at most {max_length} s)")
        if self._record is not None:
            return self._record
        answer = self._ask("  how many seconds do you speak? (0 = silence) [20]: ")
        seconds = ascii_int(answer, max_digits=4)
        return 20 if seconds is None else seconds

    def speech(self) -> str:
        return self._ask("  ✎ what do you say? (the transcription hears it) ")

    @staticmethod
    def _ask(question: str) -> str:
        try:
            return input(question).strip()
        except EOFError:
            return ""
