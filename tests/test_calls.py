"""Whole calls, first ring to hang-up, through the WSGI stack with signed requests."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr import create_app
from ivr.models import CallRecord
from ivr.states import CallOutcome
from ivr.softphone import Call, ScriptedCaller, WsgiTransport

from conftest import AUTH_TOKEN, BASE_URL, bucharest, edit

LANDLINE = "+40215551234"


WHISPER = ["Apel pentru Departamentul Tehnic.", "Apăsați o tastă pentru a prelua apelul."] * 2


def test_open_department_dials_operators_with_caller_id_and_whisper(place_call):
    caller, log = place_call(keys=["1"], dials=["completed"])
    assert log.dials == [["number:+40215894141"]]
    assert caller.operator_heard == WHISPER
    assert "Vă facem legătura cu Departamentul Tehnic" in caller.transcript
    assert log.recordings == [] and log.ended_by == "hangup"
    dial_request = next(data for url, data, _ in log.requests if "dial-status" in url)
    assert dial_request["DialCallStatus"] == "completed" and dial_request["DialBridged"] == "true"


def test_an_operators_own_voicemail_does_not_take_the_complaint(app, place_call, db):
    """The operator's phone diverts to its voicemail, which picks up but presses no key: the
    caller is not put through to a mailbox nobody reads, but leaves the complaint as a ticket."""
    caller, log = place_call(keys=["1"], dials=["voicemail"], records=[30])
    assert caller.operator_heard == WHISPER  # the mailbox recorded the whisper, and nothing else
    dial_request = next(data for url, data, _ in log.requests if "dial-status" in url)
    assert dial_request["DialCallStatus"] == "completed" and dial_request["DialBridged"] == "false"
    assert "Operatorii de la Departamentul Tehnic nu pot răspunde acum, dar vă înregistrăm reclamația." in caller.heard
    assert "Reclamația a fost înregistrată cu numărul" in caller.transcript and len(log.recordings) == 1
    assert app.extensions["ivr.call_events"].flush()
    with db.session() as session:
        call = session.scalar(select(CallRecord))
        assert call.outcome == CallOutcome.VOICEMAIL and call.answered_at is None


def test_without_the_key_the_whisper_only_tells_the_department(config_dir, app_config):
    """operator_presses_key: false, for operators whose phones have no voicemail of their own."""
    edit(config_dir / "routing.yaml", "  dial_timeout:", "  operator_presses_key: false\n  dial_timeout:")
    ui = ScriptedCaller(["1"], ["completed"])
    log = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(create_app(app_config)), ui).run()
    assert ui.operator_heard == ["Apel pentru Departamentul Tehnic."] and log.ended_by == "hangup"


@pytest.mark.parametrize("outcome", ["busy", "no-answer", "failed", "canceled"])
def test_unanswered_dial_takes_a_voicemail(place_call, outcome):
    caller, log = place_call(keys=["3"], dials=[outcome], records=[25])
    assert "Operatorii de la Departamentul Relații Clienți nu pot răspunde acum, dar vă înregistrăm reclamația." in caller.heard
    assert len(log.recordings) == 1
    assert "Reclamația a fost înregistrată cu numărul" in caller.transcript
    assert log.ended_by == "hangup"


def test_after_hours_the_caller_hears_once_that_all_are_closed_and_leaves_a_complaint(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 22, 15)
    caller, log = place_call(keys=["1"], records=[40])
    assert log.dials == []
    closed = "Operatorii nu sunt disponibili acum, dar vă înregistrăm reclamația."
    assert caller.heard.index(closed) < caller.heard.index("Pentru Departamentul Tehnic, apăsați 1.")
    assert caller.heard.count(closed) == 1 and "Operatorii de la" not in caller.transcript
    assert caller.heard[caller.heard.index(closed) + 4] == "După semnal, spuneți numele, adresa și problema, apoi apăsați diez."
    assert len(log.recordings) == 1


def test_a_department_closed_while_others_are_open_tells_its_hours(place_call, clock):
    clock.now = bucharest(2026, 11, 28, 11, 0)  # Saturday: payments is closed, technical answers
    caller, _ = place_call(keys=["2"], records=[10])
    assert "Operatorii nu sunt disponibili acum" not in caller.transcript
    assert ("Operatorii de la Departamentul Plăți răspund de luni până vineri, între orele 09:00 și 17:30. "
            "Vă înregistrăm reclamația acum.") in caller.heard


def test_payments_is_closed_on_saturday_and_on_public_holidays(place_call, clock):
    for closed_at, mobile in ((bucharest(2026, 11, 28, 11, 0), "+40722000001"), (bucharest(2026, 12, 1, 11, 0), "+40722000002")):
        clock.now = closed_at  # two callers: the second call of one would first hear of the complaint it left
        caller, log = place_call(caller=mobile, keys=["2"], records=[10])
        assert log.dials == [], closed_at
        assert "de luni până vineri, între orele 09:00 și 17:30" in caller.transcript
    # On a Tuesday morning the hours alone would say it should answer: the holiday is said first.
    assert any(line.startswith("Astăzi este zi de sărbătoare legală, iar operatorii de la Departamentul Plăți nu răspund.")
               for line in caller.heard)


def test_technical_stays_open_on_public_holidays(place_call, clock):
    clock.now = bucharest(2026, 12, 25, 11, 0)
    _, log = place_call(keys=["1"], dials=["completed"])
    assert log.dials == [["number:+40215894141"]]


def test_three_misses_reach_the_fallback_department(place_call):
    caller, log = place_call(keys=["7", None, "say: vremea de maine"], dials=["completed"])
    assert caller.transcript.count("Nu am înțeles opțiunea dumneavoastră.") == 2
    assert "Vă transferăm la Departamentul Relații Clienți." in caller.heard
    assert "Vă facem legătura cu Departamentul Relații Clienți." not in caller.heard  # told once, not twice
    assert log.dials == [["number:+40215894141"]]


def test_menu_by_speech(place_call):
    _, log = place_call(keys=["say: am o problemă cu factura la plăți"], dials=["completed"])
    assert any("dial-status/payments" in url for url, _, _ in log.requests)


def test_foreign_caller_hears_english_and_can_switch_to_romanian(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    caller, _ = place_call(caller="+4915112345678", keys=["8", "1"], records=[12])
    assert caller.heard[0] == "Hello, you have reached ProNET Soluții IT."
    assert "Pentru limba română, apăsați 8." in caller.heard
    assert caller.transcript.count("Operatorii nu sunt disponibili acum") == 1  # said again in the language chosen
    assert caller.transcript.count("Our lines are closed now") == 1
    assert "După semnal, spuneți numele" in caller.transcript


def test_landline_caller_is_asked_for_a_mobile_number(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    caller, log = place_call(caller=LANDLINE, keys=["1", "0722 123 456#".replace(" ", "")], records=[30])
    assert any("introduceți un număr de mobil din România" in line for line in caller.heard)
    recorded = next(url for url, _, _ in log.requests if "/voice/recorded/" in url)
    assert "sms=%2B40722123456" in recorded


def test_invalid_number_is_asked_again_once_then_the_call_goes_on(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    caller, log = place_call(caller="anonymous", keys=["1", "12345#", "0215551234#"], records=[30])
    assert caller.transcript.count("Numărul introdus nu este un număr de mobil valid.") == 2
    assert "Continuăm fără SMS." in caller.heard
    recorded = next(url for url, _, _ in log.requests if "/voice/recorded/" in url)
    assert "sms=&" in recorded or recorded.endswith("sms=")
    assert len(log.recordings) == 1


def test_keying_nothing_goes_on_without_sms(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    caller, log = place_call(caller="restricted", keys=["1", None], records=[30])
    assert "Continuăm fără SMS." in caller.heard
    assert len(log.recordings) == 1


def test_withheld_caller_is_dialled_without_caller_id(place_call):
    _, log = place_call(caller="anonymous", keys=["1"], dials=["completed"])
    assert log.dials


def test_nothing_recorded_asks_once_more_then_says_goodbye(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    caller, log = place_call(keys=["1"], records=[0, 0])
    assert caller.transcript.count("Nu am auzit niciun mesaj.") == 2
    assert caller.heard[-1] == "Vă mulțumim că ați sunat la ProNET Soluții IT. La revedere."
    assert log.ended_by == "hangup" and log.recordings == []


def test_second_take_is_accepted(place_call, clock):
    clock.now = bucharest(2026, 11, 24, 23, 0)
    caller, log = place_call(keys=["1"], records=[0, 15])
    assert len(log.recordings) == 1
    assert "Reclamația a fost înregistrată" in caller.transcript


def test_operators_as_client_and_sip(config_dir, app_config):
    edit(config_dir / "routing.yaml", 'operators: ["+40215894141"]             #',
         'operators: ["client:ana", "sip:tehnic@pbx.pronetit.ro", "+40215894141"] #')
    ui = ScriptedCaller(["1"], ["completed"])
    log = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(create_app(app_config)), ui).run()
    assert log.dials == [["client:ana", "sip:sip:tehnic@pbx.pronetit.ro", "number:+40215894141"]]
    assert ui.operator_heard == WHISPER


def test_open_department_without_operators_takes_a_voicemail(config_dir, app_config):
    edit(config_dir / "routing.yaml", 'operators: ["+40215894141"]             #', "operators: []  #")
    ui = ScriptedCaller(["1"], [], [20])
    log = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(create_app(app_config)), ui).run()
    assert log.dials == [] and len(log.recordings) == 1


def test_an_unexpected_error_is_an_apology_and_a_voicemail(app_config, clock):
    failures = ["clock source unavailable"]

    def flaky_clock():
        if failures:
            raise RuntimeError(failures.pop())
        return clock()

    app_config["CLOCK"] = flaky_clock
    ui = ScriptedCaller(["1"], [], [20])
    log = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(create_app(app_config)), ui).run()
    assert all(status in (200, 204) for _, _, status in log.requests)
    assert "Ne cerem scuze, a apărut o problemă tehnică." in ui.transcript
    assert len(log.recordings) == 1
    assert "Reclamația a fost înregistrată cu numărul R C, 2 0 2 6, 0 0 0 0 0 1." in ui.transcript


def test_a_whisper_left_without_a_key_hangs_up_the_operators_leg(twilio_post):
    """Twilio posts the whisper's <Gather> action only with a key; should it come empty, the
    leg is not put through."""
    leg = {"CallSid": "CA" + "7" * 32, "ParentCallSid": "CA" + "0" * 32, "To": "+40215894141"}
    assert "<Hangup" in twilio_post(f"/voice/whisper-accepted/technical?parent={'CA' + '0' * 32}", **leg).get_data(as_text=True)
    taken = twilio_post(f"/voice/whisper-accepted/technical?parent={'CA' + '0' * 32}", **leg, Digits="1")
    assert taken.status_code == 200 and "<Hangup" not in taken.get_data(as_text=True)
