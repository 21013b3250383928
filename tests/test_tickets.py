"""Voicemails become exactly one ticket each, with number, deadline, history and a queued SMS."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from ivr.models import SmsMessage, Ticket, TicketEvent

from conftest import CALL_SID, bucharest

RECORDING = {
    "RecordingSid": "RE" + "a" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "a" * 32,
    "RecordingDuration": "31",
}


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


def count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def only_ticket(db) -> Ticket:
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        ticket.events, ticket.messages  # load while the session is open
        return ticket


def recorded(twilio_post, path="/voice/recorded/technical?lang=ro&sms=%2B40722123456", **extra):
    return twilio_post(path, **{**RECORDING, "Digits": "#", **extra})


def status_callback(twilio_post, status="completed", path="/voice/recording-status/technical?lang=ro&sms=%2B40722123456", **extra):
    return twilio_post(path, **{**RECORDING, "RecordingStatus": status, **extra})


def test_record_action_registers_a_ticket_and_queues_its_sms(twilio_post, db, clock):
    clock.now = bucharest(2026, 11, 27, 22, 30)
    reply = recorded(twilio_post)
    body = reply.get_data(as_text=True)
    assert "Reclamația a fost înregistrată cu numărul R C, 2 0 2 6, 0 0 0 0 0 1." in body
    assert "Termenul de soluționare este 4 decembrie 2026." in body
    ticket = only_ticket(db)
    assert ticket.number == "RC-2026-000001"
    assert (ticket.department, ticket.language, ticket.caller, ticket.sms_to) == ("technical", "ro", "+40722123456", "+40722123456")
    assert ticket.call_sid == CALL_SID and ticket.recording_sid == RECORDING["RecordingSid"]
    assert ticket.recording_url == RECORDING["RecordingUrl"] and ticket.recording_duration == 31
    assert ticket.registered_at == datetime(2026, 11, 27, 20, 30, tzinfo=timezone.utc)
    assert ticket.deadline_on == date(2026, 12, 4) and ticket.deadline_rule == "fault"
    assert ticket.status == "registered" and not ticket.extended
    assert [e.kind for e in ticket.events] == ["registered"]
    [sms] = ticket.messages
    assert sms.status == "queued" and sms.to == "+40722123456" and sms.sender == "+40312345678"
    assert sms.body == "ProNET Solutii IT: reclamatia dvs. a fost inregistrata cu nr. RC-2026-000001. Termen de solutionare: 04.12.2026."


def test_english_caller_gets_english_words(twilio_post, db, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    # A caller from abroad who keyed in a Romanian mobile (only those are texted).
    body = recorded(twilio_post, "/voice/recorded/payments?lang=en&sms=%2B40722123456", From="+447911123456").get_data(as_text=True)
    assert "Your complaint is registered with number R C, 2 0 2 6, 0 0 0 0 0 1. It will be resolved by 24 December 2026." in body
    [sms] = only_ticket(db).messages
    assert sms.body == "ProNET Solutii IT: your complaint is registered as no. RC-2026-000001. Resolution deadline: 24.12.2026."


def test_repeated_action_and_callback_make_one_ticket_and_one_sms(twilio_post, db):
    first = recorded(twilio_post).get_data(as_text=True)
    assert status_callback(twilio_post).status_code == 204
    again = recorded(twilio_post).get_data(as_text=True)
    assert status_callback(twilio_post).status_code == 204
    assert first == again  # the caller hears the same number
    assert count(db, Ticket) == 1 and count(db, SmsMessage) == 1


def test_callback_first_then_action(twilio_post, db):
    assert status_callback(twilio_post).status_code == 204
    assert "0 0 0 0 0 1" in recorded(twilio_post).get_data(as_text=True)
    ticket = only_ticket(db)
    assert ticket.recording_status == "completed"
    assert count(db, Ticket) == 1 and count(db, SmsMessage) == 1
    # The action that came second wrote nothing and took no number: the next call's is 2.
    assert "0 0 0 0 0 2" in recorded(twilio_post, CallSid="CA" + "9" * 32).get_data(as_text=True)


def test_concurrent_action_and_callbacks_make_one_ticket(app, db):
    """Action and callback posted together, several times, from parallel threads."""
    from conftest import sign

    def post(path: str, fields: dict) -> None:
        data = {"CallSid": CALL_SID, "From": "+40722123456", **RECORDING, **fields}
        app.test_client().post(path, data=data, headers=sign("http://localhost" + path, data))

    jobs = [("/voice/recorded/technical?lang=ro&sms=%2B40722123456", {"Digits": "#"}),
            ("/voice/recording-status/technical?lang=ro&sms=%2B40722123456", {"RecordingStatus": "completed"})] * 4
    threads = [threading.Thread(target=post, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(db, Ticket) == 1 and count(db, SmsMessage) == 1
    assert only_ticket(db).number == "RC-2026-000001"


def test_absent_recording_alone_registers_nothing(twilio_post, db):
    assert status_callback(twilio_post, "absent").status_code == 204
    assert count(db, Ticket) == 0


def test_failed_recording_still_registers_the_complaint(twilio_post, db):
    assert status_callback(twilio_post, "failed", RecordingUrl="").status_code == 204
    ticket = only_ticket(db)
    assert ticket.recording_status == "failed"
    assert [e.kind for e in ticket.events] == ["registered", "recording"]
    assert ticket.events[-1].data["status"] == "failed"
    assert len(ticket.messages) == 1


def test_failed_callback_after_the_action_is_recorded_on_the_ticket(twilio_post, db):
    recorded(twilio_post)
    status_callback(twilio_post, "failed")
    ticket = only_ticket(db)
    assert ticket.recording_status == "failed"
    assert any(e.kind == "recording" and e.data["status"] == "failed" for e in ticket.events)


def test_empty_first_take_does_not_mark_the_spoken_second_take(twilio_post, db):
    recorded(twilio_post)
    status_callback(twilio_post, "absent", RecordingSid="RE" + "b" * 32, RecordingUrl="")
    status_callback(twilio_post)
    assert only_ticket(db).recording_status == "completed"


def test_caller_without_sms_number_gets_a_ticket_but_no_sms(twilio_post, db):
    recorded(twilio_post, "/voice/recorded/payments?lang=ro&sms=", caller="anonymous")
    ticket = only_ticket(db)
    assert ticket.caller is None and ticket.sms_to is None and ticket.messages == []


def test_forged_sms_number_in_the_url_is_ignored(twilio_post, db):
    recorded(twilio_post, "/voice/recorded/payments?lang=ro&sms=%2B40215551234", caller="anonymous")
    assert only_ticket(db).sms_to is None


def test_numbers_follow_each_other_and_restart_each_year(twilio_post, db, clock):
    for i in range(3):
        recorded(twilio_post, CallSid=f"CA{i:032d}")
    clock.now = datetime(2026, 12, 31, 22, 30, tzinfo=timezone.utc)  # 00:30 on 1 January in Bucharest
    recorded(twilio_post, CallSid="CA" + "9" * 32)
    with db.session() as session:
        numbers = session.scalars(select(Ticket.number).order_by(Ticket.id)).all()
    assert numbers == ["RC-2026-000001", "RC-2026-000002", "RC-2026-000003", "RC-2027-000001"]


def test_registration_date_is_the_hotlines_date(twilio_post, db, clock):
    clock.now = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)  # already 27 November in Bucharest
    recorded(twilio_post)
    assert only_ticket(db).deadline_on == date(2026, 12, 4)


def test_history_is_append_only_events(twilio_post, db):
    recorded(twilio_post)
    status_callback(twilio_post, "failed")
    with db.session() as session:
        kinds = session.scalars(select(TicketEvent.kind).order_by(TicketEvent.id)).all()
    assert kinds == ["registered", "recording"]
