"""The greeting and the menu are built once per configuration (ivr.voice.prebuilt): a kept menu
must never reach a caller it was not built for, at another time, under another mount point, or
after the configuration changed."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.twiml import Rendered, render

from conftest import BASE_URL, CALL_SID, bucharest, sign

IN_HOURS, AFTER_HOURS = bucharest(2026, 11, 17, 10, 0), bucharest(2026, 11, 17, 23, 0)
# (moment, path, caller, keys): every offer of the menu, in and out of hours, in both languages.
REQUESTS = [
    (moment, path, caller, digits)
    for moment in (IN_HOURS, AFTER_HOURS)
    for caller in ("+40722123456", "+40215551234", "anonymous", "+447911123456", "+4915112345678")
    for path, digits in [
        ("/voice/incoming", None), ("/voice/menu-start?lang=ro", None), ("/voice/menu-start?lang=en", None),
        ("/voice/menu?lang=ro&attempt=1", "7"), ("/voice/menu?lang=en&attempt=2&closed=1&offers=s", "7"),
        ("/voice/menu?lang=ro&attempt=2&offers=l", "9"), ("/voice/menu?lang=en&attempt=1&closed=1&offers=sl", "8"),
    ]
]


def answer(client, clock, moment, path, caller, digits, mount: str = "") -> str:
    clock.now = moment
    data = {"CallSid": CALL_SID, "From": caller, "To": "+40215894141", **({"Digits": digits} if digits else {})}
    reply = client.post(path, data=data, headers=sign(BASE_URL + mount + path, data), base_url=BASE_URL + mount)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return reply.get_data(as_text=True)


def test_a_kept_menu_is_the_menu_built_afresh_whatever_came_before(app, client, clock):
    afresh = []
    for request in REQUESTS:
        app.extensions.pop("ivr.prebuilt_verbs", None)  # nothing kept: built for this request alone
        afresh.append(answer(client, clock, *request))
    # The requests differ (a menu step by its URL's offers, the others by the caller too): the comparison means something.
    assert len(set(afresh)) > len(REQUESTS) / 3
    for order in (REQUESTS, REQUESTS[::-1]):  # whatever was kept before
        assert [answer(client, clock, *request) for request in order] == (afresh if order is REQUESTS else afresh[::-1])


def test_all_closed_is_said_after_hours_only_although_the_menu_is_kept(client, clock):
    closed = answer(client, clock, AFTER_HOURS, "/voice/incoming", "+40215551234", None)
    open_ = answer(client, clock, IN_HOURS, "/voice/incoming", "+40215551234", None)
    assert "Operatorii nu sunt disponibili acum" in closed and 'action="/voice/menu?lang=ro&amp;attempt=1&amp;closed=1&amp;offers=s"' in closed
    assert "Operatorii nu sunt disponibili acum" not in open_ and 'action="/voice/menu?lang=ro&amp;attempt=1&amp;offers=s"' in open_


def test_all_closed_changes_on_the_minute_the_last_department_closes(client, clock):
    """Technical and customer relations close at 21:00 (payments at 17:30): decided per minute."""
    from datetime import timedelta

    closing = bucharest(2026, 11, 17, 21, 0)
    for moment, closed in [(closing - timedelta(seconds=1), False), (closing, True), (closing - timedelta(minutes=1), False),
                           (closing + timedelta(seconds=59), True), (closing + timedelta(days=1, seconds=-30), False)]:
        said = answer(client, clock, moment, "/voice/menu-start?lang=ro", "+40215551234", None)
        assert ("Operatorii nu sunt disponibili acum" in said) is closed, moment


def test_each_mount_point_has_its_own_urls(client, clock):
    """Behind a proxy that mounts the hotline under a prefix, url_for's URLs start with it."""
    mounted = answer(client, clock, IN_HOURS, "/voice/incoming", "+40215551234", None, mount="/hotline")
    plain = answer(client, clock, IN_HOURS, "/voice/incoming", "+40215551234", None)
    assert 'action="/hotline/voice/menu?lang=ro&amp;attempt=1&amp;offers=s"' in mounted
    assert 'action="/voice/menu?lang=ro&amp;attempt=1&amp;offers=s"' in plain and "/hotline/" not in plain


def test_a_new_configuration_is_heard_at_once(app, client, clock, config_dir):
    from ivr.settings import load_hotline

    from conftest import edit

    before = answer(client, clock, IN_HOURS, "/voice/incoming", "+40215551234", None)
    edit(config_dir / "routing.yaml", 'company: "ProNET Soluții IT"', 'company: "ProNET Telecom"')
    edit(config_dir / "routing.yaml", 'ro: "Departamentul Tehnic"', 'ro: "Serviciul Tehnic"')
    app.extensions["ivr.hotline"] = load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    after = answer(client, clock, IN_HOURS, "/voice/incoming", "+40215551234", None)
    assert "ProNET Soluții IT" in before and "Departamentul Tehnic" in before
    assert "ProNET Telecom" in after and "Pentru Serviciul Tehnic, apăsați 1." in after
    assert "Departamentul Tehnic" not in after and "ProNET Soluții IT" not in after


def test_a_rendered_verb_reads_as_the_verb_itself():
    def menu(response: VoiceResponse, rendered: bool) -> VoiceResponse:
        gather = Gather(input="dtmf speech", action="/voice/menu?lang=ro&attempt=1", hints="plăți, \"cont\" & <ofertă>")
        gather.say("Pentru Departamentul Plăți, apăsați 2.", voice="Polly.Carmen", language="ro-RO")
        redirect = VoiceResponse().redirect("/voice/menu?lang=ro&attempt=1", method="POST")
        for verb in (gather, redirect):
            response.append(Rendered(verb) if rendered else verb)
        return response

    plain = VoiceResponse()
    plain.say("Bună ziua & bine ați venit")
    expected = str(menu(plain, rendered=False))
    fast = VoiceResponse()
    fast.say("Bună ziua & bine ați venit")
    fast = menu(fast, rendered=True)
    assert render(fast) == expected and str(fast) == expected
    assert render(VoiceResponse()) == str(VoiceResponse())
