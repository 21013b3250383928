"""A ticket's page when work goes wrong: a colleague acts first while you type (your text is
kept, you are told who did what when, and what you may still do), an SMS that did not reach
the customer (flagged, sent again or to another number, each with a preview, reaching the
outbox once), and saved replies that fill the form before the preview."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from ivr.tickets import casework
from ivr.sms.dispatcher import Dispatcher
from ivr.errors import ConfigError
from ivr.models import SmsMessage, Ticket, TicketEvent
from ivr.saved_replies import load_saved_replies
from ivr.sms.gateway import TwilioGateway

from conftest import BASE_URL, FakeClock, sign
from console_client import act, csrf, sign_in, ticket, voicemail
from test_console_races import _user, race

WORDS = {
    "ro": {"taken": "a fost deja preluat de ana.", "resolved": "a fost deja soluționat de ana.",
           "kept": "Textul dumneavoastră nu s-a pierdut.", "as_note": "Adaugă ca notă internă",
           "failed": "Ultimul SMS către client nu a ajuns", "resent": "Acest SMS a fost deja retrimis de ana",
           "invalid": "Numărul nu este un mobil căruia îi putem trimite SMS.", "reply": "Defect remediat",
           "held": "Tichetul este preluat de ana"},
    "en": {"taken": "was already taken by ana.", "resolved": "was already resolved by ana.",
           "kept": "Your text is not lost.", "as_note": "Add as internal note",
           "failed": "The last SMS to the customer did not arrive", "resent": "ana already sent this SMS again",
           "invalid": "This number is not a mobile we may text.", "reply": "Fault fixed",
           "held": "ana holds this ticket"},
}
TYPED = "Am verificat linia: routerul a fost înlocuit ieri, conexiunea e stabilă."


@pytest.fixture
def database_url(any_database_url):
    """The console's database: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    return any_database_url


def page_text(reply) -> str:
    return re.sub(r"\s+", " ", html.unescape(reply.get_data(as_text=True)))


def signed_in(app, name: str, lang: str = "ro"):
    """A client signed in as ``name``, its console in ``lang``."""
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    client.get(f"/console/language/{lang}")
    return client


def post(client, ticket_number: str, action: str, **form):
    token = csrf(client.get(f"/console/tickets/{ticket_number}"))
    return client.post(f"/console/tickets/{ticket_number}/{action}", data={"csrf_token": token, **form})


def kept_text(reply) -> str | None:
    """The text in the refusal's own note form, or None without one."""
    found = re.search(r'<textarea name="text" id="kept-text"[^>]*>([^<]*)</textarea>', reply.get_data(as_text=True))
    return html.unescape(found.group(1)) if found else None


def history(db, number: str) -> list[TicketEvent]:
    with db.session() as session:
        found = session.scalar(select(Ticket).where(Ticket.number == number))
        return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == found.id).order_by(TicketEvent.id)))


def outbox(db, number: str) -> list[SmsMessage]:
    with db.session() as session:
        found = session.scalar(select(Ticket).where(Ticket.number == number))
        return list(session.scalars(select(SmsMessage).where(SmsMessage.ticket_id == found.id).order_by(SmsMessage.id)))


# -- two operators on one ticket --------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_colleague_takes_the_ticket_while_you_type_a_resolution(app, db, clock, users, lang):
    """The race itself: ana's take holds the row lock while ion's resolve waits for it."""
    [number] = voicemail(app, db, clock)
    ion = signed_in(app, "ion", lang)
    token = csrf(ion.get(f"/console/tickets/{number}"))

    def ana_takes(session, found):
        casework.take(session, found, _user(session, "ana"), clock())

    reply = race(app, db, number, ana_takes, ion, f"/console/tickets/{number}/resolve",
                 {"csrf_token": token, "text": TYPED, "confirm": "1"})
    text = page_text(reply)
    assert reply.status_code == 409
    assert WORDS[lang]["taken"] in text and "(17.11.2026 10:00)" in text   # who, and when
    assert kept_text(reply) == TYPED and WORDS[lang]["kept"] in text and WORDS[lang]["as_note"] in text
    assert f"/console/tickets/{number}/resolve" not in text               # no longer ion's to resolve
    assert [e.kind for e in history(db, number)] == ["registered", "taken"]
    # What ion may still do: leave the text as an internal note for ana.
    assert post(ion, number, "note", text=kept_text(reply)).status_code == 303
    note = history(db, number)[-1]
    assert (note.kind, note.actor, note.detail) == ("note", "operator:ion", TYPED)
    assert ticket(db, number).status == "in_progress" and ticket(db, number).assignee.name == "ana"


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_colleague_resolves_first_and_your_resolution_is_kept(app, db, clock, users, lang):
    [number] = voicemail(app, db, clock)
    ion = signed_in(app, "ion", lang)
    token = csrf(ion.get(f"/console/tickets/{number}"))
    post(signed_in(app, "ana"), number, "resolve", text="Rezolvat.", confirm="1")
    reply = ion.post(f"/console/tickets/{number}/resolve", data={"csrf_token": token, "text": TYPED})  # the preview
    assert reply.status_code == 409 and WORDS[lang]["resolved"] in page_text(reply) and kept_text(reply) == TYPED
    assert [m.purpose for m in outbox(db, number)] == ["ticket_registered", "ticket_resolved#1"]


@pytest.mark.parametrize("action, form", [
    ("take", {}),
    ("progress", {"text": TYPED}),
    ("resolve", {"text": TYPED}),
    ("resolve", {"text": TYPED, "confirm": "1"}),
    ("reject", {"text": TYPED, "confirm": "1"}),
    ("extend", {"text": TYPED, "confirm": "1"}),
    ("reclassify", {"text": TYPED, "department": "payments", "confirm": "1"}),
])
def test_every_action_on_a_colleagues_ticket_is_refused_in_words_keeping_the_text(app, db, clock, as_user, action, form):
    [number] = voicemail(app, db, clock)
    ion = as_user("ion")
    token = csrf(ion.get(f"/console/tickets/{number}"))
    act(as_user("ana"), number, "take")
    reply = ion.post(f"/console/tickets/{number}/{action}", data={"csrf_token": token, **form})
    assert reply.status_code == 409 and WORDS["ro"]["taken"] in page_text(reply)
    assert kept_text(reply) == form.get("text")
    assert [e.kind for e in history(db, number)] == ["registered", "taken"]
    assert ticket(db, number).department == "technical" and len(outbox(db, number)) == 1


def test_a_colleague_may_add_a_note_to_a_ticket_they_do_not_hold(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    act(as_user("ana"), number, "take")
    ion = as_user("ion")
    page = page_text(ion.get(f"/console/tickets/{number}"))
    assert WORDS["ro"]["held"] in page and f"/console/tickets/{number}/note" in page
    assert act(ion, number, "note", text="Clientul a sunat din nou.").status_code == 303
    assert history(db, number)[-1].actor == "operator:ion"


def test_a_refusal_of_your_own_ticket_keeps_the_text_in_a_note_form(app, db, clock, as_user):
    """Extended once already: the extend form is gone, the reason typed in it is not."""
    [number] = voicemail(app, db, clock)
    ana = as_user("ana")
    token = csrf(ana.get(f"/console/tickets/{number}"))
    act(ana, number, "extend", text="Așteptăm echipamentul.", confirm="1")
    reply = ana.post(f"/console/tickets/{number}/extend", data={"csrf_token": token, "text": "Încă o dată.", "confirm": "1"})
    assert reply.status_code == 409 and "Termenul a fost deja prelungit" in page_text(reply)
    assert kept_text(reply) == "Încă o dată."


def test_an_empty_text_is_refused_and_the_rest_of_the_form_is_kept(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    reply = act(as_user("ana"), number, "reclassify", text=" ", department="payments")
    assert reply.status_code == 422
    assert re.search(r'<option value="payments" selected>', reply.get_data(as_text=True))


# -- an SMS that did not reach the customer -----------------------------------------------------

@pytest.fixture
def twilio_sends(app, twilio):
    """Send what the outbox holds through Twilio's stand-in, as ``ivr worker`` does; returns
    the number of messages sent."""
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2)
    dispatcher = Dispatcher(app.extensions["ivr.db"], gateway, FakeClock(datetime.now(timezone.utc)),
                            status_callback=BASE_URL + "/sms/status")
    return dispatcher.drain


def undelivered(client, twilio, index: int = -1, code: str = "30003") -> None:
    """Twilio's signed status callback: the ``index``-th SMS it was given did not arrive."""
    status = {"MessageSid": twilio.messages[index]["sid"], "MessageStatus": "undelivered", "ErrorCode": code}
    assert client.post("/sms/status", data=status, headers=sign(BASE_URL + "/sms/status", status)).status_code == 204


@pytest.fixture
def failed_registration(app, db, clock, client, twilio, twilio_sends):
    """A ticket whose registration SMS to +40722123456 was sent and came back undelivered (30003)."""
    [number] = voicemail(app, db, clock)
    assert twilio_sends() == 1
    undelivered(client, twilio)
    return number


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_failed_sms_is_flagged_previewed_and_sent_again_once(app, db, as_user, client, twilio, twilio_sends,
                                                               failed_registration, lang):
    number = failed_registration
    ana = as_user("ana")
    ana.get(f"/console/language/{lang}")
    page = page_text(ana.get(f"/console/tickets/{number}"))
    [failed] = outbox(db, number)
    assert WORDS[lang]["failed"] in page and "30003" in page
    preview = post(ana, number, "resend", message=str(failed.id))
    shown = page_text(preview)
    assert preview.status_code == 200 and 'id="preview"' in shown and failed.body in shown and "+40722123456" in shown
    assert len(outbox(db, number)) == 1  # nothing queued by the preview
    confirm = {"message": str(failed.id), "confirm": "1"}
    assert post(ana, number, "resend", **confirm).status_code == 303
    again = post(ana, number, "resend", **confirm)  # a second click, or a colleague
    assert again.status_code == 409 and WORDS[lang]["resent"] in page_text(again)
    messages = outbox(db, number)
    assert [(m.purpose, m.to, m.body) for m in messages[1:]] == [("ticket_registered-resend#1", "+40722123456", failed.body)]
    assert WORDS[lang]["failed"] not in page_text(ana.get(f"/console/tickets/{number}"))
    event = history(db, number)[-1]
    assert (event.kind, event.actor, event.data["purpose"], event.data["to"]) == (
        "sms_resent", "operator:ana", "ticket_registered-resend#1", "+40722123456")
    assert twilio_sends() == 1 and [m["to"] for m in twilio.messages] == ["+40722123456"] * 2


def test_a_resend_that_fails_again_is_resent_under_the_next_number(app, db, as_user, client, twilio, twilio_sends,
                                                                   failed_registration):
    number = failed_registration
    ana = as_user("ana")
    post(ana, number, "resend", message=str(outbox(db, number)[0].id), confirm="1")
    twilio_sends()
    undelivered(client, twilio)
    resent = outbox(db, number)[-1]
    assert post(ana, number, "resend", message=str(resent.id), confirm="1").status_code == 303
    assert outbox(db, number)[-1].purpose == "ticket_registered-resend#2"


@pytest.mark.parametrize("keep", [False, True])
def test_a_failed_sms_is_sent_to_another_number_the_operator_types(app, db, as_user, twilio, twilio_sends,
                                                                   failed_registration, keep):
    number = failed_registration
    ana = as_user("ana")
    failed = outbox(db, number)[0]
    form = {"message": str(failed.id), "number": "0733 555 111"} | ({"keep": "1"} if keep else {})
    shown = page_text(post(ana, number, "send_to", **form))
    assert "Către +40733555111" in shown and failed.body in shown
    assert post(ana, number, "send_to", **form, confirm="1").status_code == 303
    sent = outbox(db, number)[-1]
    assert (sent.purpose, sent.to, sent.body) == ("ticket_registered-resend#1", "+40733555111", failed.body)
    assert ticket(db, number).sms_to == ("+40733555111" if keep else "+40722123456")
    kinds = [e.kind for e in history(db, number)]
    assert kinds[-2:] == (["sms_number_changed", "sms_resent"] if keep else ["sms_status", "sms_resent"])
    # Later SMS go to the ticket's number: the typed one only when the operator asked.
    act(ana, number, "progress", text="Revenim.", confirm="1")
    assert outbox(db, number)[-1].to == ("+40733555111" if keep else "+40722123456")
    assert twilio_sends() == 2


@pytest.mark.parametrize("typed", ["+44 7700 900123", "021 589 4141", "12", "x" * 40])
def test_another_number_must_be_a_mobile_of_the_sms_countries(app, db, as_user, failed_registration, typed):
    """Abroad (SMS toll fraud), a landline, nonsense: refused in words, nothing queued."""
    number = failed_registration
    ana = as_user("ana")
    form = {"message": str(outbox(db, number)[0].id), "number": typed}
    preview = post(ana, number, "send_to", **form)
    assert preview.status_code == 422 and WORDS["ro"]["invalid"] in page_text(preview)
    confirmed = post(ana, number, "send_to", **form, confirm="1")
    assert confirmed.status_code == 409 and "(țări: RO)" in page_text(confirmed)
    assert len(outbox(db, number)) == 1 and ticket(db, number).sms_to == "+40722123456"


def test_a_delivered_sms_is_not_offered_again(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    ana = as_user("ana")
    assert "/resend" not in ana.get(f"/console/tickets/{number}").get_data(as_text=True)
    reply = post(ana, number, "resend", message=str(outbox(db, number)[0].id), confirm="1")
    assert reply.status_code == 409 and "nu a eșuat" in page_text(reply) and len(outbox(db, number)) == 1


def test_an_operator_cannot_resend_a_colleagues_sms(app, db, as_user, failed_registration):
    number = failed_registration
    act(as_user("ion"), number, "take")
    reply = post(as_user("ana"), number, "resend", message=str(outbox(db, number)[0].id), confirm="1")
    assert reply.status_code == 409 and "preluat de ion" in page_text(reply) and len(outbox(db, number)) == 1


# -- saved replies ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ro", "en"])
def test_saved_replies_are_titled_in_the_consoles_language_and_written_in_the_customers(app, db, clock, as_user, lang):
    [number] = voicemail(app, db, clock)  # a Romanian customer
    ana = as_user("ana")
    ana.get(f"/console/language/{lang}")
    page = ana.get(f"/console/tickets/{number}").get_data(as_text=True)
    option = re.search(r'<option value="fault_fixed" data-text="([^"]*)">([^<]*)</option>', page)
    assert option.group(2) == WORDS[lang]["reply"] and option.group(1).startswith("Echipa tehnica a remediat defectul")
    assert 'src="/static/ticket.js"' in page


def test_without_javascript_use_puts_the_saved_reply_in_the_form_to_edit(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    ana = as_user("ana")
    reply = post(ana, number, "progress", reply="waiting_for_parts", use_reply="1", text="")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 200 and 'id="preview"' not in text
    assert re.search(r'<textarea name="text" rows="2" maxlength="1000" required>Asteptam o piesa de schimb', text)
    assert len(outbox(db, number)) == 1  # nothing sent: the operator edits, then previews


def test_saved_replies_are_checked_naming_the_file_and_the_key(config_dir):
    folder = config_dir / "prompts" / "console"
    (folder / "replies_en.yaml").write_text(
        (folder / "replies_en.yaml").read_text().replace("for: [progress]", "for: [progres]", 1)
        .replace('  title: "Fault fixed"\n', "", 1) + "extra: {title: x, for: [resolve], text: y}\n")
    with pytest.raises(ConfigError) as error:
        load_saved_replies(config_dir / "prompts", ["ro", "en"])
    problems = "\n".join(error.value.problems)
    assert f"{folder / 'replies_en.yaml'}: waiting_for_parts.for[0]: 'progres' is not one of progress, resolve, reject" in problems
    assert f"{folder / 'replies_en.yaml'}: fault_fixed.title: must be a non-empty text" in problems
    assert f"{folder / 'replies_en.yaml'}: extra: unknown reply (not in replies_ro.yaml)" in problems


def test_without_a_replies_file_there_are_no_saved_replies(config_dir):
    for lang in ("ro", "en"):
        (config_dir / "prompts" / "console" / f"replies_{lang}.yaml").unlink()
    assert load_saved_replies(config_dir / "prompts", ["ro", "en"]) == {"ro": {}, "en": {}}
