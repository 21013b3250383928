"""Twilio calls the SMS status back at once: a status that reaches /sms/status before the
dispatcher has recorded the message's SID is kept, and applied once the SID is recorded, so an
"undelivered" still offers the operator a resend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.models import SmsEarlyStatus, SmsMessage, TicketEvent
from ivr.sms.dispatcher import Dispatcher
from ivr.sms.gateway import OutgoingSms, SentSms, TwilioGateway

from conftest import BASE_URL, sign


class CallsBackBeforeAnswering:
    """Twilio's Messages API, whose status callback for each SMS it accepts reaches the
    hotline before its answer to the send reaches the dispatcher."""

    def __init__(self, gateway: TwilioGateway, client, status: str, error_code: str = "") -> None:
        self.gateway, self.client, self.status, self.error_code = gateway, client, status, error_code
        self.answers: list[int] = []

    def send(self, sms: OutgoingSms) -> SentSms:
        sent = self.gateway.send(sms)
        data = {"MessageSid": sent.sid, "MessageStatus": self.status, "ErrorCode": self.error_code}
        self.answers.append(self.client.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data)).status_code)
        return sent

    def find_sent(self, *args, **kwargs) -> SentSms | None:
        return self.gateway.find_sent(*args, **kwargs)


@pytest.fixture
def early_twilio(app, twilio):
    """A gateway whose status callbacks ("undelivered", 30003) come before its answers."""
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2)
    return CallsBackBeforeAnswering(gateway, app.test_client(), "undelivered", "30003")


def voicemail_sms(place_call, db) -> int:
    place_call(keys=["2"], records=[30])
    with db.session() as session:
        return session.scalar(select(SmsMessage.id))


def test_an_undelivered_status_that_came_before_the_sid_is_applied_once_it_is_recorded(
    app, db, place_call, early_twilio, clock, as_user,
):
    sms_id = voicemail_sms(place_call, db)
    Dispatcher(db, early_twilio, clock).drain()
    assert early_twilio.answers == [204]
    with db.session() as session:
        message = session.get(SmsMessage, sms_id)
        assert (message.status, message.error_code) == ("undelivered", 30003)
        statuses = session.scalars(select(TicketEvent.data).where(TicketEvent.kind == "sms_status")).all()
        assert [data["status"] for data in statuses] == ["undelivered"]
        assert session.scalar(select(func.count()).select_from(SmsEarlyStatus)) == 0
        number = message.ticket.number
    page = as_user("maria").get(f"/console/tickets/{number}").get_data(as_text=True)
    assert "nelivrat" in page


def test_an_early_status_committed_after_the_batch_is_applied_by_the_next_pass(app, db, place_call, twilio, clock):
    """The callback's transaction looked for the SID while the batch's recording was still
    uncommitted, and kept its status only after that recording had looked for early ones."""
    sms_id = voicemail_sms(place_call, db)
    dispatcher = Dispatcher(db, TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url), clock)
    dispatcher.drain()
    with db.session() as session, session.begin():
        sid = session.get(SmsMessage, sms_id).twilio_sid
        session.add(SmsEarlyStatus(message_sid=sid, status="delivered", error_code=None, received_at=clock()))
    assert dispatcher.run_once() == 0
    with db.session() as session:
        assert session.get(SmsMessage, sms_id).status == "delivered"
        assert session.scalar(select(func.count()).select_from(SmsEarlyStatus)) == 0


def test_a_status_whose_sms_is_never_recorded_is_forgotten_after_two_days(app, db, twilio, clock):
    client = app.test_client()
    data = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered"}
    assert client.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data)).status_code == 204
    dispatcher = Dispatcher(db, TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url), clock)
    dispatcher.run_once()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SmsEarlyStatus)) == 1
    clock.now += timedelta(days=2, minutes=1)
    dispatcher.run_once()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SmsEarlyStatus)) == 0


def test_a_status_twilio_never_sends_is_not_kept(app, db):
    client = app.test_client()
    data = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "bogus"}
    assert client.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data)).status_code == 204
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SmsEarlyStatus)) == 0
