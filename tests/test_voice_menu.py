"""The greeting and department menu, as TwiML: keys, speech, language, wrong and missing input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest


def twiml(reply) -> ET.Element:
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return ET.fromstring(reply.get_data(as_text=True))


def said(document: ET.Element) -> str:
    return " ".join((e.text or "") for e in document.iter("Say"))


def test_greeting_then_menu_is_the_first_gather(twilio_post):
    doc = twiml(twilio_post("/voice/incoming"))
    verbs = [v.tag for v in doc]
    assert verbs[:2] == ["Say", "Say"] and verbs[2] == "Gather"
    greeting, notice = doc[0].text, doc[1].text
    assert "ProNET Soluții IT" in greeting
    assert notice == "Apelul este înregistrat."
    gather = doc.find("Gather")
    assert gather.get("input") == "dtmf speech" and gather.get("numDigits") == "1"
    assert gather.get("language") == "ro-RO"
    options = [s.text for s in gather.findall("Say")]
    assert options == [
        "Pentru Departamentul Tehnic, apăsați 1.", "Pentru Departamentul Plăți, apăsați 2.",
        "Pentru Departamentul Relații Clienți, apăsați 3.",
    ]  # a Romanian mobile: no language switch, and its complaints are found by its number
    assert gather.findall("Say")[0].get("voice") == "Polly.Carmen"


@pytest.mark.parametrize("caller", ["anonymous", "+4915112345678"])
def test_the_language_switch_is_offered_to_withheld_and_foreign_numbers(twilio_post, caller):
    gather = twiml(twilio_post("/voice/incoming", caller=caller)).find("Gather")
    offers = [(s.text, s.get("voice")) for s in gather.findall("Say")][3:]
    if caller == "anonymous":
        assert offers == [("Pentru stadiul unei reclamații, apăsați 0.", "Polly.Carmen"), ("For English, press 9.", "Polly.Amy")]
    else:  # a foreign mobile hears English, and may have complaints found by its number
        assert offers == [("Pentru limba română, apăsați 8.", "Polly.Carmen")]


def test_a_romanian_landline_may_key_a_complaint_in_but_is_not_offered_a_language(twilio_post):
    gather = twiml(twilio_post("/voice/incoming", caller="+40215551234")).find("Gather")
    assert [s.text for s in gather.findall("Say")][3:] == ["Pentru stadiul unei reclamații, apăsați 0."]


@pytest.mark.parametrize("caller, lang, offers", [
    ("+40722123456", "ro", ""), ("+4915112345678", "en", "&offers=l"), ("+447911123456", "en", "&offers=l"),
    ("anonymous", "ro", "&offers=sl"), ("", "ro", "&offers=sl"),
])
def test_language_follows_the_callers_country(twilio_post, caller, lang, offers):
    doc = twiml(twilio_post("/voice/incoming", caller=caller))
    assert doc.find("Gather").get("action") == f"/voice/menu?lang={lang}&attempt=1{offers}"


@pytest.mark.parametrize("caller", ["+40215551234", "anonymous", "+447911123456", "+40722123456"])
def test_a_wrong_key_brings_the_menu_again_with_the_same_offers(twilio_post, caller):
    """The menu's URL carries the offers made to the caller (the status key, the other
    language) to the next step, which does not read the caller's number again."""
    first = twiml(twilio_post("/voice/incoming", caller=caller)).find("Gather")
    again = twiml(twilio_post(first.get("action"), caller=caller, Digits="7")).find("Gather")
    assert said(again) == said(first)
    assert again.get("action") == first.get("action").replace("attempt=1", "attempt=2")


def test_a_key_switches_language_without_counting_a_miss(twilio_post):
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=2&offers=sl", caller="anonymous", Digits="9"))
    gather = doc.find("Gather")
    assert gather.get("action") == "/voice/menu?lang=en&attempt=2&offers=sl"
    assert "Technical support" in said(gather)
    assert "Pentru limba română, apăsați 8." in said(gather)


@pytest.mark.parametrize("digits, department", [("1", "technical"), ("2", "payments"), ("3", "customer_relations")])
def test_key_chooses_department(twilio_post, digits, department):
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", Digits=digits))
    assert doc.find("Dial").get("action") == f"/voice/dial-status/{department}?lang=ro"


@pytest.mark.parametrize("speech, department", [
    ("Tehnic", "technical"), ("plăți vă rog", "payments"), ("plati", "payments"), ("relatii clienti", "customer_relations"),
    ("mi s-a oprit netul", "technical"), ("îmi cade încontinuu conexiunea", "technical"), ("vreau să plătesc", "payments"),
    ("am o întrebare despre facturi", "payments"), ("contul meu", "customer_relations"),
])
def test_speech_chooses_department(twilio_post, speech, department):
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", SpeechResult=speech))
    assert doc.find("Dial").get("action") == f"/voice/dial-status/{department}?lang=ro"


def test_a_keyword_inside_another_word_chooses_nothing(twilio_post):
    """"cont" (account) is in "încontinuu" (all the time) and "discontinuu": neither is a word
    about the account, so the caller is asked again rather than sent to customer relations."""
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", SpeechResult="sună discontinuu, încontinuu"))
    assert doc.find("Dial") is None and doc.find("Gather").get("action").startswith("/voice/menu?lang=ro&attempt=2")


@pytest.mark.parametrize("lang, speech, department", [
    ("ro", "doi", "payments"), ("ro", "Două.", "payments"), ("ro", "tasta 2", "payments"), ("ro", "unu", "technical"),
    ("ro", "apăs trei", "customer_relations"), ("en", "two", "payments"), ("en", "3", "customer_relations"),
])
def test_a_key_said_rather_than_pressed_chooses_its_department(twilio_post, lang, speech, department):
    doc = twiml(twilio_post(f"/voice/menu?lang={lang}&attempt=1", SpeechResult=speech))
    assert doc.find("Dial").get("action") == f"/voice/dial-status/{department}?lang={lang}"


@pytest.mark.parametrize("speech", ["am două probleme și nu știu", "unu sau doi", "12"])
def test_a_number_in_a_longer_or_unclear_answer_chooses_nothing(twilio_post, speech):
    """In a sentence a number word is part of the complaint, and two keys said are no choice."""
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", SpeechResult=speech))
    assert doc.find("Dial") is None and doc.find("Gather").get("action").startswith("/voice/menu?lang=ro&attempt=2")


def test_a_language_key_said_switches_language(twilio_post):
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1&offers=l", caller="anonymous", SpeechResult="nouă"))
    assert doc.find("Gather").get("action") == "/voice/menu?lang=en&attempt=1&offers=l"


def test_english_speech(twilio_post):
    doc = twiml(twilio_post("/voice/menu?lang=en&attempt=1", SpeechResult="I have a problem with my bill"))
    assert doc.find("Dial").get("action") == "/voice/dial-status/payments?lang=en"


@pytest.mark.parametrize("fields", [{"Digits": "7"}, {"Digits": "abc"}, {"Digits": "1" * 5000}, {}, {"SpeechResult": "vremea"}, {"Digits": "12"}])
def test_wrong_or_missing_input_repeats_the_menu(twilio_post, fields):
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", **fields, Unknown="x"))
    assert "Nu am înțeles" in doc[0].text
    assert doc.find("Gather").get("action") == "/voice/menu?lang=ro&attempt=2"
    assert doc.find("Redirect").text == "/voice/menu?lang=ro&attempt=2"


def test_last_miss_goes_to_the_fallback_department(twilio_post):
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=3", Digits="7"))
    assert "Vă transferăm la Departamentul Relații Clienți" in said(doc)
    assert doc.find("Dial").get("action") == "/voice/dial-status/customer_relations?lang=ro"
    assert doc.find("Gather") is None


@pytest.mark.parametrize("query", ["lang=xx&attempt=abc", "lang=&attempt=99999999", ""])
def test_garbage_in_the_url_still_gets_a_menu_answer(twilio_post, query):
    doc = twiml(twilio_post("/voice/menu" + (f"?{query}" if query else ""), Digits="1"))
    assert doc.find("Dial") is not None


def test_a_prompt_may_be_a_recording_to_play(config_dir, app_config):
    from ivr import create_app

    from conftest import BASE_URL, CALL_SID, sign
    from conftest import edit

    edit(config_dir / "prompts" / "ro.yaml", '"Bună ziua, ați sunat la {company}."', '"https://media.pronetit.ro/salut.mp3"')
    data = {"CallSid": CALL_SID, "From": "+40722123456"}
    reply = create_app(app_config).test_client().post("/voice/incoming", data=data, headers=sign(BASE_URL + "/voice/incoming", data))
    doc = twiml(reply)
    assert doc[0].tag == "Play" and doc[0].text == "https://media.pronetit.ro/salut.mp3"
    assert doc[1].tag == "Say"
