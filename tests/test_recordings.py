"""Fetching voicemail audio from Twilio: real HTTP against the local Twilio stand-in."""

from __future__ import annotations

import io
import wave

import pytest

from ivr.errors import IvrError, RecordingUnavailable
from ivr.recordings import Recording, RecordingStore

from twilio_standin import TwilioStandin

RECORDING_SID = "RE" + "0123456789abcdef" * 2
OTHER_ACCOUNT = "AC" + "9" * 32


@pytest.fixture
def store(twilio: TwilioStandin) -> RecordingStore:
    """A RecordingStore with the stand-in's credentials, pointed at the stand-in.

    The timeout is short so that a test of a dead line cannot hang the suite."""
    return RecordingStore(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2.0)


@pytest.fixture
def recording_url(twilio: TwilioStandin) -> str:
    """The RecordingUrl Twilio would give for RECORDING_SID: on api.twilio.com, no extension."""
    return f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{RECORDING_SID}"


@pytest.fixture
def audio(twilio: TwilioStandin) -> bytes:
    """The WAV bytes of RECORDING_SID, registered with the stand-in."""
    return twilio.add_recording(RECORDING_SID)


def test_the_standin_serves_a_valid_short_wav(audio):
    with wave.open(io.BytesIO(audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (1, 2, 8000, 8000)


def test_fetch_returns_the_audio_and_its_type(store, recording_url, audio):
    assert store.fetch(recording_url) == Recording(audio=audio, content_type="audio/x-wav")


def test_mp3_is_asked_for_with_its_extension(store, recording_url, audio):
    # The stand-in serves the WAV bytes as audio/mpeg: this checks the URL, not MP3 decoding.
    assert store.fetch(recording_url, fmt="mp3").content_type == "audio/mpeg"


@pytest.mark.parametrize("extension", [".wav", ".mp3"])
def test_an_existing_extension_is_replaced_by_the_format_asked_for(store, recording_url, audio, extension):
    assert store.fetch(recording_url + extension) == Recording(audio=audio, content_type="audio/x-wav")


def test_an_unknown_format_is_a_programming_error(store, recording_url, twilio):
    with pytest.raises(ValueError):
        store.fetch(recording_url, fmt="ogg")
    assert twilio.requests == 0


def test_a_deleted_recording_is_unavailable(store, recording_url, twilio):
    with pytest.raises(RecordingUnavailable, match="deleted") as caught:
        store.fetch(recording_url)  # never registered: Twilio's 404
    assert caught.value.status == 404
    assert isinstance(caught.value, IvrError)


def test_wrong_credentials_are_unavailable(twilio, recording_url, audio):
    store = RecordingStore(twilio.account_sid, "not-the-token", base_url=twilio.base_url, timeout=2.0)

    with pytest.raises(RecordingUnavailable, match="credentials") as caught:
        store.fetch(recording_url)
    assert caught.value.status == 401


@pytest.mark.parametrize("status", [500, 503, 429])
def test_twilio_errors_are_unavailable(store, recording_url, audio, twilio, status):
    twilio.fail_next(status=status)

    with pytest.raises(RecordingUnavailable, match=f"HTTP {status}") as caught:
        store.fetch(recording_url)
    assert caught.value.status == status
    assert twilio.requests == 1  # not retried behind our back


def test_a_dropped_connection_is_unavailable(store, recording_url, audio, twilio):
    twilio.drop_next()

    with pytest.raises(RecordingUnavailable, match="could not be reached") as caught:
        store.fetch(recording_url)
    assert caught.value.status is None


def test_a_dead_line_is_unavailable(twilio, recording_url):
    store = RecordingStore(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2.0)
    twilio.stop()  # nothing listens on the port any more

    with pytest.raises(RecordingUnavailable, match="could not be reached"):
        store.fetch(recording_url)


def test_an_answer_that_is_not_audio_is_unavailable(store, recording_url, audio, twilio):
    # A 200 HTML page (a captive proxy, say) must not be passed on to the browser as if it were audio.
    twilio.fail_next(status=200, body="<html><body>Sign in to the Wi-Fi</body></html>")

    with pytest.raises(RecordingUnavailable, match="instead of audio"):
        store.fetch(recording_url)


def test_a_redirect_to_media_storage_is_followed_without_the_credentials(store, recording_url, audio, twilio):
    # The stand-in listens on 127.0.0.1; "localhost" is another host name for requests.
    twilio.redirect_recordings_to("localhost")

    assert store.fetch(recording_url).audio == audio
    assert twilio.requests == 2
    assert twilio.media_authorizations == [None]


def test_a_redirect_on_the_same_host_keeps_the_credentials(store, recording_url, audio, twilio):
    # Documents requests' rule: only a change of host, scheme or port drops Authorization.
    twilio.redirect_recordings_to("127.0.0.1")

    assert store.fetch(recording_url).audio == audio
    [authorization] = twilio.media_authorizations
    assert authorization is not None and authorization.startswith("Basic ")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "http://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com.evil.example/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com@evil.example/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com/2010-04-01/Accounts/{other}/Recordings/{sid}",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/../Messages",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}/../../Messages.json",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/%2e%2e/Messages.json",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}.json",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}?x=1",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}#x",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}\n",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/RE1234",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/",
        " https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "",
    ],
)
def test_urls_that_are_not_our_recordings_are_refused_without_a_request(store, twilio, audio, url):
    url = url.format(account=twilio.account_sid, other=OTHER_ACCOUNT, sid=RECORDING_SID)

    with pytest.raises(RecordingUnavailable, match="not a recording of our Twilio account") as caught:
        store.fetch(url)
    assert caught.value.status is None
    assert twilio.requests == 0


def test_the_account_sid_is_matched_literally(twilio):
    # A SID is spliced into a pattern: nothing in it may act as a wildcard.
    store = RecordingStore("AC.*", "token", base_url=twilio.base_url)

    with pytest.raises(RecordingUnavailable):
        store.fetch(f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{RECORDING_SID}")
    assert twilio.requests == 0


def test_credentials_are_required():
    with pytest.raises(ValueError):
        RecordingStore("", "token")
