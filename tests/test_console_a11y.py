"""Every console page in a real browser, at a laptop's and a phone's size: axe-core finds no
accessibility violation of any impact, nothing scrolls sideways, and the Romanian console shows
no English. Screenshots of every page at both sizes go to ``test-output/screenshots/``.

axe-core is vendored into ``tests/vendor/axe-core/`` (from npm); the app never serves it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.tickets import casework
from ivr.models import Callback, CallRecord, Ticket, User
from ivr.states import TicketSource
from ivr.softphone import Call, HttpTransport, ScriptedCaller
from ivr.tickets.registration import VoicemailReport, open_ticket, register_voicemail
from ivr.users import add_user

from conftest import AUTH_TOKEN, ROOT, bucharest
from in_browser import TIMEOUT_MS, screenshot

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow(seconds=10)

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}
SUPERVISOR, PASSWORD = "maria", "correct horse battery"
# Words that are the same in both catalogs or are names (a language offered in its own name),
# not English left in a Romanian page.
NOT_ENGLISH = {"English", "Enter", "Twilio", "ProNET", "Soluții", "SMS", "CSV", "email", "online", "status", "operator", "operatori",
               "supervisor", "total", "audio", "minute", "client", "contract", "internet"}


@pytest.fixture
def console_data(live_app, twilio, clock):
    """A hotline with a call, tickets in every state (one overdue, one resolved with its SMS,
    one with an undelivered SMS) and a supervisor; yields (base URL, {page name: path})."""
    app, base_url = live_app
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    ui = ScriptedCaller(keys_script=["1"], records=[20])
    Call(base_url, AUTH_TOKEN, HttpTransport(), ui, caller="+40733555111", account_sid=twilio.account_sid).run()
    with db.session() as session, session.begin():
        maria = add_user(session, SUPERVISOR, PASSWORD, "supervisor", clock())
        for i, (department, day) in enumerate((("payments", 2), ("technical", 10), ("customer_relations", 16))):
            report = VoicemailReport(f"CA{i:032d}", department, "ro", "+4072212345" + str(i), "+4072212345" + str(i),
                                     None, None, None, "completed", "record action")
            ticket = register_voicemail(session, hotline, report, bucharest(2026, 11, day, 10, 0))
            if department == "customer_relations":
                casework.take(session, ticket, maria, clock())
                casework.add_note(session, ticket, maria, "Clientul revine mâine.", clock())
                casework.resolve(session, hotline, ticket, maria, "Am corectat factura.", clock())
        # A caller who asked to be called back two hours ago and is overdue: its page offers the call.
        asked = clock() - timedelta(hours=2)
        callback = open_ticket(session, hotline, call_sid="CA" + "b" * 32, department="technical", caller="+40744555666",
                               sms_to="+40744555666", language="ro", source=TicketSource.CALLBACK, now=asked)
        session.add(Callback(ticket=callback, number="+40744555666", hotline_number="+40215894141",
                             requested_at=asked, due_at=asked + timedelta(hours=1)))
    with db.session() as session:
        number = session.scalars(select(Ticket.number).where(Ticket.department == "technical").order_by(Ticket.id)).first()
        called_back = session.scalar(select(Ticket.number).where(Ticket.source == TicketSource.CALLBACK))
        call_sid = session.scalars(select(CallRecord.call_sid)).first()
        assert session.scalar(select(User).where(User.name == SUPERVISOR)) is not None
    pages = {
        "list": "/console/", "ticket": f"/console/tickets/{number}", "overview": "/console/overview",
        "calls": "/console/calls", "call": f"/console/calls/{call_sid}", "call-stats": "/console/calls/stats",
        "not-found": "/console/tickets/RC-2026-999999", "incidents": "/console/incidents",
        "callbacks": "/console/callbacks", "callback-ticket": f"/console/tickets/{called_back}",
    }
    return base_url, pages


def english_words() -> set[str]:
    """Words of the English console catalog that the Romanian one never uses."""
    import yaml

    def words(path: Path) -> set[str]:
        found = set()
        for value in yaml.safe_load(path.read_text(encoding="utf-8")).values():
            for text in value.values() if isinstance(value, dict) else [value]:
                found |= {w.lower() for w in re.findall(r"[A-Za-z]{4,}", re.sub(r"\{[^}]*\}", " ", str(text)))}
        return found

    ro, en = words(ROOT / "prompts/console/ro.yaml"), words(ROOT / "prompts/console/en.yaml")
    return en - ro - {w.lower() for w in NOT_ENGLISH}


def sign_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.locator("input[name=name]").fill(SUPERVISOR)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{base_url}/console/")


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]} for v in result]


def sideways_scroll(page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.parametrize("size", SIZES)
def test_every_page_is_accessible_fits_the_screen_and_speaks_romanian(browser, console_data, size):  # noqa: F811
    base_url, pages = console_data
    width, height = SIZES[size]
    # bypass_csp: the console forbids inline scripts, and axe is injected as one.
    context = browser.new_context(viewport={"width": width, "height": height}, locale="ro-RO", bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems, english = {}, english_words()
    try:
        page.goto(f"{base_url}/console/login")
        found = {"login": (axe_violations(page), sideways_scroll(page))}
        screenshot(page, f"a11y-login-{size}.png")
        sign_in(page, base_url)
        for name, path in pages.items():
            page.goto(base_url + path)
            # Twilio's ids (RE…, CA…, SM… and 32 hex digits) are not words: "REad12…" is no "read".
            text = re.sub(r"\b[A-Z]{2}[0-9a-fA-F]{32}\b", " ", page.evaluate("() => document.body.innerText"))
            leftovers = sorted({w for w in re.findall(r"[A-Za-z]{4,}", text) if w.lower() in english})
            found[name] = (axe_violations(page), sideways_scroll(page), leftovers)
            screenshot(page, f"a11y-{name}-{size}.png")
        for name, (violations, overflow, *rest) in found.items():
            if violations or overflow > 0 or (rest and rest[0]):
                problems[name] = {"axe": violations, "sideways_px": overflow, "english": rest[0] if rest else []}
    finally:
        context.close()
    assert not problems, problems
