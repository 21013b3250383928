"""Reading a voice webhook's request: the caller, the call's state carried in the URL's query
string (language, department, SMS number, client code, attempt), and the call log."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request

from .. import appctx
from ..calls import log as call_log
from ..inputs import ascii_digits, ascii_int, matches
from ..phone import Caller, caller_from, sms_recipient
from ..prompts import PromptSet

T = TypeVar("T")

_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_CALLER = "ivr.caller"  # where a request keeps its caller, in its WSGI environ


def call_caller() -> Caller:
    """The caller in Twilio's ``From``, parsed once per request: several steps of one answer
    ask, and parsing a number is a good part of a menu's time."""
    caller = request.environ.get(_CALLER)
    if caller is None:
        caller = caller_from(request.form.get("From"), appctx.hotline().routing.hotline.holidays)
        request.environ[_CALLER] = caller
    return caller


def call_lang() -> str:
    lang = request.args.get("lang", "")
    routing = appctx.hotline().routing
    return lang if lang in routing.hotline.languages else routing.default_language


def department_or_fallback(key: str | None) -> str:
    routing = appctx.hotline().routing
    return key if key in routing.departments else routing.hotline.fallback


def int_arg(name: str, default: int) -> int:
    value = ascii_int(request.args.get(name), max_digits=3)
    return default if value is None else value


def textable(number: str | None) -> str:
    """``number`` in E.164 if we may text it (a mobile of routing.yaml's sms_countries), else ""."""
    hotline = appctx.hotline().routing.hotline
    return sms_recipient(caller_from(number, hotline.holidays), hotline.sms_countries) or ""


def caller_textable() -> str:
    """The caller's own number in E.164 if we may text it, else "" (``textable`` of ``From``)."""
    return sms_recipient(call_caller(), appctx.hotline().routing.hotline.sms_countries) or ""


def sms_arg() -> str:
    """The SMS number carried in the URL, checked again like any number (sms_countries may have changed)."""
    return textable(request.args.get("sms"))


def client_code_from(digits: str | None) -> str | None:
    """``digits`` when it is a client code as routing.yaml defines one now: the configured number of ASCII digits."""
    length = appctx.hotline().routing.hotline.client_code_length
    return ascii_digits(digits, length) if length else None


def code_arg() -> str | None:
    """The client code carried in the URL, checked again: a URL is not the caller's keypad."""
    return client_code_from(request.args.get("code"))


def in_webhook_time(work: Callable[[], T]) -> T:
    """``work()`` (a step's writes) in a kept thread, waited for at most WEBHOOK_DATABASE_SECONDS,
    well within Twilio's 15 s: raises ``ivr.bounded.Late`` past it, or what ``work`` raised."""
    return appctx.bounded_work().run(work, float(current_app.config["WEBHOOK_DATABASE_SECONDS"]))


def log_call(write, *args) -> None:
    """Add a fact to this call's row in the background: no step of a call waits for the database."""
    call_sid, now = request.form["CallSid"], appctx.now()
    appctx.call_events().record(lambda session: write(session, call_sid, *args, now))


def log_arrival(caller: str | None, language: str) -> None:
    """The call's first fact, as ``log_call`` adds one; the writer sends many arrivals at once."""
    appctx.call_events().record(call_log.arrival(request.form["CallSid"], caller, language, appctx.now()))


def is_call_sid(text: str | None) -> bool:
    """Whether ``text`` is a Twilio CallSid (one carried in a URL we built, say)."""
    return matches(_CALL_SID, text)


def parent_call_sid() -> str:
    """The caller's call: an operator's leg (whisper) carries its parent's CallSid."""
    parent = request.form.get("ParentCallSid", "")
    return parent if matches(_CALL_SID, parent) else request.form["CallSid"]


def prompts_in(lang: str) -> PromptSet:
    return appctx.hotline().prompt_set(lang)


def department_name(key: str, lang: str) -> str:
    return appctx.hotline().routing.departments[key].name[lang]
