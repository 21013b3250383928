"""Callers' numbers: ivr.phone classifies a number with one look at the metadata (its type) where
phonenumbers' is_valid_number and number_type take two; the answers must be the same."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from ivr.phone import _WITHHELD, Caller, caller_from, keyed_mobile

_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# Codes shared by several regions (1, 7, 44, 262, 590), a non-geographic one (800, 882, 979), the home one.
CODES = ["40", "1", "7", "44", "39", "262", "590", "33", "49", "373", "800", "882", "979", "999"]


def reference_caller(text: str, region: str) -> Caller:
    """The classification as the library documents it: is_valid_number, then number_type."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return Caller(None, None, False)
    if not phonenumbers.is_valid_number(number):
        return Caller(None, None, False)
    return Caller(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                  phonenumbers.region_code_for_number(number), phonenumbers.number_type(number) in _MOBILE)


numbers = st.one_of(
    st.tuples(st.sampled_from(CODES), st.text("0123456789", min_size=3, max_size=13)).map(lambda t: f"+{t[0]}{t[1]}"),
    st.text("0123456789", min_size=3, max_size=14),
    st.text("+0123456789 ()-", max_size=18),
)


@settings(max_examples=500, deadline=None)
@given(numbers, st.sampled_from(["RO", "GB", "US", "ZZ"]))
@example("+40722123456", "RO")    # a home mobile
@example("+40212345678", "RO")    # a home landline
@example("0722123456", "RO")
@example("+447911123456", "RO")   # a mobile abroad
@example("+447624123456", "RO")   # Isle of Man: +44 shared with GB
@example("+12025550123", "US")    # +1 shared by the NANP countries
@example("+80012345678", "RO")    # non-geographic
@example("+40700000000", "RO")    # not a number in use
def test_a_number_is_classified_as_the_library_documents(text, region):
    assume(text.strip().lower() not in _WITHHELD)  # Twilio's words for a hidden number, some of them digits
    expected = reference_caller(text, region)
    assert caller_from(text, region) == expected
    if text.isdigit():  # keyed in: a mobile, in E.164, or nothing
        keyed = reference_caller("+" + text[2:] if text.startswith("00") else text, region)
        assert keyed_mobile(text, region) == (keyed.e164 if keyed.can_receive_sms else None)
    assert expected.withheld or expected.e164.startswith("+")


@pytest.mark.parametrize("raw", ["anonymous", "client:alice", "sip:op@example.ro", "", None, "+266696687"])
def test_withheld_and_softphone_callers_have_no_number(raw):
    assert caller_from(raw, "RO") == Caller(None, None, False)
