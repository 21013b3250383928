"""Verbs that depend only on the configuration, built and serialised once per configuration.

Every call hears the greeting and the menu; a menu's words, keys and URLs follow from
routing.yaml and the prompts alone, once its language, attempt and the offers made to the
caller are known. Building them with url_for and serialising them took most of a menu's time,
so they are kept, rendered, per loaded configuration (a new configuration starts afresh), per
mount point (url_for's URLs start with it) and per ``key``, which names everything else they
depend on. What depends on the time, the database or the caller's own details stays out.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from twilio.twiml.voice_response import VoiceResponse

from .. import appctx
from ..settings import HotlineConfig
from ..twiml import Rendered

_EXTENSION = "ivr.prebuilt_verbs"
# Keys come from the configuration and from URLs Twilio signed: few. The bound is a safeguard.
_MOST = 512

Build = Callable[[VoiceResponse], None]


def append_prebuilt(response: VoiceResponse, key: tuple, build: Build) -> None:
    """Append the verbs ``build`` appends to a response, built once for ``key``."""
    store = _store()
    full_key = (request.script_root, *key)
    verbs = store.get(full_key)
    if verbs is None:
        scratch = VoiceResponse()
        build(scratch)
        verbs = tuple(Rendered(verb) for verb in scratch.verbs)
        if len(store) >= _MOST:
            store.clear()
        store[full_key] = verbs
    for verb in verbs:
        response.append(verb)


def _store() -> dict[tuple, tuple[Rendered, ...]]:
    """This app's verbs for its configuration, emptied when another configuration is loaded."""
    hotline = appctx.hotline()
    kept: tuple[HotlineConfig, dict] | None = current_app.extensions.get(_EXTENSION)
    if kept is None or kept[0] is not hotline:
        kept = (hotline, {})
        current_app.extensions[_EXTENSION] = kept
    return kept[1]
