"""benchmarks/menu.py's premises: its baseline checks the signature as the hotline does, and the
requests it loads the hotline with are answered with a menu, by no step that reads the database.
Its figures are printed by the benchmark, never asserted here."""

from __future__ import annotations

import sys

import pytest
from twilio.request_validator import RequestValidator

from conftest import BASE_URL, ROOT, sign

sys.path.insert(0, str(ROOT / "benchmarks"))
import menu as benchmark  # noqa: E402


@pytest.mark.parametrize("step", list(benchmark.STEPS))
def test_the_baseline_answers_only_signed_requests(step):
    path, form = benchmark.STEPS[step]
    client = benchmark.bare_app().test_client()
    signature = RequestValidator(benchmark.TOKEN).compute_signature(BASE_URL + path, form)
    reply = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert reply.status_code == 200 and reply.get_data(as_text=True) == benchmark.BARE_TWIML
    assert client.post(path, data={**form, "From": form["From"] + "0"}, headers={"X-Twilio-Signature": signature}).status_code == 403
    assert client.post(path, data=form).status_code == 403


@pytest.mark.parametrize("step", list(benchmark.STEPS))
def test_the_hotline_answers_the_benchmarks_requests_with_the_menu_without_a_lookup(app, client, step, monkeypatch):
    from ivr.voice import status

    looked_up = []
    monkeypatch.setattr(status, "_callers_tickets", lambda number: looked_up.append(number))
    path, form = benchmark.STEPS[step]
    reply = client.post(path, data=form, headers=sign(BASE_URL + path, form))
    assert reply.status_code == 200 and "<Gather" in reply.get_data(as_text=True)
    # A landline's complaints are not read out: no database on the way. A mobile's are looked up.
    assert looked_up == (["+40722123456"] if "mobile" in step else [])
    # The baseline answers a TwiML of the menu's size, so that both write as much.
    assert 0.5 < len(benchmark.BARE_TWIML) / len(reply.get_data(as_text=True)) < 2


def test_the_menu_step_is_at_the_url_the_arrivals_menu_gives(client):
    """The step measured is the one Twilio would request next for this caller, offers and all."""
    import xml.etree.ElementTree as ET

    path, form = benchmark.STEPS["incoming"]
    arrival = ET.fromstring(client.post(path, data=form, headers=sign(BASE_URL + path, form)).get_data())
    assert arrival.find("Gather").get("action") == benchmark.STEPS["menu (wrong key)"][0]


@pytest.mark.parametrize("step", list(benchmark.STEPS))
def test_each_request_is_a_call_of_its_own_from_a_caller_of_the_same_kind(step):
    """So that nothing kept per call or per number (the call log's row, a parsed number) is found
    again by the next request, as it would not be in an outage's thousands of calls."""
    from ivr.phone import caller_from
    from ivr.twilio_auth import _CALL_SID

    _, form = benchmark.STEPS[step]
    calls = benchmark.calls_like(form, 1, 5000)
    assert len({c["CallSid"] for c in calls}) == len({c["From"] for c in calls}) == 5000
    template = caller_from(form["From"], "RO")
    for call in calls[::97]:
        caller = caller_from(call["From"], "RO")
        assert caller.e164 == call["From"] and caller.can_receive_sms == template.can_receive_sms
        assert _CALL_SID.fullmatch(call["CallSid"]) and {**call, "CallSid": "", "From": ""} == {**form, "CallSid": "", "From": ""}
