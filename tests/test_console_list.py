"""The work list (issue 10): everyone reads every ticket and acts only as allowed, search by any
writing of a phone number, quick filters with their counts, urgent rows, sorting, numbered pages
with a jump, the live refresh's version token, supervisors' bulk take and assign, assigning from a
ticket's page, the skip link and the shortcuts overlay; then the same list in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ivr import create_app
from ivr.models import SmsMessage, Ticket, TicketEvent
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import bucharest
from servers import werkzeug_thread
from console_client import PASSWORD, act, csrf, row, ticket, voicemail


CALLER = "+40722123456"


@pytest.fixture
def database_url(any_database_url):
    """The list's SQL (sorting, subqueries, LIKE) runs on SQLite and on PostgreSQL."""
    return any_database_url


def numbers_on(page: str) -> list[str]:
    """The ticket numbers of the list's rows, in their order."""
    return re.findall(r'<tr class="[^"]*" data-number="([^"]+)"', page)


def text(reply) -> str:
    return re.sub(r"\s+", " ", reply.get_data(as_text=True))


def set_fields(db, number: str, **values) -> None:
    with db.session() as session, session.begin():
        session.execute(update(Ticket).where(Ticket.number == number).values(**values))


# -- everyone reads every ticket; acting stays with the assignee and supervisors --------------

@pytest.mark.parametrize("lang, held", [("ro", "Tichetul este preluat de ana."), ("en", "This ticket is taken by ana.")])
def test_an_operator_reads_a_colleagues_ticket_but_cannot_act_on_it(app, db, clock, as_user, lang, held):
    [number] = voicemail(app, db, clock, caller=CALLER)
    act(as_user("ana"), number, "take")
    ion = as_user("ion")
    ion.get(f"/console/language/{lang}")
    assert numbers_on(text(ion.get("/console/"))) == [number]
    page = ion.get(f"/console/tickets/{number}")
    assert page.status_code == 200 and held in text(page)
    for action in ("take", "resolve", "progress"):
        assert f'action="/console/tickets/{number}/{action}#actions"' not in text(page)
    assert ion.get(f"/console/tickets/{number}/recording").status_code != 403  # 404 here: no Twilio account
    # An internal note is the one thing a colleague may add (it neither changes the ticket nor texts anyone).
    noted = ion.post(f"/console/tickets/{number}/note", data={"csrf_token": csrf(page), "text": "Clientul a sunat din nou."})
    assert noted.status_code == 303 and ticket(db, number).events[-1].kind == "note"
    # ana, the assignee, still has her forms.
    assert f'action="/console/tickets/{number}/resolve#actions"' in text(as_user("ana").get(f"/console/tickets/{number}"))


@pytest.mark.parametrize("typed", ["0722 123 456", "0722123456", "+40722123456", "40722123456", "722123456",
                                   "0040 722 123 456", "+40 722-123-456"])
@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_caller_is_found_by_their_number_written_any_usual_way(app, db, clock, as_user, typed, lang):
    [wanted] = voicemail(app, db, clock, caller=CALLER)
    voicemail(app, db, clock, caller="+40733000111")
    act(as_user("ana"), wanted, "take")   # a colleague's ticket is found too
    ion = as_user("ion")
    ion.get(f"/console/language/{lang}")
    assert numbers_on(text(ion.get("/console/", query_string={"q": typed}))) == [wanted]


def test_search_by_sms_number_ticket_number_and_client_code(app, db, clock, as_user):
    report = VoicemailReport("CA" + "9" * 32, "technical", "ro", "+40215551234", "+40744555666", "RE" + "9" * 32,
                             f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/RE{'9' * 32}",
                             20, "completed", "record action")
    with db.session() as session, session.begin():
        landline = register_voicemail(session, app.extensions["ivr.hotline"], report, clock()).number
    [other, coded] = voicemail(app, db, clock, n=2, caller="+40733000111")
    set_fields(db, coded, client_code="PN-48213")
    client = as_user("ion")
    assert numbers_on(text(client.get("/console/?q=0744 555 666"))) == [landline]   # the SMS number
    assert numbers_on(text(client.get("/console/?q=021 555 1234"))) == [landline]  # the landline
    assert numbers_on(text(client.get(f"/console/?q={other}"))) == [other]
    assert numbers_on(text(client.get(f"/console/?q={other.lower()}"))) == [other]
    assert numbers_on(text(client.get("/console/?q=pn-48213"))) == [coded]
    assert numbers_on(text(client.get("/console/?q=%25"))) == []   # LIKE's wildcard is taken literally


# -- urgency at a glance, the quick filters and their counts ---------------------------------

def test_rows_signal_overdue_and_due_today_and_the_list_counts_the_overdue(app, db, clock, as_user):
    clock.now = bucharest(2026, 11, 2, 10, 0)              # Monday
    [late] = voicemail(app, db, clock)                      # technical, 3 working days: 5 November
    clock.now = bucharest(2026, 11, 3, 10, 0)
    [today] = voicemail(app, db, clock)                     # 6 November
    [later] = voicemail(app, db, clock, department="payments")  # 30 days: 3 December
    clock.now = bucharest(2026, 11, 6, 12, 0)
    page = text(as_user("ana").get("/console/"))
    assert row(page, late).startswith('<tr class="overdue"') and "depășită cu o zi" in row(page, late)
    assert row(page, today).startswith('<tr class="due-today"') and "scadentă azi" in row(page, today)
    assert row(page, later).startswith('<tr class=""')
    assert re.search(r'class="chip chip-overdue alarm"[^>]*><strong>1</strong> depășită</a>', page)
    clock.now = bucharest(2026, 11, 7, 12, 0)
    page = text(as_user("ana").get("/console/"))
    assert re.search(r"<strong>2</strong> depășite</a>", page)
    assert numbers_on(text(as_user("ana").get("/console/?overdue=1"))) == [late, today]


def test_mine_and_unassigned_filters(app, db, clock, as_user):
    [anas, ions, nobodys] = voicemail(app, db, clock, n=3)
    act(as_user("ana"), anas, "take")
    act(as_user("ion"), ions, "take")
    ana = as_user("ana")
    assert numbers_on(text(ana.get("/console/?mine=1"))) == [anas]
    assert numbers_on(text(ana.get("/console/?unassigned=1"))) == [nobodys]
    page = text(ana.get("/console/"))
    assert re.search(r"<strong>1</strong> a mea</a>", page) and re.search(r"<strong>1</strong> nepreluată</a>", page)
    ana.get("/console/language/en")
    page = text(ana.get("/console/?mine=1"))
    assert re.search(r'class="chip chip-mine on alarm"[^>]*aria-current="true"><strong>1</strong> mine</a>', page)


def test_an_undelivered_sms_is_flagged_in_the_list_and_filtered(app, db, clock, as_user):
    [failed, fine] = voicemail(app, db, clock, n=2)
    with db.session() as session, session.begin():
        session.execute(update(SmsMessage).where(SmsMessage.ticket_id == select(Ticket.id).where(Ticket.number == failed)
                                                 .scalar_subquery()).values(status="undelivered", error_code=30003))
    client = as_user("ana")
    page = text(client.get("/console/"))
    assert 'class="visually-hidden">ultimul SMS către client nu a fost livrat</span>' in row(page, failed)
    assert "visually-hidden" not in row(page, fine)
    assert re.search(r"<strong>1</strong> cu SMS nelivrat</a>", page)
    assert numbers_on(text(client.get("/console/?sms_failed=1"))) == [failed]
    # The customer is texted again (the resolution): the last SMS is on its way, the flag goes.
    act(client, failed, "resolve", text="Rezolvat.", confirm="1")
    assert numbers_on(text(client.get("/console/?sms_failed=1"))) == []


# -- sorting, done by the database, kept by the pages and the filters -----------------------------

def test_columns_sort_in_sql_both_ways_and_the_order_is_kept(app, db, clock, as_user):
    clock.now = bucharest(2026, 11, 16, 9, 0)
    [first] = voicemail(app, db, clock, department="payments")
    clock.now = bucharest(2026, 11, 16, 11, 0)
    [second] = voicemail(app, db, clock, department="technical")
    clock.now = bucharest(2026, 11, 17, 9, 0)
    [third] = voicemail(app, db, clock, department="customer_relations")
    act(as_user("ion"), first, "take")
    act(as_user("ana"), third, "take")
    client = as_user("maria")
    order = lambda **query: numbers_on(text(client.get("/console/", query_string=query)))  # noqa: E731
    assert order(sort="registered") == [first, second, third]
    assert order(sort="registered", dir="desc") == [third, second, first]
    assert order(sort="number", dir="desc") == [third, second, first]
    assert order(sort="deadline") == [second, first, third]       # 19 Nov (3 working days), 16 Dec, 17 Dec
    assert order(sort="assignee") == [third, first, second]       # ana, ion, then nobody (last either way)
    assert order(sort="assignee", dir="desc") == [first, third, second]
    assert order(sort="status") == [second, first, third]         # registered, then in progress
    # Departments by their name in the reader's language: Plăți, Relații cu Clienții, Tehnic.
    assert order(sort="department") == [first, third, second]
    page = text(client.get("/console/?sort=registered&dir=desc&status=open"))
    assert 'aria-sort="descending"' in page and '<input type="hidden" name="sort" value="registered">' in page
    assert '<input type="hidden" name="dir" value="desc">' in page   # the filter form keeps the order
    # The column's own link turns the order around; the others start ascending.
    assert 'href="/console/?sort=registered&amp;status=open"' in page


def test_sorting_and_filters_are_kept_across_pages(app, db, clock, as_user):
    voicemail(app, db, clock, n=30, department="payments")
    client = as_user("ana")
    first = text(client.get("/console/?sort=number&dir=desc&department=payments"))
    assert 'href="/console/?sort=number&amp;dir=desc&amp;department=payments&amp;page=2"' in first
    second = numbers_on(text(client.get("/console/?sort=number&dir=desc&department=payments&page=2")))
    assert second == [f"RC-2026-{n:06d}" for n in range(5, 0, -1)]


# -- pages: numbers around this one, first and last, a jump ----------------------------------------

def test_pages_have_numbers_first_last_and_a_jump_box(app, db, clock, as_user):
    voicemail(app, db, clock, n=26 * 5, department="payments")   # 6 pages of 25
    client = as_user("ana")
    page = text(client.get("/console/?department=payments&page=4"))
    assert "Pagina 4 din 6" in page and '<span class="current" aria-current="page">4</span>' in page
    for n in (1, 2, 3, 5, 6):
        assert f'href="/console/?department=payments&amp;page={n}">' in page
    assert 'rel="first">« Prima</a>' in page and 'rel="last">Ultima »</a>' in page
    jump = re.search(r'<form method="get" action="/console/" class="jump">.*?</form>', page).group(0)
    assert '<input type="hidden" name="department" value="payments">' in jump and 'name="page"' in jump
    assert 'max="6"' in jump
    assert "Pagina 6 din 6" in text(client.get("/console/?department=payments&page=9999"))   # past the end: the last
    first = text(client.get("/console/?department=payments"))
    assert "…" in first and 'rel="prev"' not in first and 'rel="last"' in first


# -- live updates: a version token any worker can compute ------------------------------------

def test_the_version_token_changes_when_any_ticket_does(app, db, clock, as_user):
    client = as_user("ana")
    version = lambda: client.get("/console/tickets/version").get_json()["version"]  # noqa: E731
    empty = version()
    reply = client.get("/console/tickets/version")
    assert reply.headers["Cache-Control"] == "no-store" and reply.mimetype == "application/json"
    [number] = voicemail(app, db, clock)
    registered = version()
    assert registered != empty
    assert f'data-version="{registered}"' in text(client.get("/console/"))   # the page knows its own
    assert version() == registered   # reading changes nothing
    act(as_user("ion"), number, "take")
    taken = version()
    assert taken != registered
    with db.session() as session, session.begin():
        session.execute(update(SmsMessage).values(status="delivered", updated_at=bucharest(2026, 11, 17, 10, 5)))
    assert version() != taken
    assert app.test_client().get("/console/tickets/version").status_code == 302   # signed in only


# -- bulk take and assign, and assigning from a ticket's page (supervisors only) ------------------

def bulk(client, action: str, numbers: list[str], **form):
    token = csrf(client.get("/console/"))
    return client.post("/console/tickets/bulk", data={"csrf_token": token, "action": action, "ticket": numbers,
                                                       "back": "/console/?status=open", **form})


def user_id(db, name: str) -> int:
    from ivr.models import User

    with db.session() as session:
        return session.scalar(select(User.id).where(User.name == name))


def test_a_supervisor_takes_and_assigns_many_tickets_at_once(app, db, clock, as_user):
    [a, b, c, closed] = voicemail(app, db, clock, n=4)
    maria = as_user("maria")
    act(maria, closed, "reject", text="Nu este o reclamație.", confirm="1")
    page = text(maria.get("/console/"))
    assert f'<input type="checkbox" name="ticket" value="{a}" form="bulk"' in page and 'id="select-all"' in page
    reply = bulk(maria, "take", [a, b])
    assert reply.status_code == 303 and reply.location.endswith("/console/?status=open")
    assert [ticket(db, n).assignee.name for n in (a, b)] == ["maria", "maria"]
    reply = bulk(maria, "assign", [a, b, c, closed], assignee=str(user_id(db, "ion")))
    page = text(maria.get(reply.location))
    assert "Gata: 3 tichete." in page and f"Tichetul {closed} a fost deja respins de maria." in page
    assert [ticket(db, n).assignee.name for n in (a, b, c)] == ["ion", "ion", "ion"]
    assert ticket(db, c).status == "in_progress" and ticket(db, closed).status == "rejected"
    event = ticket(db, c).events[-1]
    assert (event.kind, event.actor, event.data) == ("assigned", "supervisor:maria", {"to": "ion"})
    assert "Bifați cel puțin un tichet" in text(maria.get(bulk(maria, "take", []).location))


def test_operators_get_no_bulk_actions_and_cannot_assign(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    ana = as_user("ana")
    page = text(ana.get("/console/"))
    assert 'id="bulk"' not in page and 'name="ticket"' not in page
    assert bulk(ana, "take", [number]).status_code == 403
    reply = act(ana, number, "assign", assignee=str(user_id(db, "ion")))
    assert "Doar un supervizor poate atribui tichete." in text(reply)  # refused: the page again, saying why
    assert ticket(db, number).assignee is None and [e.kind for e in ticket(db, number).events] == ["registered"]
    assert f'action="/console/tickets/{number}/assign#actions"' not in text(ana.get(f"/console/tickets/{number}"))


def test_a_supervisor_assigns_a_ticket_from_its_page(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    act(as_user("ion"), number, "take")
    maria = as_user("maria")
    page = text(maria.get(f"/console/tickets/{number}"))
    assert f'action="/console/tickets/{number}/assign#actions"' in page
    reply = act(maria, number, "assign", assignee=str(user_id(db, "ana")))
    assert reply.status_code == 303 and ticket(db, number).assignee.name == "ana"
    assert "atribuită" in text(maria.get(f"/console/tickets/{number}"))
    # ana may now work it, ion only read it.
    assert f'action="/console/tickets/{number}/resolve#actions"' in text(as_user("ana").get(f"/console/tickets/{number}"))
    assert "Tichetul este preluat de ana." in text(as_user("ion").get(f"/console/tickets/{number}"))
    reply = act(maria, number, "assign", assignee="999999")
    assert "Alegeți un utilizator din listă." in text(reply)
    with db.session() as session:
        assert session.scalars(select(TicketEvent.kind).where(TicketEvent.kind == "assigned")).all() == ["assigned"]


# -- the skip link and the shortcuts overlay on every console page ---------------------------------

def test_every_page_has_a_skip_link_and_the_shortcuts_overlay(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    client = as_user("maria")
    for path in ("/console/", f"/console/tickets/{number}", "/console/calls", "/console/overview"):
        page = text(client.get(path))
        assert '<a class="skip-link" href="#content">Sari la conținut</a>' in page, path
        assert '<main id="content" tabindex="-1">' in page and '<dialog id="shortcuts"' in page, path
        assert "/static/keys.js" in page and "<script>" not in page, path
    assert "Sari la conținut" in text(app.test_client().get("/console/login"))


# -- in Chromium: widths, live arrival, shortcuts -------------------------------------------------

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
DESKTOP, PHONE = {"width": 1280, "height": 768}, {"width": 390, "height": 844}  # a usual laptop, a phone


@pytest.fixture
def served(app_config, clock):
    """The hotline over real HTTP on 127.0.0.1 (threaded werkzeug), the list polled every second;
    20 open tickets (some overdue, one due today) and supervisor maria. Yields (app, base URL)."""
    app = create_app({**app_config, "SECRET_KEY": "list-test-secret", "CONSOLE_LIST_POLL_SECONDS": 1})
    db = app.extensions["ivr.db"]
    with db.session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", clock())
        add_user(session, "ana", PASSWORD, "operator", clock())
    clock.now = bucharest(2026, 11, 2, 10, 0)
    voicemail(app, db, clock, n=4, caller="+40722123456")
    clock.now = bucharest(2026, 11, 12, 10, 0)
    voicemail(app, db, clock, n=16, department="customer_relations", caller="+40733555111")
    with db.session() as session, session.begin():  # a client code widens its caller's cell
        session.execute(update(Ticket).where(Ticket.id == 1).values(client_code="12345678"))
    clock.now = bucharest(2026, 11, 17, 10, 0)
    try:
        with werkzeug_thread(app) as base_url:
            yield app, base_url
    finally:
        app.extensions["ivr.call_events"].flush(5)
        app.extensions["ivr.db"].engine.dispose()


def _signed_in_tab(browser, base_url: str, viewport: dict, lang: str = "ro"):
    context = browser.new_context(viewport=viewport, locale="ro-RO")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto(f"{base_url}/console/login")
    tab.fill("input[name=name]", "maria")
    tab.fill("input[name=password]", PASSWORD)
    tab.press("input[name=password]", "Enter")
    tab.wait_for_url(f"{base_url}/console/")
    return context, tab


def _no_sideways_scroll(tab) -> None:
    widths = tab.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                          " document.querySelector('header.bar').scrollWidth, document.querySelector('header.bar').clientWidth]")
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths


def _shot(tab, name: str) -> None:
    """The whole page, and what the screen shows first (``-screen`` added to the name)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    tab.screenshot(path=str(SCREENSHOTS / name.replace(".png", "-screen.png")))


@pytest.mark.slow
def test_the_list_in_a_browser_at_desktop_and_phone_width(browser, served, clock):
    from playwright.sync_api import expect

    app, base_url = served
    context, tab = _signed_in_tab(browser, base_url, DESKTOP)
    try:
        blocked = []
        tab.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        rows = tab.locator("table.tickets tbody tr")
        expect(rows).to_have_count(20)
        _no_sideways_scroll(tab)
        # Ticket numbers and dates stay on one line; 15 rows or more fit on the 768-pixel screen.
        lines = tab.evaluate(
            "() => Array.from(document.querySelectorAll('td.col-number a, td.col-registered, td.col-deadline')).map(cell => {"
            " const range = document.createRange(); range.selectNodeContents(cell);"
            " return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.bottom))).size; })")
        assert set(lines) == {1}, lines
        visible = tab.evaluate("() => Array.from(document.querySelectorAll('table.tickets tbody tr'))"
                               ".filter(tr => tr.getBoundingClientRect().bottom <= window.innerHeight).length")
        assert visible >= 15, visible
        expect(tab.locator("tr.overdue")).to_have_count(4)
        _shot(tab, "ticket-list-1366.png")

        # A voicemail arrives: it is in the open list within seconds, without a reload.
        tab.evaluate("window.notReloaded = true")
        [number] = voicemail(app, app.extensions["ivr.db"], clock, caller="+40744000999")
        expect(tab.locator(f'tr[data-number="{number}"]')).to_have_count(1)
        expect(tab.locator("#live-note")).to_have_text("Lista s-a actualizat.")
        assert tab.evaluate("window.notReloaded") is True

        # Shortcuts: "?" opens the overlay; j moves to a row, Enter opens it; not while typing.
        tab.locator("input[type=search]").press("?")
        expect(tab.locator("#shortcuts")).not_to_be_visible()
        tab.locator("h1").click()
        tab.keyboard.press("?")
        expect(tab.locator("#shortcuts")).to_be_visible()
        _shot(tab, "shortcuts-1366.png")
        tab.keyboard.press("Escape")
        expect(tab.locator("#shortcuts")).not_to_be_visible()
        tab.keyboard.press("j")
        tab.keyboard.press("j")
        current = tab.locator("tr.current")
        expect(current).to_have_count(1)
        second = current.get_attribute("data-number")
        assert second == rows.nth(1).get_attribute("data-number")
        tab.keyboard.press("Enter")
        tab.wait_for_url(f"{base_url}/console/tickets/{second}")
        tab.locator("h1").click()
        tab.keyboard.press("t")   # take it
        expect(tab.locator(".flash.ok")).to_be_visible()
        tab.wait_for_load_state("load")   # keys.js (deferred) is listening again
        tab.keyboard.press("g")
        tab.keyboard.press("l")
        tab.wait_for_url(f"{base_url}/console/")

        tab.set_viewport_size(PHONE)
        tab.reload()
        _no_sideways_scroll(tab)
        # The quick filters and counts keep to a line each: the first ticket is whole on the first screen.
        first_bottom = tab.evaluate("() => document.querySelector('table.tickets tbody tr').getBoundingClientRect().bottom")
        assert first_bottom <= PHONE["height"], first_bottom
        _shot(tab, "ticket-list-390.png")
        tab.goto(f"{base_url}/console/?page=1&sort=deadline")
        _no_sideways_scroll(tab)
        assert blocked == []
    finally:
        context.close()
