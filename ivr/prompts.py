"""prompts/<lang>.yaml: every word a caller hears, per language.

A file holds the Twilio voice and language, the names of the days, and the
prompts, each a template with named placeholders ({company}, {department},
{hours}, {ticket}, {deadline}, ...) or an https URL of a recording to play.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any

from .deadlines import Deadline
from .errors import ConfigError
from .inputs import spoken_words
from .schedule import DAYS, WeeklyHours, format_minutes
from .yaml_files import read_yaml

# Every prompt a prompts file must define, with the placeholders it may use.
PROMPTS: dict[str, frozenset[str]] = {
    key: frozenset(fields)
    for key, fields in {
        "greeting": {"company"},
        "recording_notice": {"company"},
        "menu_option": {"department", "digit"},
        "language_offer": {"digit"},
        "menu_invalid": set(),
        "menu_fallback": {"department"},
        "connecting": {"department"},
        "whisper": {"department", "caller"},
        "whisper_accept": set(),  # after the whisper, with operator_presses_key: any key takes the call
        "operators_unavailable": {"department"},
        "department_closed": {"department", "hours"},
        "department_closed_holiday": {"department", "hours"},  # closed today for a public holiday
        "department_unstaffed": {"department"},
        "hours_span": {"days", "start", "end"},
        "hours_always": set(),
        "hours_never": set(),
        "day_range": {"first", "last"},
        "sms_number_request": set(),
        "sms_number_invalid": set(),
        "sms_number_skipped": set(),
        "client_code_request": {"digits"},
        "client_code_invalid": {"digits"},
        "client_code_skipped": set(),
        "voicemail_instructions": {"department"},
        "voicemail_empty": set(),
        "ticket_registered": {"ticket", "deadline", "department"},
        "ticket_pending": {"deadline", "department"},
        "ticket_pending_no_sms": {"deadline", "department"},
        "ticket_not_registered": set(),
        "date": {"day", "month", "year"},
        "deadline_today": {"time"},
        "deadline_tomorrow": {"time"},
        "deadline_at_time": {"date", "time"},
        "goodbye": {"company"},
        "error_apology": set(),
        # The caller's minute (issue 11): the one notice when every department is closed, and the
        # status of a caller's complaints ({ticket}: its last digits; {outcome}: what they were told).
        "all_closed": set(),
        "status_open": {"ticket", "deadline"},
        "status_overdue": {"ticket", "deadline"},
        "status_resolved": {"ticket", "outcome"},
        "status_rejected": {"ticket", "outcome"},
        "status_choices": set(),
        "status_next": set(),
        "status_offer": set(),
        "status_number_request": set(),
        "status_number_unknown": set(),
        "message_instructions": {"ticket"},
        "message_added": {"ticket"},
        "message_not_added": set(),
        "message_unconfirmed": set(),  # the database did not answer in time: the message may be saved yet
        "message_unconfirmed_no_sms": set(),  # the same, for a complaint no SMS confirms anything for
        # Outage notices (ivr/voice/incidents.py)
        "incident_join_offer": {"digit"},
        "incident_joined": set(),
        "incident_joined_no_sms": set(),
        # A callback instead of a voicemail; the operator hears callback_whisper and callback_not_answered.
        "callback_offer": set(),
        "callback_offer_keyed": set(),
        "callback_number_request": set(),
        "callback_number_invalid": set(),
        "callback_registered": {"ticket", "department", "deadline"},
        "callback_whisper": {"ticket", "department"},
        "callback_not_answered": set(),
    }.items()
}
# What a prompt must say, whatever its wording: the registration number and the term the law
# has the caller told, the key a menu offers. Such a prompt cannot be a recording either.
MUST_SAY: dict[str, frozenset[str]] = {
    key: frozenset(fields)
    for key, fields in {
        "menu_option": {"digit"},
        "language_offer": {"digit"},
        "incident_join_offer": {"digit"},
        "ticket_registered": {"ticket", "deadline"},
        "ticket_pending": {"deadline"},
        "ticket_pending_no_sms": {"deadline"},
        "status_open": {"ticket", "deadline"},
        "status_overdue": {"ticket", "deadline"},
        "status_resolved": {"ticket", "outcome"},
        "status_rejected": {"ticket", "outcome"},
        "callback_registered": {"ticket", "deadline"},
    }.items()
}
_TOP_KEYS = {"voice", "language", "days", "months", "digits", "prompts", "sms"}
# Prompts and SMS texts that tell the caller the terms: they may also name any milestone that
# every department has, such as {promised} ("astăzi până la ora 13:30").
WITH_MILESTONES = frozenset({"ticket_registered", "ticket_pending", "ticket_pending_no_sms", "callback_registered"})


@dataclass(frozen=True)
class Utterance:
    """One thing the caller hears: text to <Say> in a voice, or a recording to <Play>."""

    text: str
    voice: str
    language: str

    @property
    def is_recording(self) -> bool:
        return self.text.startswith("https://")


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one language."""

    lang: str
    source: str
    voice: str
    language: str
    days: dict[str, str]
    months: tuple[str, ...]
    prompts: dict[str, str]
    sms: dict[str, str]
    # A word a caller may say at the menu for a key ("doi" for 2), lower case, without diacritics.
    digit_words: dict[str, int] = field(default_factory=dict)

    def say(self, key: str, **values: Any) -> Utterance:
        template = self.prompts[key]
        if template.startswith("https://"):
            return Utterance(template, self.voice, self.language)
        allowed = {k: v for k, v in values.items() if k in PROMPTS[key] or key in WITH_MILESTONES}
        return Utterance(template.format_map(allowed), self.voice, self.language)

    def spoken_date(self, day: date) -> str:
        """A date as a caller hears it: "22 decembrie 2026"."""
        return self.prompts["date"].format(day=day.day, month=self.months[day.month - 1], year=day.year)

    def spoken_deadline(self, deadline: Deadline, tz: ZoneInfo, today: date) -> str:
        """A deadline as a caller hears it: a date, or for a timed one "astăzi până la ora 13:30",
        "mâine până la ora 10:30", "24 noiembrie 2026, până la ora 10:30"."""
        if not deadline.timed:
            return self.spoken_date(deadline.due_on)
        due = deadline.local_due(tz)
        clock = due.strftime("%H:%M")
        if due.date() == today:
            return self.prompts["deadline_today"].format(time=clock)
        if due.date() == today + timedelta(days=1):
            return self.prompts["deadline_tomorrow"].format(time=clock)
        return self.prompts["deadline_at_time"].format(date=self.spoken_date(due.date()), time=clock)

    @staticmethod
    def spelled(code: str) -> str:
        """A ticket number read character by character: "R C, 2 0 2 6, 0 0 0 1 2 3"."""
        return ", ".join(" ".join(part) for part in code.split("-"))

    def describe_hours(self, hours: WeeklyHours) -> str:
        """Operator hours in words, for telling a caller when a department answers."""
        if hours.never_staffed:
            return self.prompts["hours_never"]
        spans = hours.spans
        if len(spans) == 1 and len(spans[0].days) == 7 and (spans[0].start, spans[0].end) == (0, 1440):
            return self.prompts["hours_always"]
        parts = []
        for span in spans:
            names = [self.days[DAYS[d]] for d in span.days]
            days = names[0] if len(names) == 1 else self.prompts["day_range"].format(first=names[0], last=names[-1])
            parts.append(
                self.prompts["hours_span"].format(
                    days=days, start=format_minutes(span.start), end=format_minutes(span.end % 1440)
                )
            )
        return "; ".join(parts)


def placeholders(template: str) -> set[str]:
    """The {names} a text fills in; ValueError for a lone brace."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def _check_template(
    where: str, template: Any, allowed: frozenset[str], hint: str = "", must: frozenset[str] = frozenset(),
) -> list[str]:
    if not isinstance(template, str) or not template.strip():
        return [f"{where}: must be a non-empty text"]
    needed = ", ".join("{" + f + "}" for f in sorted(must))
    if template.startswith("http://"):
        return [f"{where}: a recording must be an https:// URL"]
    if template.startswith("https://"):
        return [f"{where}: must be a text that says {needed}, not a recording"] if must else []
    try:
        fields = placeholders(template)
    except ValueError as exc:
        return [f"{where}: {exc} (write a literal brace as {{{{ or }}}})"]
    unknown = sorted(f for f in fields if f not in allowed)
    if unknown:
        names = ", ".join("{" + f + "}" for f in sorted(allowed)) or "none"
        return [f"{where}: unknown placeholder {', '.join('{' + f + '}' for f in unknown)} (allowed: {names}){hint}"]
    missing = sorted(must - fields)
    if missing:
        return [f"{where}: must contain {', '.join('{' + f + '}' for f in missing)} (it must say {needed})"]
    return []


def _with_milestones(required: dict[str, frozenset[str]], milestones: frozenset[str]) -> dict[str, frozenset[str]]:
    return {key: allowed | milestones if key in WITH_MILESTONES else allowed for key, allowed in required.items()}


def _check_section(source: str, section: str, data: Any, required: dict[str, frozenset[str]]) -> list[str]:
    if not isinstance(data, dict):
        return [f"{source}: {section}: missing (a mapping of texts)"]
    problems = [f"{source}: {section}.{k}: missing" for k in required if k not in data]
    problems += [f"{source}: {section}.{k}: unknown key" for k in data if k not in required]
    for key, allowed in required.items():
        if key in data:
            hint = "; a milestone named here must be one every department's deadline has" if key in WITH_MILESTONES else ""
            must = MUST_SAY.get(key, frozenset()) if section == "prompts" else frozenset()
            problems += _check_template(f"{source}: {section}.{key}", data[key], allowed, hint, must)
    return problems


def parse_prompts(
    lang: str, data: Any, source: str, sms_templates: dict[str, frozenset[str]] | None = None,
    milestones: frozenset[str] = frozenset(),
) -> PromptSet:
    """Validate one prompts file. ``sms_templates`` lists the SMS texts it must also define;
    ``milestones`` are the milestone names the registration texts may name."""
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping with voice, language, days and prompts"])
    problems = [f"{source}: {k}: unknown key" for k in data if k not in _TOP_KEYS]
    for key in ("voice", "language"):
        if not isinstance(data.get(key), str) or not data.get(key):
            problems.append(f"{source}: {key}: missing (such as Polly.Carmen and ro-RO)")
    days = data.get("days")
    if not isinstance(days, dict) or set(days) != set(DAYS):
        problems.append(f"{source}: days: needs a name for each of {', '.join(DAYS)}")
    months = data.get("months")
    if not isinstance(months, list) or len(months) != 12:
        problems.append(f"{source}: months: needs the 12 names of the months, January first")
    digit_words, digit_problems = _digit_words(source, data.get("digits"))
    problems += digit_problems
    problems += _check_section(source, "prompts", data.get("prompts"), _with_milestones(PROMPTS, milestones))
    if sms_templates:
        problems += _check_section(source, "sms", data.get("sms"), _with_milestones(sms_templates, milestones))
    if problems:
        raise ConfigError(problems)
    return PromptSet(
        lang=lang,
        source=source,
        voice=data["voice"],
        language=data["language"],
        days={k: str(v) for k, v in days.items()},
        months=tuple(str(m) for m in data["months"]),
        prompts={k: str(v) for k, v in data["prompts"].items()},
        sms={k: str(v) for k, v in (data.get("sms") or {}).items()},
        digit_words=digit_words,
    )


def _digit_words(source: str, digits: Any) -> tuple[dict[str, int], list[str]]:
    """``digits:`` (optional): for each key 0-9, the words a caller may say for it, one or a
    list ("doi" or [doi, două]); numerals ("2") are understood without it."""
    if digits is None:
        return {}, []
    if not isinstance(digits, list) or len(digits) != 10:
        return {}, [f"{source}: digits: needs the words for each key 0 to 9, 0 first (a word, or a list of them)"]
    words, problems = {}, []
    for digit, said in enumerate(digits):
        for text in said if isinstance(said, list) else [said]:
            spoken = spoken_words(str(text)) if isinstance(text, (str, int)) else []
            if len(spoken) != 1:
                problems.append(f"{source}: digits[{digit}]: {text!r} is not one word")
            elif words.setdefault(spoken[0], digit) != digit:
                problems.append(f"{source}: digits[{digit}]: {text!r} is also the word for {words[spoken[0]]}")
    return words, problems


def load_prompts(
    directory: Path, languages: list[str], sms_templates: dict[str, frozenset[str]] | None = None,
    milestones: frozenset[str] = frozenset(),
) -> dict[str, PromptSet]:
    sets, problems = {}, []
    for lang in languages:
        path = directory / f"{lang}.yaml"
        if not path.exists():
            problems.append(f"{path}: file not found (hotline.languages lists {lang})")
            continue
        try:
            sets[lang] = parse_prompts(lang, read_yaml(path), str(path), sms_templates, milestones)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return sets
