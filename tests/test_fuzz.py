"""Fuzz test: every webhook and console form, with any text Twilio or a browser could send.

Hypothesis sends signed webhooks (and console forms from a signed-in supervisor) whose fields
are any unicode, control characters, huge values, or missing, through the Flask test client on
SQLite. Whatever arrives: no 500; every voice answer is well-formed TwiML that never leaves the
caller in silence; no call gets two tickets; a caller told the complaint is registered has
exactly one ticket; a recording callback on a healthy database registers the complaint.

The number of examples is bounded so that the file runs in well under a minute; there is no\nshrinking, so a failure shows the example as it was found.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ivr.inputs import matches
from ivr.models import SmsMessage, Ticket
from ivr.users import add_user

from conftest import BASE_URL, sign
from console_client import PASSWORD

# No shrinking: with huge values it can run for minutes, so a failure is reported as found.
FUZZ = settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CONSOLE_FUZZ = settings(FUZZ, max_examples=40)
CALL_SID_PATTERN = re.compile(r"CA[0-9a-fA-F]{32}")
DEPARTMENTS = ["technical", "payments", "customer_relations"]

# -- what may arrive ------------------------------------------------------------

ODD = ["", " ", "0", "-1", "²", "①", "٣", "1" * 40, "\x00", "\n", "\r\n", "\t", "\u202e", "%00", "<Say>", "{ticket}"]
ANY_TEXT = st.one_of(
    st.text(),                                                    # any unicode, controls included
    st.sampled_from(ODD),
    st.sampled_from(["²", "①", "٣", "１", "𝟙"]),                  # digits to str.isdigit(), not to int()
    # Huge, yet within what Twilio sends: all the fields of a request stay under Flask's 500 kB.
    # codec="utf-8": a lone surrogate cannot be sent in a UTF-8 form, by Twilio or anyone.
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(1_000, 8_000)),
)
# Werkzeug rebuilds request.url as an IRI, which decodes these (and non-ASCII), so a URL holding
# them no longer matches Twilio's signature. The hotline never writes them in its own URLs.
# A "%" in the path is decoded by the WSGI server and not quoted again, for the same effect.
IRI_DECODED = '"<>[\\]^`{|}%'
URL_TEXT = st.one_of(
    st.text(st.characters(max_codepoint=127, exclude_characters=IRI_DECODED), max_size=40),
    st.sampled_from(ODD[:4] + ODD[7:11]),
)


def fuzzed(*realistic: str) -> st.SearchStrategy[str]:
    """Mostly a value Twilio really sends, otherwise anything."""
    return st.one_of(st.sampled_from(realistic), ANY_TEXT) if realistic else ANY_TEXT


HEX32 = st.text("0123456789abcdef", min_size=32, max_size=32)
# A few CallSids that recur across examples, so that repeats and odd twins of one call meet.
KNOWN_SIDS = [f"CA{i:032x}" for i in range(1, 6)]
CALL_SID = st.one_of(
    st.sampled_from(KNOWN_SIDS),
    HEX32.map(lambda h: "CA" + h),
    st.builds(lambda sid, tail: sid + tail, st.sampled_from(KNOWN_SIDS), st.sampled_from(["\n", "\x00", " ", "\r\n"])),
    ANY_TEXT,
)
RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/RE" + "1" * 32
TWILIO_FIELDS = {
    "AccountSid": fuzzed("AC" + "0" * 32),
    "From": fuzzed("+40722123456", "+40215551234", "anonymous", "+8613800138000", "client:ana", ""),
    "To": fuzzed("+40215894141"),
    "Digits": fuzzed("1", "2", "3", "8", "9", "0", "#", "0722123456", "0722123456#", "*"),
    "SpeechResult": fuzzed("tehnic", "plăți", "payments", "relații clienți"),
    "DialCallStatus": fuzzed("completed", "answered", "busy", "no-answer", "failed", "canceled"),
    "ParentCallFrom": fuzzed("+40722123456"),
    "RecordingSid": fuzzed("RE" + "1" * 32),
    "RecordingUrl": fuzzed(RECORDING_URL),
    "RecordingDuration": fuzzed("0", "1", "25", "180", "3600"),
    "RecordingStatus": fuzzed("completed", "absent", "failed", "in-progress"),
}
QUERY_ARGS = {
    "lang": st.one_of(st.sampled_from(["ro", "en"]), URL_TEXT),
    "attempt": st.one_of(st.sampled_from(["1", "2", "3"]), URL_TEXT),
    "asked": st.one_of(st.sampled_from(["1", "2"]), URL_TEXT),
    "take": st.one_of(st.sampled_from(["1", "2"]), URL_TEXT),
    "sms": st.one_of(st.sampled_from(["+40722123456", "", "+40215551234", "+8613800138000"]), URL_TEXT),
    "code": st.one_of(st.sampled_from(["12345678", "", "١٢٣٤٥٦٧٨"]), URL_TEXT),
}
VOICE_PATHS = ["incoming", "menu", "whisper/{d}", "dial-status/{d}", "sms-number/{d}", "client-code/{d}", "record/{d}",
               "recorded/{d}", "recording-status/{d}"]
# A path ending in ";" is not signed as sent: twilio-python's validator reads the URL with
# urlparse, which drops an empty ";" parameter. Twilio never calls one: department keys hold no ";".
DEPARTMENT = st.one_of(st.sampled_from([*DEPARTMENTS, "-"]),
                       URL_TEXT.filter(lambda s: "/" not in s and s.strip(".") and not s.endswith(";")))


URL_SAFE = "!$'()*,/:;?@"  # what werkzeug's url_for leaves unquoted in a query string


@st.composite
def voice_webhook(draw, department: st.SearchStrategy[str] = DEPARTMENT) -> tuple[str, dict[str, str]]:
    """(URL as Twilio calls it, percent-encoded, and the form) for one voice webhook."""
    path = draw(st.sampled_from(VOICE_PATHS)).format(d=quote(draw(department), safe="!$&'()*+,:;=@"))
    args = draw(st.fixed_dictionaries({}, optional=QUERY_ARGS))
    form = draw(st.fixed_dictionaries({}, optional={"CallSid": CALL_SID, **TWILIO_FIELDS}))
    query = f"?{urlencode(args, quote_via=quote, safe=URL_SAFE)}" if args else ""
    return f"{BASE_URL}/voice/{path}{query}", form


# -- what must hold -------------------------------------------------------------

SPEAKING, ACTING = {"Say", "Play"}, {"Gather", "Record", "Dial", "Redirect"}


def assert_caller_not_left_in_silence(body: str, form: dict[str, str]) -> None:
    document = ET.fromstring(body)
    assert document.tag == "Response", body
    verbs = [verb.tag for verb in document]
    for gather in document.iter("Gather"):
        assert {child.tag for child in gather} & SPEAKING, f"a silent <Gather>: {body}"
    if verbs == ["Hangup"]:  # the operator answered and the call is over
        assert form.get("DialCallStatus") in ("completed", "answered"), body
        return
    assert set(verbs) & (SPEAKING | ACTING), f"the caller hears nothing: {body}"
    if "Hangup" in verbs:  # after words, or after asking for a key (an operator's whisper)
        before = list(document)[: verbs.index("Hangup")]
        spoken = {verb.tag for verb in before} | {child.tag for verb in before if verb.tag == "Gather" for child in verb}
        assert spoken & SPEAKING, f"hung up without a word: {body}"


def tickets_of(app, call_sid: str) -> list[Ticket]:
    """The tickets of a call, counting a CallSid with odd trailing characters as the same call."""
    stem = call_sid[:34]
    with app.extensions["ivr.db"].session() as session:
        found = session.scalars(select(Ticket).where(Ticket.call_sid.startswith(stem))).all()
        return [t for t in found if t.call_sid.strip().strip("\x00") == stem]


def told_registered(app, body: str) -> tuple[bool, str | None]:
    """Whether the caller heard that the complaint is registered, and the number they heard."""
    for prompts in app.extensions["ivr.hotline"].prompts.values():
        opening = prompts.prompts["ticket_registered"].split("{ticket}")[0]
        if opening in body:
            return True, body.split(opening, 1)[1]
        if prompts.prompts["ticket_pending"] in body:
            return True, None
    return False, None


def assert_tickets_hold(app, url: str, form: dict[str, str], status: int, body: str) -> None:
    call_sid = form.get("CallSid", "")
    if not matches(CALL_SID_PATTERN, call_sid[:34]):
        return
    tickets = tickets_of(app, call_sid)
    assert len(tickets) <= 1, f"one call, {len(tickets)} tickets: {[t.call_sid for t in tickets]}"
    for ticket in tickets:
        with app.extensions["ivr.db"].session() as session:
            sms = session.scalars(select(SmsMessage).where(SmsMessage.ticket_id == ticket.id)).all()
        assert len(sms) == (1 if ticket.sms_to else 0), f"{ticket.number}: {len(sms)} SMS"
    registered, heard = told_registered(app, body) if "/voice/recorded/" in url else (False, None)
    if registered:
        assert len(tickets) == 1, f"told registered, but {len(tickets)} tickets for {call_sid!r}"
        if heard is not None:
            spelled = app.extensions["ivr.hotline"].prompt_set("ro").spelled(tickets[0].number)
            assert heard.startswith(spelled), f"heard {heard[:60]!r}, ticket {tickets[0].number}"
    if "/voice/recording-status/" in url and status == 204 and form.get("RecordingStatus") != "absent":
        assert len(tickets) == 1, f"recording callback accepted, nothing registered for {call_sid!r}"


# -- fixtures -------------------------------------------------------------------

@pytest.fixture
def fuzz_app(app_config):
    """The hotline on SQLite with CSRF off (forms are fuzzed, not the token), a supervisor
    maria and two tickets to act on."""
    from ivr import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": False})
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", app_config["CLOCK"]())
    client = app.test_client()
    for sid in KNOWN_SIDS[:2]:
        data = {"CallSid": sid, "From": "+40722123456", "RecordingSid": "RE" + "1" * 32, "RecordingUrl": RECORDING_URL}
        url = f"{BASE_URL}/voice/recorded/technical?sms=%2B40722123456"
        assert client.post(url, data=data, headers=sign(url, data)).status_code == 200
    return app


@pytest.fixture
def supervisor(fuzz_app):
    """A client signed in as the supervisor maria."""
    client = fuzz_app.test_client()
    assert client.post("/console/login", data={"name": "maria", "password": PASSWORD}).status_code == 302
    return client


# -- the webhooks -----------------------------------------------------------------

def _known(path: str, **form: str) -> tuple[str, dict[str, str]]:
    return f"{BASE_URL}/voice/{path}?sms=%2B40722123456", {"From": "+40722123456", "RecordingUrl": RECORDING_URL, **form}


@pytest.mark.slow
@FUZZ
@given(request=voice_webhook())
# Seen before, kept so that they are always tried: a unicode digit as the duration, and a
# CallSid with a trailing newline for a call that already has its ticket.
@example(request=_known("recording-status/technical", CallSid=KNOWN_SIDS[3], RecordingDuration="²"))
@example(request=_known("recorded/payments", CallSid=KNOWN_SIDS[4], RecordingDuration="①"))
@example(request=_known("recorded/technical", CallSid=KNOWN_SIDS[0] + "\n"))
def test_voice_webhooks_answer_anything_with_speech_and_lose_or_double_nothing(fuzz_app, request):
    url, form = request
    reply = fuzz_app.test_client().post(url, data=form, headers=sign(url, form))
    body = reply.get_data(as_text=True)
    assert reply.status_code != 500, body
    assert reply.status_code != 403, "a signed request was refused"
    if not matches(CALL_SID_PATTERN, form.get("CallSid", "")):
        assert reply.status_code in (200, 204, 400), reply.status_code
    elif "/voice/recording-status/" in url:
        assert reply.status_code == 204, f"the recording callback failed on a healthy database: {body}"
    else:
        assert reply.status_code == 200, body
    if reply.status_code == 200:
        assert reply.mimetype == "text/xml", body
        assert_caller_not_left_in_silence(body, form)
    assert_tickets_hold(fuzz_app, url, form, reply.status_code, body)


@FUZZ
@given(request=voice_webhook(department=st.text(min_size=1).filter(lambda s: s.strip("./"))))
def test_voice_webhooks_under_any_department_key_never_fail(fuzz_app, request):
    """Any unicode in the URL's department: answered in speech, or refused, but never a 500."""
    url, form = request
    reply = fuzz_app.test_client().post(url, data=form, headers=sign(url, form))
    assert reply.status_code != 500, reply.get_data(as_text=True)
    if reply.status_code == 200:
        assert_caller_not_left_in_silence(reply.get_data(as_text=True), form)


@FUZZ
@given(form=st.fixed_dictionaries({}, optional={
    "MessageSid": fuzzed("SM" + "2" * 32, "MM" + "2" * 32), "MessageStatus": fuzzed("sent", "delivered", "undelivered", "failed"),
    "ErrorCode": fuzzed("30003", "30005", "21610"), "AccountSid": fuzzed("AC" + "0" * 32),
}))
def test_sms_status_callbacks_never_fail(fuzz_app, form):
    url = f"{BASE_URL}/sms/status"
    reply = fuzz_app.test_client().post(url, data=form, headers=sign(url, form))
    assert reply.status_code in (204, 400), (reply.status_code, reply.get_data(as_text=True))


# -- the console ------------------------------------------------------------------

@settings(CONSOLE_FUZZ, max_examples=20)  # each try costs an Argon2 hash
@given(form=st.fixed_dictionaries({}, optional={"name": fuzzed("maria", "ana"), "password": fuzzed(PASSWORD)}),
       next_page=st.one_of(st.none(), fuzzed("/console/", "/console/overview", "//evil.example/", "https://evil.example/")))
def test_sign_in_form_never_fails(fuzz_app, form, next_page):
    query = {"next": next_page} if next_page is not None else {}
    reply = fuzz_app.test_client().post("/console/login", query_string=query, data=form)
    assert reply.status_code in (302, 400, 401, 429), (reply.status_code, reply.get_data(as_text=True)[:500])
    if reply.status_code == 302:
        assert reply.location.startswith("/console"), reply.location


@CONSOLE_FUZZ
@given(args=st.fixed_dictionaries({}, optional={
    "page": fuzzed("1", "2", "99999"), "q": fuzzed("RC-2026-000001", "0722123456"),
    "department": fuzzed(*DEPARTMENTS), "status": fuzzed("open", "registered", "resolved"), "overdue": fuzzed("1"),
}))
def test_ticket_list_filters_never_fail(supervisor, args):
    reply = supervisor.get("/console/", query_string=args)
    assert reply.status_code == 200, (reply.status_code, reply.get_data(as_text=True)[:500])


@CONSOLE_FUZZ
@given(number=fuzzed("RC-2026-000001", "RC-2026-000002", "RC-2026-999999"),
       action=fuzzed("take", "note", "progress", "resolve", "reject", "extend", "reclassify", "reopen"),
       form=st.fixed_dictionaries({}, optional={"text": fuzzed("Am rezolvat.", "Nefondat."), "confirm": fuzzed("1", "0"),
                                                "department": fuzzed(*DEPARTMENTS), "monthly": fuzzed("45,50", "0")}))
def test_ticket_actions_never_fail(supervisor, number, action, form):
    path = f"/console/tickets/{quote(number, safe='')}/{quote(action, safe='')}"
    reply = supervisor.post(path, data=form)
    # 308: an encoded "/" in the number gives "//", which Werkzeug redirects to the merged path.
    # 409: refused because the ticket changed (closed, taken); the page says so and keeps the text.
    assert reply.status_code in (200, 303, 308, 400, 404, 405, 409, 422), (reply.status_code, reply.get_data(as_text=True)[:500])
