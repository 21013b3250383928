"""Callers' phone numbers: who is withheld, who can receive an SMS, which country."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from .inputs import ascii_int

# What Twilio puts in From when the caller hid their number.
_WITHHELD = {"", "anonymous", "restricted", "private", "unknown", "unavailable", "+266696687", "266696687"}
_SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# Numbers called at the usual rate: fixed lines, mobiles, VoIP and location-independent ones
# (Romania's 037x); not premium-rate, shared-cost, toll-free, pager or "personal" numbers,
# which cost the hotline money per call, a fraud's way to earn it, or are nobody's line.
_PERSONAL = {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
             PhoneNumberType.VOIP, PhoneNumberType.UAN}


@dataclass(frozen=True)
class Caller:
    """A caller as the hotline sees them. ``e164`` is None when the number is withheld."""

    e164: str | None
    region: str | None
    can_receive_sms: bool

    @property
    def withheld(self) -> bool:
        return self.e164 is None


def _parse(text: str, region: str | None) -> tuple[phonenumbers.PhoneNumber, int] | None:
    """The number and its type (a PhoneNumberType), or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # UNKNOWN exactly for the numbers is_valid_number refuses: one look at the metadata, not two.
    kind = phonenumbers.number_type(number)
    return None if kind == PhoneNumberType.UNKNOWN else (number, kind)


def caller_from(raw: str | None, home_region: str) -> Caller:
    """Classify Twilio's ``From``; a number without + is read as a home-country number."""
    text = (raw or "").strip()
    if text.lower() in _WITHHELD or text.startswith(("client:", "sip:")):
        return Caller(None, None, False)
    parsed = _parse(text, home_region)
    if parsed is None:
        return Caller(None, None, False)
    number, kind = parsed
    return Caller(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(number),
        kind in _SMS_CAPABLE,
    )


def sms_recipient(caller: Caller, regions: Collection[str]) -> str | None:
    """The caller's number if the hotline may text it: a mobile of one of ``regions`` (an SMS
    abroad costs money, and a caller ID or a keyed-in number can name any country)."""
    return caller.e164 if caller.can_receive_sms and caller.region in regions else None


def personal_number(caller: Caller) -> bool:
    """Whether the caller's number is called at the usual rate: one the hotline may call back."""
    parsed = _parse(caller.e164, None) if caller.e164 else None
    return parsed is not None and parsed[1] in _PERSONAL


def keyed_mobile(digits: str | None, home_region: str) -> str | None:
    """A mobile number the caller keyed in ("0722123456" or "0040722123456"), as E.164, or None."""
    text = (digits or "").strip().rstrip("#")
    if ascii_int(text, max_digits=17) is None:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    parsed = _parse(text, home_region)
    if parsed is None or parsed[1] not in _SMS_CAPABLE:
        return None
    return phonenumbers.format_number(parsed[0], phonenumbers.PhoneNumberFormat.E164)
