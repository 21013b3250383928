"""What the operator sees before an action that texts the customer or changes the ticket's
terms: the exact SMS and its parts, the compensation owed, the milestones that move.

Built from the form and the ticket; nothing is written. The console renders the result with
a confirm button that posts the same form again with ``confirm=1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..compensation import formula_in_words, parse_money
from ..errors import TicketError
from ..inputs import ascii_int
from ..models import Ticket
from ..settings import HotlineConfig
from ..sms.text import gsm7_length, segments
from ..tickets import casework, terms as ticket_terms

# Actions that text the customer or change the ticket's terms, with the SMS each may send.
PREVIEWED = {"progress": "ticket_progress", "resolve": "ticket_resolved", "reject": "ticket_rejected",
             "extend": "ticket_extended", "reclassify": "ticket_reclassified"}
# Sending a failed SMS again: the same text, to the same number or to one the operator typed.
RESENDS = ("resend", "send_to")


class PreviewProblem(Exception):
    """The form cannot be previewed; ``label`` names the console label that says why, with ``values``."""

    def __init__(self, label: str, **values: str) -> None:
        self.label, self.values = label, values
        super().__init__(label)


def preview(hotline: HotlineConfig, ticket: Ticket, action: str, form: Mapping[str, str], now: datetime,
            labels: Mapping[str, str]) -> dict:
    """The preview of ``action`` on ``ticket``; TicketError when the procedure refuses it."""
    if action in RESENDS:
        return _resend(hotline, ticket, action, form)
    text = form.get("text", "").strip()
    if not text:
        raise PreviewProblem("terms_reason_empty" if action in ("extend", "reclassify") else "message_empty")
    if len(text) > casework.MAX_TEXT:  # a browser enforces maxlength; a script or an old page may not
        raise PreviewProblem("refused_too_long", max=str(casework.MAX_TEXT))
    shown = {"action": action, "text": text, "monthly": "", "compensation": "", "moves": [], "department": "",
             "sms": None, "to": ticket.sms_to, "carry": {}}
    if action == "resolve":
        _resolution(hotline, ticket, form, now, labels, shown)
    elif action == "extend":
        change = ticket_terms.plan_extension(hotline, ticket, now)
        _terms(hotline, shown, change)
        _sms(hotline, ticket, shown, "ticket_extended", deadline=change.told.text(hotline.routing.timezone), message=text)
    elif action == "reclassify":
        change = ticket_terms.plan_reclassification(hotline, ticket, form.get("department", ""))
        _terms(hotline, shown, change)
        shown["department"] = change.department
        if change.legal_changed:
            names = hotline.routing.departments[change.department].name
            _sms(hotline, ticket, shown, "ticket_reclassified", deadline=change.told.text(hotline.routing.timezone),
                 department=names.get(ticket.language) or names[hotline.routing.default_language])
    else:
        _sms(hotline, ticket, shown, PREVIEWED[action], message=text)
    return shown


def _resolution(hotline, ticket, form, now, labels, shown) -> None:
    monthly = parse_money(form.get("monthly", "")[:20])
    try:
        compensation = casework.compensation_of(hotline, ticket, monthly, now)
    except TicketError:
        raise PreviewProblem("monthly_needed") from None
    if compensation is not None:
        shown["monthly"] = form.get("monthly", "")[:20]
        shown["compensation"] = formula_in_words(compensation, labels)
    message = casework.resolution_message(hotline, ticket, shown["text"], compensation)
    _sms(hotline, ticket, shown, "ticket_resolved", message=message)


def _terms(hotline: HotlineConfig, shown: dict, change: ticket_terms.TermsChange) -> None:
    tz = hotline.routing.timezone
    shown["moves"] = [{"name": m.name, "final": m.final, "before": m.before.text(tz) if m.before else "",
                       "after": m.after.text(tz)} for m in change.moves]


def _sms(hotline: HotlineConfig, ticket: Ticket, shown: dict, template: str, **values: str) -> None:
    sms = casework.sms_text(hotline, ticket, template, **values)
    shown["sms"] = {"text": sms.text, "parts": sms.parts, "characters": gsm7_length(sms.text)}


def _resend(hotline: HotlineConfig, ticket: Ticket, action: str, form: Mapping[str, str]) -> dict:
    """The failed SMS as it will be sent again, and to which number; ``carry`` holds the fields
    the confirm button posts back."""
    message_id = ascii_int(form.get("message"), max_digits=12)
    failed = next((m for m in casework.resendable(ticket) if m.id == message_id), None)
    if failed is None:
        raise PreviewProblem("sms_resend_gone")
    carry = {"message": str(failed.id)}
    to = failed.to
    if action == "send_to":
        to = casework.sms_number(hotline, form.get("number", ""))
        if to is None:
            raise PreviewProblem("sms_number_invalid_form")
        carry |= {"number": to, "keep": "1" if form.get("keep") == "1" else ""}
    return {"action": action, "text": "", "monthly": "", "compensation": "", "moves": [], "department": "",
            "sms": {"text": failed.body, "parts": segments(failed.body), "characters": gsm7_length(failed.body)},
            "to": to, "carry": carry, "keep": carry.get("keep") == "1"}
