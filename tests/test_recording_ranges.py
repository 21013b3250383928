"""Seeking a recording in the console: the proxy answers HTTP Range requests (RFC 9110 §14)
and streams the audio from Twilio (the local stand-in, over real HTTP) in chunks, whether
Twilio honours the range or sends the whole file."""

from __future__ import annotations

import pytest

from ivr.calls.log import conversation_recorded
from ivr.recordings import CHUNK_BYTES
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from console_client import PASSWORD, sign_in
from twilio_standin import TwilioStandin

SID = "RE" + "ab" * 16


@pytest.fixture
def with_twilio(app_config, twilio: TwilioStandin) -> TwilioStandin:
    """The app's Twilio account is the local stand-in; ask for it before ``app``."""
    app_config.update(TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_API_BASE_URL=twilio.base_url, LOCAL_TRIAL_TOKEN=False)
    return twilio


@pytest.fixture(params=["honours ranges", "ignores ranges"])
def mode(request, with_twilio: TwilioStandin) -> str:
    """Twilio answering a Range with that part (206), or with the whole file (200)."""
    with_twilio.ignore_ranges = request.param == "ignores ranges"
    return request.param


@pytest.fixture
def recording(with_twilio: TwilioStandin, app, clock) -> tuple[str, bytes]:
    """A voicemail ticket whose 3-second recording Twilio keeps: (its audio's console path, the WAV bytes)."""
    audio = with_twilio.add_recording(SID, seconds=3.0)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{with_twilio.account_sid}/Recordings/{SID}"
    report = VoicemailReport("CA" + "ab" * 16, "technical", "ro", "+40722123456", "+40722123456", SID, url, 3,
                             "completed", "record action")
    with app.extensions["ivr.db"].session() as session, session.begin():
        number = register_voicemail(session, app.extensions["ivr.hotline"], report, clock()).number
    return f"/console/tickets/{number}/recording", audio


@pytest.fixture
def ana(with_twilio, app, clock):
    """A client signed in as operator ana."""
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", clock())
    client = app.test_client()
    assert sign_in(client, "ana").status_code == 302
    return client


def test_without_a_range_the_whole_recording_says_it_can_be_sought(ana, recording, with_twilio):
    path, audio = recording
    reply = ana.get(path)
    assert reply.status_code == 200 and reply.data == audio
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert reply.headers["Content-Length"] == str(len(audio))
    assert reply.mimetype == "audio/x-wav" and "Content-Range" not in reply.headers
    assert with_twilio.range_headers == [None]


@pytest.mark.parametrize(
    ("asked", "first", "last"),
    [
        ("bytes=0-99", 0, 99),                 # the first bytes: the player reads the WAV header
        ("bytes=24000-24999", 24000, 24999),   # the middle: a click in the middle of the bar
        ("bytes=-500", -500, -1),              # a suffix: the final 500 bytes
        ("bytes=1000-", 1000, -1),             # open-ended: from a point to the end, as Chromium asks
        ("bytes=40000-99999999", 40000, -1),   # past the end: cut at the end
    ],
)
def test_a_range_is_answered_with_that_part(ana, recording, with_twilio, mode, asked, first, last):
    path, audio = recording
    size = len(audio)
    first, last = first % size, last % size
    reply = ana.get(path, headers={"Range": asked})
    assert reply.status_code == 206, reply.data[:200]
    assert reply.data == audio[first : last + 1]
    assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert reply.headers["Content-Length"] == str(last - first + 1)
    assert reply.headers["Accept-Ranges"] == "bytes" and reply.mimetype == "audio/x-wav"
    assert with_twilio.range_headers == [asked]  # asked of Twilio in turn


@pytest.mark.parametrize("asked", ["bytes=48044-", "bytes=50000-50010", "bytes=-0"])
def test_a_range_outside_the_recording_is_416_with_its_length(ana, recording, mode, asked):
    path, audio = recording
    assert len(audio) == 48044  # 3 s of 8 kHz 16-bit mono, and a 44-byte header
    reply = ana.get(path, headers={"Range": asked})
    assert reply.status_code == 416
    assert reply.headers["Content-Range"] == f"bytes */{len(audio)}"
    assert reply.data == b""


@pytest.mark.parametrize("asked", ["bytes=abc", "bytes=5-2", "bytes=", "bytes=-", "items=0-99", "0-99", "bytes=1-2-3"])
def test_a_malformed_range_is_416_with_the_length(ana, recording, with_twilio, asked):
    path, audio = recording
    reply = ana.get(path, headers={"Range": asked})
    assert reply.status_code == 416
    assert reply.headers["Content-Range"] == f"bytes */{len(audio)}"
    assert with_twilio.range_headers == [None]  # only the length was asked of Twilio


def test_several_ranges_get_the_whole_recording(ana, recording, with_twilio):
    # A multipart answer is never asked for by a media player; RFC 9110 lets a server ignore it.
    path, audio = recording
    reply = ana.get(path, headers={"Range": "bytes=0-99,200-299"})
    assert reply.status_code == 200 and reply.data == audio
    assert with_twilio.range_headers == [None]


def _read(reply, until: int | None = None) -> list[bytes]:
    """The chunks of a streamed answer, as they come; stops once ``until`` bytes are in."""
    chunks = []
    for chunk in reply.response:
        chunks.append(chunk)
        if until is not None and sum(map(len, chunks)) >= until:
            break
    return chunks


@pytest.mark.parametrize("asked", [None, "bytes=65530-3000000"])
def test_a_large_recording_is_passed_on_while_twilio_still_sends_it(ana, recording, with_twilio, mode, asked):
    # Twilio holds the rest back after 1 MB: the operator's browser must already have been
    # given bytes by then. A proxy that read the whole file first would still be waiting
    # (and the stand-in would give up waiting: pause_timed_out).
    path, _ = recording
    audio = with_twilio.recordings[SID] = bytes(range(256)) * (6 * 4096)  # 6 MiB
    release = with_twilio.pause_recordings_after(1024 * 1024, limit=5.0)
    first, last = (0, len(audio) - 1) if asked is None else (65530, 3000000)
    reply = ana.get(path, headers={"Range": asked} if asked else {}, buffered=False)
    try:
        assert reply.status_code == (200 if asked is None else 206)
        head = _read(reply, until=CHUNK_BYTES)
        assert not release.is_set() and not with_twilio.pause_timed_out
        release.set()
        chunks = head + _read(reply)
    finally:
        reply.close()
    assert not with_twilio.pause_timed_out
    assert b"".join(chunks) == audio[first : last + 1]
    assert max(map(len, chunks)) <= CHUNK_BYTES  # never more than a chunk at a time in memory
    assert reply.headers["Content-Length"] == str(last - first + 1)


def test_errors_stay_what_they_were(ana, recording, with_twilio):
    path, _ = recording
    with_twilio.fail_next(500)
    assert ana.get(path, headers={"Range": "bytes=0-99"}).status_code == 502
    del with_twilio.recordings[SID]  # deleted at Twilio
    reply = ana.get(path, headers={"Range": "bytes=0-99"})
    assert reply.status_code == 502 and "deleted" in reply.get_data(as_text=True)
    assert ana.get(path.replace("/recording", "x/recording")).status_code == 404


def test_a_conversation_recording_is_sought_the_same_way(ana, with_twilio, app, clock):
    # The call log's recording of an operator's conversation goes through the same proxy.
    audio = with_twilio.add_recording(SID, seconds=3.0)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{with_twilio.account_sid}/Recordings/{SID}"
    call_sid = "CA" + "cd" * 16
    with app.extensions["ivr.db"].session() as session, session.begin():
        conversation_recorded(session, call_sid, SID, url, clock())
    reply = ana.get(f"/console/calls/{call_sid}/recording", headers={"Range": "bytes=-500"})
    assert reply.status_code == 206 and reply.data == audio[-500:]
    assert reply.headers["Content-Range"] == f"bytes {len(audio) - 500}-{len(audio) - 1}/{len(audio)}"
