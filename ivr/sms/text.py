"""SMS texts: GSM-7 transliteration and the one-segment limit.

An SMS in the GSM-7 alphabet fits 160 characters in one segment; a single
character outside it (a Romanian ș, say) turns the whole message into UCS-2
and cuts a segment to 70. So texts are transliterated before they are sent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..compensation import TEXTS as COMPENSATION_TEXTS
from ..prompts import placeholders

if TYPE_CHECKING:
    from ..config import Routing
    from ..deadlines import Deadline
    from ..prompts import PromptSet

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€"  # each costs two characters (escape + char)
SEGMENT = 160
MULTIPART_SEGMENT = 153  # a concatenated message loses 7 characters per part to its header

_REPLACEMENTS = str.maketrans(
    {
        "ș": "s", "ş": "s", "Ș": "S", "Ş": "S", "ț": "t", "ţ": "t", "Ț": "T", "Ţ": "T",
        "ă": "a", "â": "a", "Ă": "A", "Â": "A", "î": "i", "Î": "I",
        "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "’": "'", "‘": "'", "–": "-", "—": "-", "…": "...",
        "\u00a0": " ",
    }
)

# The SMS texts every prompts file defines under ``sms:``, with their placeholders.
SMS_TEMPLATES: dict[str, frozenset[str]] = {
    "ticket_registered": frozenset({"ticket", "deadline", "company", "department"}),
    "ticket_resolved": frozenset({"ticket", "company", "message"}),
    "ticket_rejected": frozenset({"ticket", "company", "message"}),
    "ticket_progress": frozenset({"ticket", "company", "message"}),
    "ticket_extended": frozenset({"ticket", "deadline", "company", "message"}),
    "ticket_reclassified": frozenset({"ticket", "deadline", "company", "department"}),
    "due_today": frozenset({"time"}),  # a milestone due later today, as the registration SMS names it
    **COMPENSATION_TEXTS,  # the compensation formula in words, for the resolution SMS
    # To a department's supervisors (routing.yaml alert:), in the hotline's default language.
    "milestone_alert": frozenset({"company", "ticket", "department", "milestone", "due"}),
    # A message the caller added by phone to a complaint they already have.
    "message_added": frozenset({"company", "ticket"}),
    # To the same people, when a callback request was not called back within callback_within.
    "callback_alert": frozenset({"company", "ticket", "department", "requested"}),
}
# What each SMS must carry, however an administrator words it: the number that names the
# complaint, the deadline the law requires the customer be told, the operator's answer.
SMS_MUST_CARRY: dict[str, frozenset[str]] = {
    "ticket_registered": frozenset({"ticket", "deadline"}),
    "ticket_resolved": frozenset({"ticket", "message"}),
    "ticket_rejected": frozenset({"ticket", "message"}),
    "ticket_progress": frozenset({"ticket", "message"}),
    "ticket_extended": frozenset({"ticket", "deadline", "message"}),
    "ticket_reclassified": frozenset({"ticket", "deadline"}),
    "due_today": frozenset({"time"}),
    "milestone_alert": frozenset({"ticket", "due"}),
    "message_added": frozenset({"ticket"}),
    "callback_alert": frozenset({"ticket"}),
}
# Texts that carry an operator's free text: only their fixed part must fit one segment;
# a longer message goes out in several parts, and the operator sees how many first.
WITH_OPERATOR_TEXT = {"ticket_resolved", "ticket_rejected", "ticket_progress", "ticket_extended"}


def to_gsm7(text: str) -> str:
    """Transliterate to the GSM-7 alphabet: ș->s, ț->t, ă/â->a, î->i; anything else unknown -> '?'."""
    out = []
    for char in text.translate(_REPLACEMENTS):
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    return "".join(out)


def gsm7_length(text: str) -> int:
    return sum(2 if c in GSM7_EXTENDED else 1 for c in text)


def segments(text: str) -> int:
    """How many SMS parts a GSM-7 text costs."""
    length = gsm7_length(text)
    return 1 if length <= SEGMENT else -(-length // MULTIPART_SEGMENT)


def sms_due(deadline: Deadline, tz: ZoneInfo, today: date, sms: Mapping[str, str]) -> str:
    """A milestone as the registration SMS names it: "azi la 13:30" when it falls due later
    today, else "23.11.2026 10:30" or "22.12.2026"."""
    if deadline.timed and deadline.local_due(tz).date() == today:
        return sms["due_today"].format(time=deadline.local_due(tz).strftime("%H:%M"))
    return deadline.text(tz)


def _worst_case_values(routing: Routing, prompts: PromptSet) -> dict[str, str]:
    names = [d.name.get(prompts.lang, "") for d in routing.departments.values()]
    return {
        **{name: "31.12.2026 23:59" for name in routing.shared_milestones},
        "ticket": f"{routing.hotline.ticket_prefix}-2026-000000",
        "deadline": "31.12.2026",
        "company": routing.hotline.company,
        "department": max(names, key=len),
        "message": "",
        "lei": "99999", "bani": "99", "days_late": "999", "days_in_month": "31", "weeks": "999",
        "percent": "100", "time": "23:59", **{k: "99999,99 lei" for k in ("monthly", "cap_per_week", "per_week", "uncapped", "amount")},
        "milestone": max((m for d in routing.departments.values() for m in d.milestones), key=len),
        "due": "31.12.2026 23:59",
        "requested": "31.12.2026 23:59",
    }


def check_sms_templates(routing: Routing, prompts: dict[str, PromptSet]) -> list[str]:
    """Each SMS template carries what it must, in characters an SMS can carry, and a one-segment
    one fits 160 GSM-7 characters with its longest values."""
    problems = []
    for prompt_set in prompts.values():
        values = _worst_case_values(routing, prompt_set)
        for key in SMS_TEMPLATES:
            where, template = f"{prompt_set.source}: sms.{key}", prompt_set.sms[key]
            problems += _template_problems(where, key, template)
            text = to_gsm7(template.format_map(values))
            if gsm7_length(text) > SEGMENT:
                problems.append(f"{where}: {gsm7_length(text)} characters with the longest values, more than one SMS ({SEGMENT})")
    return problems


def _template_problems(where: str, key: str, template: str) -> list[str]:
    problems = []
    missing = SMS_MUST_CARRY.get(key, frozenset()) - placeholders(template)
    if missing:
        problems.append(f"{where}: must contain {', '.join('{' + f + '}' for f in sorted(missing))}")
    unsendable = sorted({c for c in template if c != "?" and to_gsm7(c) == "?"})
    if unsendable:
        problems.append(f"{where}: {' '.join(unsendable)} cannot be sent by SMS (each would arrive as ?)")
    return problems
