"""routing.yaml: the contract an administrator edits.

``load_routing(path)`` reads and validates it into a ``Routing``; every fault is
reported as ``<file>: <key.path>: <what is wrong>`` through ``ConfigError``.
The prompts files are checked against it by ``ivr.settings.load_hotline``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import ConfigDict, Field, StrictBool, ValidationError, field_validator

from .deadlines import final_milestone_problems
from .errors import ConfigError
from .inputs import matches, spoken_words
from .schedule import DepartmentSchedule, WeeklyHours
from .terms import (
    COMPENSATION_KINDS, Alert, CompensationRef, CompensationRule, DeadlineRule, Extension, Milestone, Strict,
    milestone_problems, terms_problems, time_span,
)
from .workdays import WorkCalendar, supported_countries
from .yaml_files import read_yaml

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_CLIENT = re.compile(r"^client:[A-Za-z0-9_.@-]{1,100}$")
_SIP = re.compile(r"^sip:[^@\s]+@[^@\s]+$")
_USER = re.compile(r"user:[A-Za-z0-9._-]{1,64}")
# A department key is a segment of webhook URLs: any script's letters (plăți), no "/", "%", "?", ...
_DEPARTMENT_KEY = re.compile(r"[^\W\d_][\w-]{0,39}")
# How many digits a client code keyed in on the phone may have (a <Gather numDigits>).
CLIENT_CODE_DIGITS = (4, 12)


def _is_e164(text: str) -> bool:
    if not text.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        return False


class Hotline(Strict):
    company: str = Field(min_length=1)
    timezone: str
    holidays: str
    languages: list[str] = Field(min_length=1)
    ticket_prefix: str = Field(pattern=r"^[A-Z0-9]{1,10}$")
    sms_sender: str
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    menu_attempts: int = Field(default=3, ge=1, le=10)
    fallback: str
    foreign_language: str | None = None
    language_keys: dict[str, int] | None = None
    dial_timeout: int = Field(default=20, ge=5, le=120)
    sms_countries: list[str] = Field(default=["RO"], min_length=1)
    record_max_seconds: int = Field(default=180, ge=10, le=3600)
    record_operator_calls: bool = False
    # An operator presses a key to take a call, so a phone's own voicemail never takes a complaint.
    operator_presses_key: StrictBool = True
    ask_client_code: bool = False
    client_code_length: int | None = Field(default=None, ge=CLIENT_CODE_DIGITS[0], le=CLIENT_CODE_DIGITS[1])
    extra_non_working_days: list[date] = []
    extra_working_days: list[date] = []
    # Transcribe voicemails in the caller's language (Twilio Real-Time Transcription, charged).
    transcription: StrictBool = False
    # "2h": when no operator answers during hours, offer a callback, to be made within this time.
    callback_within: str | None = None

    @property
    def callback_span(self) -> timedelta | None:
        """How soon a callback is due; None when callbacks are not offered."""
        return time_span(self.callback_within) if self.callback_within else None

    @field_validator("callback_within")
    @classmethod
    def _callback_span(cls, value: str | None) -> str | None:
        if value is not None and time_span(value) is None:
            raise ValueError(f'"{value}" is not a time such as 30m, 2h or 1d')
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'"{value}" is not a timezone such as Europe/Bucharest') from None
        return value

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in supported_countries():
            raise ValueError(f'"{value}" is not a two-letter country code of the holidays package, such as RO '
                             "(the hotline's country: its public holidays, and its callers' numbers)")
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _LANGUAGE.match(code):
                raise ValueError(f'"{code}" is not a language code such as ro or en')
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @field_validator("sms_countries")
    @classmethod
    def _sms_regions(cls, value: list[str]) -> list[str]:
        for code in value:
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f'"{code}" is not a region code such as RO or MD (two capital letters)')
        return value

    @field_validator("sms_sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not (_is_e164(value) or _ALPHANUMERIC_SENDER.match(value)):
            raise ValueError(
                f'"{value}" is neither an E.164 number (+40...) nor an alphanumeric sender id '
                "(1-11 letters, digits or spaces, at least one letter)"
            )
        return value


class Department(Strict):
    digit: int = Field(ge=0, le=9)
    name: dict[str, str]
    hours: dict[str, str | list[str]] = {}
    holidays: Literal["open", "closed"] = "closed"
    operators: list[str] = []
    # One rule name (a single milestone, met by the resolution), or named milestones:
    # {promised: two_hours, legal: complaint} or {progress: {rule: update14, met_by: progress, after: ack}}.
    deadline: str | dict[str, str | Milestone]
    extension: str | None = None  # a rule under extensions; None: never extended
    compensation: str | CompensationRef | None = None
    alert: Alert | None = None
    keywords: dict[str, list[str]] = {}

    @cached_property
    def milestones(self) -> dict[str, Milestone]:
        """The department's milestones by name; exactly one is final (explicitly, or else the
        last one met by the resolution)."""
        if isinstance(self.deadline, str):
            return {"resolve": Milestone(rule=self.deadline, final=True)}
        named = {k: Milestone(rule=v) if isinstance(v, str) else v for k, v in self.deadline.items()}
        if not any(m.final for m in named.values()):
            last = [k for k, m in named.items() if m.met_by == "resolution"][-1:]
            named = {k: m.model_copy(update={"final": True}) if k in last else m for k, m in named.items()}
        return named

    @property
    def final_milestone(self) -> str:
        return next(k for k, m in self.milestones.items() if m.final)

    @property
    def final_rule(self) -> str:
        """The rule of the legal term."""
        return self.milestones[self.final_milestone].rule

    def milestone_title(self, name: str, lang: str) -> str | None:
        """The milestone's name for operators in ``lang``, when routing.yaml gives one."""
        milestone = self.milestones.get(name)
        return milestone.title.get(lang) if milestone is not None else None

    @property
    def compensation_milestone(self) -> str:
        """The milestone whose lateness a compensation is counted against."""
        if isinstance(self.compensation, CompensationRef):
            return self.compensation.milestone
        return self.final_milestone

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            WeeklyHours.parse(value)
        except ValueError as exc:
            key, message = exc.args
            raise ValueError(f"{key}: {message}") from None
        return value

    @field_validator("operators")
    @classmethod
    def _operators(cls, value: list[str]) -> list[str]:
        for i, target in enumerate(value):
            if not (_is_e164(target) or _CLIENT.match(target) or _SIP.match(target) or matches(_USER, target)):
                raise ValueError(
                    f'[{i}] "{target}" is not an E.164 number (+40...), "user:NAME" (a console user, '
                    'dialled at their phone), "client:NAME" or "sip:user@host"'
                )
        return value

    @cached_property
    def weekly_hours(self) -> WeeklyHours:
        return WeeklyHours.parse(self.hours)


class Routing(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    hotline: Hotline
    deadlines: dict[str, DeadlineRule] = Field(min_length=1)
    departments: dict[str, Department] = Field(min_length=1)
    compensations: dict[str, CompensationRule] = {}
    extensions: dict[str, Extension] = {}

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar(
            self.hotline.holidays,
            frozenset(self.hotline.extra_non_working_days),
            frozenset(self.hotline.extra_working_days),
        )

    @cached_property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.hotline.timezone)

    @property
    def default_language(self) -> str:
        return self.hotline.languages[0]

    @property
    def foreign_language(self) -> str:
        """What a caller whose number is not from the hotline's country hears."""
        if self.hotline.foreign_language:
            return self.hotline.foreign_language
        return "en" if "en" in self.hotline.languages else self.default_language

    @cached_property
    def language_keys(self) -> dict[str, int]:
        """The menu key that switches to each language."""
        if self.hotline.language_keys is not None:
            return dict(self.hotline.language_keys)
        others = self.hotline.languages[1:]
        keys = {lang: 9 - i for i, lang in enumerate(others)}
        keys[self.default_language] = 9 - len(others)
        return keys

    def schedule(self, department: str) -> DepartmentSchedule:
        dept = self.departments[department]
        return DepartmentSchedule(
            dept.weekly_hours, dept.holidays == "closed", self.calendar, self.timezone
        )

    @cached_property
    def shared_milestones(self) -> frozenset[str]:
        """Milestone names every department has: the registration texts may name them ({promised})."""
        return frozenset.intersection(*(frozenset(d.milestones) for d in self.departments.values()))

    def department_for_digit(self, digit: int) -> str | None:
        return next((k for k, d in self.departments.items() if d.digit == digit), None)

    def deadline_rule(self, department: str) -> DeadlineRule:
        return self.deadlines[self.departments[department].final_rule]

    def compensation_rule(self, department: str) -> CompensationRule | None:
        """The department's compensation rule for late resolution, or None when it names none."""
        ref = self.departments[department].compensation
        if ref is None:
            return None
        return self.compensations[ref if isinstance(ref, str) else ref.rule]

    def extension(self, department: str) -> Extension | None:
        """How the department's tickets may be extended, or None when they may not."""
        name = self.departments[department].extension
        return None if name is None else self.extensions[name]


def _cross_check(routing: Routing) -> list[str]:
    """Faults that involve more than one key, each as ``key.path: message``."""
    problems = []
    hotline, languages = routing.hotline, routing.hotline.languages
    departments = ", ".join(routing.departments)
    if hotline.fallback not in routing.departments:
        problems.append(f'hotline.fallback: "{hotline.fallback}" is not a department ({departments})')
    if hotline.ask_client_code and hotline.client_code_length is None:
        low, high = CLIENT_CODE_DIGITS
        problems.append(
            f"hotline.client_code_length: missing (ask_client_code needs the number of digits of a client code, {low}-{high})"
        )
    if hotline.foreign_language and hotline.foreign_language not in languages:
        problems.append(f'hotline.foreign_language: "{hotline.foreign_language}" is not in hotline.languages')
    used: dict[int, str] = {}
    for key, dept in routing.departments.items():
        if not matches(_DEPARTMENT_KEY, key):
            problems.append(
                f"departments.{key}: a department key must be a letter followed by letters, digits, - or _ "
                '(at most 40), such as payments or plăți: it is part of the webhook URLs'
            )
        if dept.digit in used:
            problems.append(f"departments.{key}.digit: {dept.digit} is already used by departments.{used[dept.digit]}")
        used.setdefault(dept.digit, key)
        problems += milestone_problems(key, dept, routing)
        problems += terms_problems(key, dept, routing)
        for i, target in enumerate(dept.alert.to if dept.alert else []):
            if not (_is_e164(target) or matches(_USER, target)):
                problems.append(
                    f'departments.{key}.alert.to[{i}]: "{target}" is neither "user:NAME" (a console user, '
                    "told by SMS at their phone) nor an E.164 number (+40...)"
                )
        for lang in languages:
            if not dept.name.get(lang, "").strip():
                problems.append(f"departments.{key}.name.{lang}: missing (every language in hotline.languages needs a name)")
        for lang in set(dept.name) | set(dept.keywords):
            if lang not in languages:
                problems.append(f"departments.{key}: language {lang} is not in hotline.languages")
    problems += _keyword_problems(routing)
    for name, extension in routing.extensions.items():
        if extension.rule not in routing.deadlines:
            problems.append(f'extensions.{name}.rule: "{extension.rule}" is not a rule under deadlines ({", ".join(routing.deadlines)})')
    for lang, digit in routing.language_keys.items():
        where = "hotline.language_keys" + (f".{lang}" if hotline.language_keys is not None else "")
        if lang not in languages:
            problems.append(f"{where}: {lang} is not in hotline.languages")
        elif not 0 <= digit <= 9:
            problems.append(f"{where}: {digit} is not a key 0-9")
        elif digit in used:
            problems.append(f"{where}: key {digit} is already used by departments.{used[digit]}")
    return problems


def _keyword_problems(routing: Routing) -> list[str]:
    """A keyword (or name) said for two departments: the caller would reach the first listed."""
    problems, owner = [], {}
    for key, dept in routing.departments.items():
        for lang, words in dept.keywords.items():
            for word in words:
                spoken = (lang, tuple(spoken_words(word)))
                first = owner.setdefault(spoken, key)
                if first != key:
                    problems.append(f'departments.{key}.keywords.{lang}: "{word}" is also a keyword of departments.{first}')
    return problems


def format_location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _pydantic_problems(error: ValidationError) -> list[str]:
    found: list[tuple[str, str]] = []
    for item in error.errors():
        # Drop the names pydantic gives the branches of a union ("str", "dict[...]", "Milestone", ...).
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and (
            p.startswith(("int", "str", "list[", "dict[")) or p in ("Milestone", "CompensationRef"))))
        if loc[:1] == ("compensations",) and len(loc) > 3:
            loc = loc[:2] + loc[3:]  # pydantic adds the rule's kind to the path: the administrator never wrote it
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("kind",)
            message = ("missing" if item["type"] == "union_tag_not_found" else f'unknown kind "{item["ctx"]["tag"]}"')
            message += f" (one of: {', '.join(COMPENSATION_KINDS)})"
        elif item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "missing"
        found.append((format_location(loc), message))
    # A mapping that is not a plain text either: its own faults say more than "should be a string".
    deeper = {where for where, _ in found}
    problems = [
        f"{where}: {message}" for where, message in found
        if not (_is_union_text(message) and any(d.startswith(where + ".") for d in deeper))
    ]
    return sorted(set(problems), key=problems.index)


def _is_union_text(message: str) -> bool:
    return message == "Input should be a valid string"


def parse_routing(data: Any, source: str) -> Routing:
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping with hotline, deadlines and departments"])
    try:
        routing = Routing.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{source}: {p}" for p in _pydantic_problems(exc)]) from None
    problems = _cross_check(routing) or final_milestone_problems(routing)  # the latter computes with valid rules
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    return routing


def load_routing(path: Path) -> Routing:
    return parse_routing(read_yaml(path), str(path))
