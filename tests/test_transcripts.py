"""Voicemails transcribed in the caller's language (routing.yaml's hotline.transcription): the
TwiML that starts and stops Twilio's Real-Time Transcription, its status callbacks in order, out
of order, repeated and for an unknown call, and the transcript on the ticket page, in the list's
search and in `ivr export tickets`. On SQLite and, when IVR_TEST_DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from ivr import create_app
from ivr.cli import main
from ivr.errors import ConfigError
from ivr.models import Ticket, TranscriptSegment, Transcription
from ivr.settings import load_hotline
from ivr.softphone import Call, ScriptedCaller, WsgiTransport
from ivr.users import add_user

from conftest import AUTH_TOKEN, BASE_URL, CALL_SID, ROOT, edit, sign
from console_client import PASSWORD

SAID = "Internetul nu merge de trei zile. Am sunat deja de două ori! Vă rog să trimiteți un tehnician."
GT = "GT" + "a" * 32
UNKNOWN_CALL = "CA" + "9" * 32


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


def switch_transcription(config_dir, value: str = "true") -> None:
    edit(config_dir / "routing.yaml", "  record_max_seconds: 180", f"  transcription: {value}\n  record_max_seconds: 180")


@pytest.fixture
def app_config(app_config, config_dir):
    """The shipped configuration with hotline.transcription switched on."""
    switch_transcription(config_dir)
    return app_config


@pytest.fixture
def maria(app, db, clock):
    """A test client signed in as maria, a supervisor (she sees every ticket)."""
    with db.session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", clock())
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)).group(1)
    assert client.post("/console/login", data={"csrf_token": token, "name": "maria", "password": PASSWORD}).status_code == 302
    return client


def verbs(reply) -> list[ET.Element]:
    assert reply.status_code == 200, reply.status
    return list(ET.fromstring(reply.get_data(as_text=True)))


def event(twilio_post, kind: str, sequence: int, call_sid: str = CALL_SID, sid: str = GT, **fields: str):
    """Post one Real-Time Transcription status callback, signed, as Twilio does."""
    return twilio_post("/voice/transcription", CallSid=call_sid, TranscriptionSid=sid, TranscriptionEvent=kind,
                       SequenceId=str(sequence), Timestamp="2026-11-17T08:00:00.000Z", **fields)


def content(twilio_post, sequence: int, text: str, call_sid: str = CALL_SID, **fields: str):
    data = json.dumps({"transcript": text, "confidence": 0.91}, ensure_ascii=False)
    return event(twilio_post, "transcription-content", sequence, call_sid, LanguageCode="ro-RO", Track="inbound_track",
                 TranscriptionData=data, **{"Final": "true", **fields})


def leave_voicemail(twilio_post, call_sid: str = CALL_SID) -> None:
    """The <Record> action of a voicemail left for technical support: the ticket."""
    reply = twilio_post("/voice/recorded/technical?lang=ro&sms=%2B40722123456&tr=1", CallSid=call_sid,
                        RecordingSid="RE" + "5" * 32, RecordingDuration="30",
                        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/RE{'5' * 32}")
    assert "Reclamația a fost înregistrată cu numărul" in reply.get_data(as_text=True)


def ticket_number(db, call_sid: str = CALL_SID) -> str:
    with db.session() as session:
        return session.scalar(select(Ticket.number).where(Ticket.call_sid == call_sid))


def transcript_on_page(client, number: str) -> list[str]:
    page = client.get(f"/console/tickets/{number}").get_data(as_text=True)
    block = re.search(r'<div class="transcript" lang="ro">(.*?)</div>', page, re.S)
    return re.findall(r"<p>(.*?)</p>", block.group(1)) if block else []


def stored(db, table) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table))


# -- the TwiML ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, code", [("ro", "ro-RO"), ("en", "en-GB")])
def test_transcription_starts_right_before_the_record_in_the_callers_language(twilio_post, lang, code):
    twiml = verbs(twilio_post(f"/voice/record/technical?lang={lang}&take=1"))
    tags = [v.tag for v in twiml]
    assert tags.index("Start") == tags.index("Record") - 1 and tags.count("Start") == 1
    [transcription] = twiml[tags.index("Start")]
    assert transcription.tag == "Transcription" and transcription.attrib == {
        "name": "voicemail", "track": "inbound_track", "languageCode": code, "partialResults": "false",
        "statusCallbackUrl": f"{BASE_URL}/voice/transcription", "statusCallbackMethod": "POST",
    }
    record, redirect = twiml[tags.index("Record")], twiml[tags.index("Redirect")]
    assert "tr=1" in record.get("action") and "tr=1" in redirect.text and "take=2" in redirect.text


def test_the_second_take_is_heard_by_the_same_transcription_and_the_action_stops_it(twilio_post):
    twiml = verbs(twilio_post("/voice/record/technical?lang=ro&tr=1&take=2"))
    assert "Start" not in [v.tag for v in twiml]
    assert "tr=1" in next(v for v in twiml if v.tag == "Record").get("action")
    first = verbs(twilio_post("/voice/recorded/technical?lang=ro&tr=1", RecordingSid="RE" + "5" * 32,
                              RecordingUrl="https://api.twilio.com/x", RecordingDuration="9"))[0]
    assert first.tag == "Stop" and [(n.tag, n.get("name")) for n in first] == [("Transcription", "voicemail")]
    # An apology's voicemail started none: nothing to stop.
    assert "Stop" not in [v.tag for v in verbs(twilio_post("/voice/recorded/technical?lang=ro", RecordingSid="RE" + "6" * 32,
                                                             RecordingUrl="https://api.twilio.com/y", RecordingDuration="9"))]


def test_without_transcription_in_routing_yaml_nothing_is_started_or_stopped(app_config):
    app = create_app({**app_config, "ROUTING_FILE": str(ROOT / "tests" / "routing.yaml")})
    client = app.test_client()
    for path in ("/voice/record/technical?lang=ro&take=1", "/voice/recorded/technical?lang=ro&tr=1"):
        data = {"CallSid": CALL_SID, "From": "+40722123456", "RecordingSid": "RE" + "5" * 32,
                "RecordingUrl": "https://api.twilio.com/x", "RecordingDuration": "9"}
        body = client.post(path, data=data, headers=sign(BASE_URL + path, data)).get_data(as_text=True)
        assert "<Start>" not in body and "<Stop>" not in body and "tr=1" not in body.replace(path, "")
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


def test_the_callback_url_is_on_the_public_url_twilio_signs(app_config):
    app = create_app({**app_config, "PUBLIC_URL": "https://ivr.example.ro/hotline"})
    client, path = app.test_client(), "/voice/record/technical?lang=ro&take=1"
    data = {"CallSid": CALL_SID, "From": "+40722123456"}
    body = client.post(path, data=data, headers=sign("https://ivr.example.ro/hotline" + path, data)).get_data(as_text=True)
    assert 'statusCallbackUrl="https://ivr.example.ro/hotline/voice/transcription"' in body
    started = {"CallSid": CALL_SID, "TranscriptionSid": GT, "TranscriptionEvent": "transcription-started", "SequenceId": "1"}
    reply = client.post("/voice/transcription", data=started,
                        headers=sign("https://ivr.example.ro/hotline/voice/transcription", started))
    assert reply.status_code == 204
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


# -- a whole call --------------------------------------------------------------------------------

def test_a_caller_is_transcribed_in_romanian_before_the_ticket_exists(app, db, maria):
    ui = ScriptedCaller(keys_script=["1"], records=[40], said=[SAID])
    log = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui).run()
    assert "Reclamația a fost înregistrată cu numărul" in ui.transcript
    paths = [url.removeprefix(BASE_URL) for url, _, _ in log.requests]
    events = [data["TranscriptionEvent"] for url, data, _ in log.requests if url.endswith("/voice/transcription")]
    assert events == ["transcription-started"] + ["transcription-content"] * 3 + ["transcription-stopped"]
    assert all(status == 204 for url, _, status in log.requests if url.endswith("/voice/transcription"))
    # The segments came while the caller spoke: before the <Record> action made the ticket.
    recorded = next(i for i, p in enumerate(paths) if p.startswith("/voice/recorded/"))
    assert [i for i, p in enumerate(paths) if p == "/voice/transcription"][-2] < recorded
    number = ticket_number(db, log.call_sid)
    assert transcript_on_page(maria, number) == [
        "Internetul nu merge de trei zile.", "Am sunat deja de două ori!", "Vă rog să trimiteți un tehnician."]
    page = maria.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert "Nicio transcriere." not in page and "nu s-a încheiat" not in page


# -- the status callbacks ----------------------------------------------------------------------------

def test_events_out_of_order_give_the_segments_in_twilios_order(twilio_post, db, maria):
    for reply in (
        event(twilio_post, "transcription-stopped", 5),
        content(twilio_post, 4, "Vă rog să trimiteți un tehnician."),
        content(twilio_post, 2, "Internetul nu merge de trei zile."),
        event(twilio_post, "transcription-started", 1, LanguageCode="ro-RO", Track="inbound_track"),
        content(twilio_post, 3, "Am sunat deja de două ori!"),
    ):
        assert reply.status_code == 204
    leave_voicemail(twilio_post)
    assert transcript_on_page(maria, ticket_number(db)) == [
        "Internetul nu merge de trei zile.", "Am sunat deja de două ori!", "Vă rog să trimiteți un tehnician."]
    with db.session() as session:
        transcription = session.scalars(select(Transcription)).one()
        assert (transcription.status, transcription.language) == ("stopped", "ro-RO")  # a late "started" changes nothing


def test_repeated_events_change_nothing(twilio_post, db, maria):
    for _ in range(3):
        event(twilio_post, "transcription-started", 1)
        assert content(twilio_post, 2, "Factura din noiembrie e greșită.").status_code == 204
        content(twilio_post, 3, "Mi-ați taxat 100% în plus.")
        event(twilio_post, "transcription-stopped", 4)
    leave_voicemail(twilio_post)
    assert stored(db, TranscriptSegment) == 2 and stored(db, Transcription) == 1
    assert transcript_on_page(maria, ticket_number(db)) == ["Factura din noiembrie e greșită.", "Mi-ați taxat 100% în plus."]


def test_events_for_an_unknown_call_are_kept_harmlessly(twilio_post, db, maria):
    assert event(twilio_post, "transcription-started", 1, call_sid=UNKNOWN_CALL).status_code == 204
    assert content(twilio_post, 2, "Alo?", call_sid=UNKNOWN_CALL).status_code == 204
    assert stored(db, TranscriptSegment) == 1 and stored(db, Ticket) == 0
    assert maria.get("/console/?q=Alo").status_code == 200
    # Should that call give a ticket after all, it finds its transcript.
    leave_voicemail(twilio_post, UNKNOWN_CALL)
    assert transcript_on_page(maria, ticket_number(db, UNKNOWN_CALL)) == ["Alo?"]


def test_a_failed_transcription_is_noted_and_never_blocks_the_ticket(twilio_post, db, maria):
    event(twilio_post, "transcription-started", 1)
    content(twilio_post, 2, "Internetul nu merge.")
    failed = event(twilio_post, "transcription-error", 3, TranscriptionError="Speech recognition unavailable",
                   TranscriptionErrorCode="32655")
    assert failed.status_code == 204
    event(twilio_post, "transcription-stopped", 4)  # after an error: still failed
    leave_voicemail(twilio_post)
    number = ticket_number(db)
    page = maria.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert transcript_on_page(maria, number) == ["Internetul nu merge."]
    assert "Transcrierea a eșuat (Speech recognition unavailable (32655))." in page


def test_a_voicemail_without_any_transcript_says_so(twilio_post, db, maria):
    leave_voicemail(twilio_post)
    page = maria.get(f"/console/tickets/{ticket_number(db)}").get_data(as_text=True)
    assert "Nicio transcriere." in page and 'class="transcript"' not in page


def test_an_unfinished_transcription_is_marked_as_possibly_incomplete(twilio_post, db, maria):
    event(twilio_post, "transcription-started", 1)
    content(twilio_post, 2, "Internetul nu merge.")
    leave_voicemail(twilio_post)
    page = maria.get(f"/console/tickets/{ticket_number(db)}").get_data(as_text=True)
    assert "Transcrierea nu s-a încheiat încă: textul poate fi incomplet." in page


def test_what_twilio_never_sends_is_refused_or_left_out(twilio_post, client, db):
    assert twilio_post("/voice/transcription", TranscriptionEvent="transcription-content", SequenceId="2").status_code == 400
    assert event(twilio_post, "transcription-content", 2, sid="GT123").status_code == 400
    assert twilio_post("/voice/transcription", TranscriptionSid=GT, TranscriptionEvent="transcription-started",
                       SequenceId="x").status_code == 400
    assert event(twilio_post, "transcription-paused", 2).status_code == 204          # an event we do not know
    assert content(twilio_post, 2, "Interne", Final="false").status_code == 204      # a partial result
    assert event(twilio_post, "transcription-content", 3, TranscriptionData="{not json").status_code == 204
    assert event(twilio_post, "transcription-content", 4, TranscriptionData='{"transcript": 7}').status_code == 204
    assert content(twilio_post, 5, " \t ").status_code == 204
    assert stored(db, TranscriptSegment) == 0
    assert content(twilio_post, 6, "Rețea\x00 căzută\n azi").status_code == 204   # PostgreSQL refuses a NUL byte
    with db.session() as session:
        assert session.scalars(select(TranscriptSegment.text)).all() == ["Rețea căzută azi"]
    unsigned = {"CallSid": CALL_SID, "TranscriptionSid": GT, "TranscriptionEvent": "transcription-started", "SequenceId": "1"}
    assert client.post("/voice/transcription", data=unsigned).status_code == 403


# -- search and export ----------------------------------------------------------------------------------

def test_the_list_search_finds_a_ticket_by_the_words_of_its_transcript(twilio_post, db, maria):
    content(twilio_post, 2, "Mi-ați taxat 100% în plus pe factura din noiembrie.")
    leave_voicemail(twilio_post)
    content(twilio_post, 2, "Nu am semnal.", call_sid="CA" + "2" * 32, sid="GT" + "b" * 32)
    leave_voicemail(twilio_post, "CA" + "2" * 32)
    number, other = ticket_number(db), ticket_number(db, "CA" + "2" * 32)
    for words in ("factura din", "FACTURA", "100%"):
        page = maria.get("/console/", query_string={"q": words}).get_data(as_text=True)
        assert number in page and other not in page, words
    page = maria.get("/console/", query_string={"q": "0% î"}).get_data(as_text=True)
    assert number in page  # % is a character here, not a wildcard
    assert number not in maria.get("/console/", query_string={"q": "t_xat"}).get_data(as_text=True)  # nor _


def test_export_tickets_carries_the_transcript(twilio_post, db, runner, monkeypatch, app_config, database_url, tmp_path):
    for sequence, text in ((3, "Vă rog să trimiteți un tehnician."), (2, "Internetul nu merge de trei zile.")):
        content(twilio_post, sequence, text)
    leave_voicemail(twilio_post)
    leave_voicemail(twilio_post, "CA" + "2" * 32)
    for name, value in (("IVR_DATABASE_URL", database_url), ("IVR_ROUTING_FILE", app_config["ROUTING_FILE"]),
                        ("IVR_PROMPTS_DIR", app_config["PROMPTS_DIR"]), ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
                        ("IVR_INSTANCE_DIR", str(tmp_path / "instance")), ("IVR_SECRET_KEY", "transcripts-test")):
        monkeypatch.setenv(name, value)
    result = runner.invoke(main, ["export", "tickets", "--from", "2026-11-17", "--to", "2026-11-17"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [(row["number"], row["transcript"]) for row in rows] == [
        (ticket_number(db), "Internetul nu merge de trei zile. Vă rog să trimiteți un tehnician."),
        (ticket_number(db, "CA" + "2" * 32), ""),
    ]


# -- routing.yaml --------------------------------------------------------------------------------------

def test_routing_yaml_transcription_is_a_yes_or_no(config_dir):
    switch_transcription(config_dir, '"maybe"')
    with pytest.raises(ConfigError) as caught:
        load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    assert "routing.yaml: hotline.transcription: Input should be a valid boolean" in str(caught.value)


def test_transcription_needs_a_language_code_with_its_region_in_each_prompts_file(config_dir):
    switch_transcription(config_dir)
    edit(config_dir / "prompts" / "en.yaml", "language: en-GB", "language: en")
    with pytest.raises(ConfigError) as caught:
        load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    assert f'{config_dir / "prompts" / "en.yaml"}: language: "en" is not a language code such as ro-RO or en-US' in str(caught.value)
    edit(config_dir / "routing.yaml", "  transcription: true", "  transcription: false")
    assert load_hotline(config_dir / "routing.yaml", config_dir / "prompts").routing.hotline.transcription is False


def test_the_migration_makes_the_tables_the_models_describe(upgraded_database):
    from alembic.migration import MigrationContext
    from alembic.autogenerate import compare_metadata

    from ivr.db import Base

    with upgraded_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in differences if "transcri" in repr(d)]
    assert ours == []
