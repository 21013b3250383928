"""A ticket's history is stored as data and read in the reader's language: each kind of event
in Romanian and English, actors and dates as the console writes them, SMS purposes and Twilio's
error codes in words, old rows (no data) as they were written; and the Romanian ticket page of a
ticket that went through everything shows no English."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import unescape

import pytest
import yaml
from sqlalchemy import select

from ivr.alerts import run_alerts
from ivr.console_labels import load_labels
from ivr.sms.dispatcher import Dispatcher
from ivr.tickets.history import TWILIO_ERRORS, render, twilio_error
from ivr.models import SmsMessage, Ticket, TicketEvent
from ivr.sms.gateway import TwilioGateway
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import BASE_URL, BUCHAREST, ROOT, sign
from test_alerts import with_alerts
from console_client import PASSWORD, act, sign_in

LABELS = load_labels(ROOT / "prompts", ["ro", "en"])
DEPARTMENTS = {"technical": {"ro": "Departamentul Tehnic", "en": "Technical support"},
               "payments": {"ro": "Departamentul Plăți", "en": "Payments"}}
AT = datetime(2026, 11, 23, 8, 30, tzinfo=timezone.utc)  # 10:30 in Bucharest


def shown(kind: str, data: dict | None, detail: str = "", actor: str = "operator:ana", lang: str = "ro"):
    event = TicketEvent(at=AT, actor=actor, kind=kind, detail=detail, data=data)
    return render(event, LABELS[lang], lang, BUCHAREST, DEPARTMENTS)


# -- each kind, in both languages ---------------------------------------------------------------

CASES = [
    ("registered", {"via": "voicemail", "report": "record_action", "deadline": "2026-12-22"},
     "mesaj vocal; termen legal: 22.12.2026", "voicemail; legal deadline: 22.12.2026"),
    ("registered", {"via": "operator", "deadline": "2026-11-23T15:00:00+00:00"},
     "spusă unui operator; termen legal: 23.11.2026 17:00", "told to an operator; legal deadline: 23.11.2026 17:00"),
    ("recording", {"recording": "RE1", "status": "failed"}, "înregistrarea RE1 a eșuat", "recording RE1 failed"),
    ("taken", {"previous": "mihai"}, "preluată de la mihai", "taken over from mihai"),
    ("taken", {"previous": None}, "", ""),
    ("progress", {"sms_to": "+40722123456"}, "SMS pregătit pentru +40722123456", "SMS queued for +40722123456"),
    ("resolved", {"sms_to": None}, "clientul nu are număr pentru SMS: trebuie anunțat telefonic",
     "the customer has no SMS number: tell them by phone"),
    ("extended", {"moves": [{"milestone": "legal", "final": True, "before": "2026-12-28", "after": "2027-01-12"},
                            {"milestone": "promised", "final": False, "before": "2026-11-27T10:00:00+00:00",
                             "after": "2026-12-04T10:00:00+00:00"}]},
     "termenul legal: 28.12.2026 → 12.01.2027; termen promis: 27.11.2026 12:00 → 04.12.2026 12:00",
     "the legal term: 28.12.2026 → 12.01.2027; promised: 27.11.2026 12:00 → 04.12.2026 12:00"),
    ("reclassified", {"from": "technical", "to": "payments"}, "Departamentul Tehnic → Departamentul Plăți",
     "Technical support → Payments"),
    ("reopened", {"was": "resolved"}, "era soluționată", "was resolved"),
    ("sms", {"purpose": "ticket_resolved#1", "to": "+40722123456", "status": "sent", "error": None},
     "SMS de soluționare către +40722123456: trimis", "resolution SMS to +40722123456: sent"),
    ("sms", {"purpose": "ticket_registered", "to": "+40722123456", "status": "failed", "error": 21610},
     "SMS de înregistrare către +40722123456: eșuat · destinatarul s-a dezabonat (a răspuns STOP)",
     "registration SMS to +40722123456: failed · the recipient unsubscribed (replied STOP)"),
    ("sms_status", {"purpose": "ticket_progress#2", "to": "+40722123456", "status": "undelivered", "error": 30003},
     "SMS de progres către +40722123456: nelivrat · telefonul destinatarului nu poate fi contactat (închis sau fără semnal)",
     "progress SMS to +40722123456: undelivered · the recipient's phone cannot be reached (off or out of coverage)"),
    ("alerted", {"milestone": "promised", "final": False, "due": "2026-11-17T10:00:00+00:00",
                 "told": [{"target": "user:maria", "number": "+40722000111"}, {"target": "+40744000222", "number": "+40744000222"}],
                 "untold": [{"target": "user:ion", "problem": "no_phone"}, {"target": "user:ghost", "problem": "not_a_user"}]},
     "termen promis, scadent la 17.11.2026 12:00: SMS către maria (+40722000111), +40744000222; "
     "netrimis către ion (nu are telefon (ivr user phone)), ghost (nu este un utilizator activ al consolei)",
     "promised, due 17.11.2026 12:00: SMS to maria (+40722000111), +40744000222; "
     "not sent to ion (no phone (ivr user phone)), ghost (not an active console user)"),
    ("alerted", {"milestone": "legal", "final": True, "due": "2026-12-17", "told": [], "untold": []},
     "termenul legal, scadent la 17.12.2026: SMS către nimeni",
     "the legal term, due 17.12.2026: SMS to nobody"),
    ("recovered", {"recording": "RE9", "at": "2026-11-23T08:30:00+00:00", "department": "technical",
                   "language": "ro", "sms": False},
     "din înregistrarea Twilio RE9, prin ivr reconcile la 23.11.2026 10:30; alegerea din meniu și limba "
     "apelantului nu se cunosc: departamentul (Departamentul Tehnic) și limba (ro) sunt presupuse; fără SMS: "
     "numărul apelantului nu este un mobil dintr-o țară din hotline.sms_countries",
     "from Twilio's recording RE9, by ivr reconcile at 23.11.2026 10:30; the caller's menu choice and "
     "language are not known, so the department (Technical support) and the language (ro) are guesses; no SMS: "
     "the caller's number is not a mobile of a country in hotline.sms_countries"),
    ("compensation", {"formula": "per_day_late", "amount": "7.50", "monthly_value": "45.00", "days_late": 5,
                      "days_in_month": 30, "weeks": 0},
     "7,50 lei: 45,00 lei ÷ 30 (zilele lunii) × 5 (zile de întârziere) = 7,50 lei", None),
]


@pytest.mark.parametrize("kind, data, ro, en", CASES)
def test_each_kind_of_event_reads_in_the_readers_language(kind, data, ro, en):
    assert shown(kind, data).text == ro
    if en is not None:
        assert shown(kind, data, lang="en").text == en


@pytest.mark.parametrize("kind, data", [(kind, data) for kind, data, *_ in CASES])
def test_every_kind_has_a_title_in_each_language(kind, data):
    assert shown(kind, data).title == LABELS["ro"][f"event_{kind}"]
    assert shown(kind, data, lang="en").title == LABELS["en"][f"event_{kind}"]


@pytest.mark.parametrize("actor, ro, en", [
    ("caller", "apelantul", "the caller"), ("twilio", "Twilio", "Twilio"), ("system", "sistemul", "the system"),
    ("operator:ana", "ana", "ana"), ("supervisor:maria", "maria", "maria"),
])
def test_actors_in_words(actor, ro, en):
    assert shown("taken", {"previous": None}, actor=actor).actor == ro
    assert shown("taken", {"previous": None}, actor=actor, lang="en").actor == en


def test_the_time_is_the_hotlines_wall_clock():
    assert shown("taken", {"previous": None}).at == "23.11.2026 10:30"


# -- what people wrote -----------------------------------------------------------------------

@pytest.mark.parametrize("kind, data, ro_role", [
    ("note", None, "notă internă (clientul nu o vede)"),
    ("resolved", {"sms_to": "+40722123456"}, "mesajul către client"),
    ("progress", {"sms_to": None}, "mesajul către client"),
    ("extended", {"moves": []}, "motivul (trimis clientului)"),
    ("reclassified", {"from": "technical", "to": "payments"}, "motivul (rămâne intern)"),
])
def test_what_a_person_wrote_stays_as_written_and_says_who_reads_it(kind, data, ro_role):
    event = shown(kind, data, detail="Clientul revine mâine.")
    assert (event.detail, event.detail_role) == ("Clientul revine mâine.", ro_role)
    assert event.internal is (kind == "note")


def test_an_internal_note_is_marked_in_english_too():
    event = shown("note", None, detail="Sunat, nu răspunde.", lang="en")
    assert event.internal and event.detail_role == "internal note (the customer does not see it)"


@pytest.mark.parametrize("kind, detail", [
    ("registered", "voicemail (recording callback); deadline 2026-12-22: 30 calendar days (complaint)"),
    ("taken", "taken from mihai"),
    ("sms_status", "SMS ticket_resolved#1 to +40722123456: undelivered (error 30003)"),
    ("resolved", "Rezolvat. (SMS queued to +40722123456)"),
])
def test_an_event_written_before_events_had_data_shows_its_text_as_written(kind, detail):
    event = shown(kind, None, detail=detail, actor="twilio")
    assert (event.text, event.detail, event.detail_role, event.actor) == ("", detail, "", "Twilio")


# -- Twilio's error codes --------------------------------------------------------------------

@pytest.mark.parametrize("code", TWILIO_ERRORS)
def test_common_twilio_sms_errors_have_a_meaning_in_each_language(code):
    ro, en = twilio_error(code, LABELS["ro"], "ro"), twilio_error(code, LABELS["en"], "en")
    assert str(code) not in ro and str(code) not in en and ro != en


def test_an_unknown_twilio_code_is_named():
    assert twilio_error(63016, LABELS["ro"], "ro") == "eroare Twilio 63016"
    assert twilio_error(63016, LABELS["en"], "en") == "Twilio error 63016"


def test_twilio_30003_in_romanian():
    assert twilio_error(30003, LABELS["ro"], "ro") == "telefonul destinatarului nu poate fi contactat (închis sau fără semnal)"


# -- the Romanian ticket page of a ticket that went through everything ---------------------

@pytest.fixture
def config_dir(config_dir):
    """The shipped configuration with the alerts of ``test_alerts.with_alerts`` (technical:
    a promised milestone two business hours out, alerted an hour before)."""
    with_alerts(config_dir)
    return config_dir


@pytest.fixture
def staff(db, clock):
    """Operator ana, supervisor maria (phone +40722000111) for the alerts."""
    with db.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", clock())
        add_user(session, "maria", PASSWORD, "supervisor", clock(), phone="+40722000111")


def signed_in(app, name: str):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def english_words() -> set[str]:
    """Words of the English console catalog that are neither Romanian labels nor in the
    customer's Romanian texts: none may show on a Romanian page."""
    def texts(node) -> list[str]:
        if isinstance(node, dict):
            return [t for value in node.values() for t in texts(value)]
        if isinstance(node, list):
            return [t for value in node for t in texts(value)]
        return [str(node)]

    def words(path) -> set[str]:
        # Placeholders ({days_in_month}) are not words anyone reads.
        text = re.sub(r"\{[^}]*\}", " ", " ".join(texts(yaml.safe_load(path.read_text()))))
        return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}
    romanian = words(ROOT / "prompts/console/ro.yaml") | words(ROOT / "prompts/ro.yaml")
    switch = {"english"}  # the link to the English console is written in English on purpose
    return words(ROOT / "prompts/console/en.yaml") - romanian - switch


def page_text(html: str) -> str:
    text = unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)))
    return " ".join(text.split())


def test_a_romanian_ticket_page_with_a_full_history_has_no_english(app, db, clock, staff, twilio):
    hotline = app.extensions["ivr.hotline"]
    recovered = {"recording": "RE" + "5" * 32, "at": clock().astimezone(timezone.utc).isoformat(),
                 "department": "technical", "language": "ro", "sms": True}
    report = VoicemailReport("CA" + "5" * 32, "technical", "ro", "+40722123456", "+40722123456", "RE" + "5" * 32,
                             "https://api.twilio.com/rec", 20, "completed", "reconcile", recovered=recovered)
    with db.session() as session, session.begin():
        number = register_voicemail(session, hotline, report, clock()).number
    clock.now = clock().replace(hour=11)
    run_alerts(db, hotline, clock())  # an hour before the promised 12:00
    ana, maria = signed_in(app, "ana"), signed_in(app, "maria")
    act(ana, number, "take")
    act(ana, number, "note", text="Am sunat clientul, revine mâine.")
    act(ana, number, "progress", text="Verificăm linia.", confirm="1")
    act(ana, number, "extend", text="Piesa vine din import.", confirm="1")
    act(ana, number, "reclassify", department="payments", text="Este o problemă de facturare.", confirm="1")
    act(maria, number, "take")
    assert act(maria, number, "resolve", text="Am corectat factura.", confirm="1").status_code == 303
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=5)
    Dispatcher(db, gateway, clock).drain()
    with db.session() as session:
        sids = session.scalars(select(SmsMessage.twilio_sid).join(Ticket).where(
            Ticket.number == number, SmsMessage.purpose.not_like("alert_%")).order_by(SmsMessage.id)).all()
    client = app.test_client()
    for sid, status, code in ((sids[0], "delivered", ""), (sids[-1], "undelivered", "30003")):
        data = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code}
        assert client.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data)).status_code == 204

    page = maria.get(f"/console/tickets/{number}").get_data(as_text=True)
    history = page_text(page[page.index('<ol class="history">'):])
    for words in ("apelantul", "sistemul", "Twilio", "recuperată din Twilio din înregistrarea Twilio", "preluată de la ana",
                  "notă internă (clientul nu o vede): Am sunat clientul, revine mâine.", "SMS de progres",
                  "Departamentul Tehnic → Departamentul Plăți", "SMS de soluționare", "nelivrat",
                  "telefonul destinatarului nu poate fi contactat", "SMS de alertă", "mesajul către client",
                  "termen legal: 17.12.2026", "17.11.2026 12:00"):
        assert words in history, (words, history)
    assert 'class="event event-note internal"' in page
    assert "termen: 30 de zile calendaristice" in page  # the deadline's rule, in words too
    # "Enter" is a key's name on the keyboard shortcuts' card, not English left untranslated.
    shown = re.sub(r"\b[A-Z]{2}[0-9a-fA-F]{32}\b", " ", page_text(page))  # Twilio's ids are not words
    shown_words = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", shown)} - {"enter"}
    assert not shown_words & english_words(), shown_words & english_words()
    assert "Transcriere" not in page and "(error" not in page
