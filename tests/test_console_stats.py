"""The supervisor's call statistics page: who may see it, in both console languages, and how it
looks in Chromium at a desktop's and a phone's width (screenshots in test-output/screenshots/)."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest

from ivr import create_app
from ivr.calls.stats import call_stats
from ivr.models import CallRecord
from ivr.states import TicketSource
from ivr.tickets.registration import open_ticket
from ivr.users import add_user

from conftest import BUCHAREST, bucharest
from console_client import PASSWORD, sign_in
from servers import werkzeug_thread
from in_browser import TIMEOUT_MS, screenshot

DEPARTMENTS = ("technical", "payments", "customer_relations", None)
OUTCOMES = ("answered",) * 12 + ("voicemail",) * 3 + ("abandoned_ringing",) * 2 + ("abandoned_menu",) * 3 + ("error",)


def fill_fortnight(app, clock) -> None:
    """Users ana (operator) and maria (supervisor), and two weeks of calls up to the clock's
    morning: busier on weekdays and around 10:00 and 17:00, a ticket for every voicemail and for
    most answered calls. Seeded, so every run draws the same figures."""
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    draw = random.Random(8)
    today = clock().astimezone(BUCHAREST).date()
    with db.session() as s, s.begin():
        for name, role in (("ana", "operator"), ("maria", "supervisor")):
            add_user(s, name, PASSWORD, role, clock())
        for n in range(14, -1, -1):
            day = today - timedelta(days=n)
            for i in range(draw.randint(4, 9) if day.weekday() >= 5 else draw.randint(14, 30)):
                hour = min(max(int(draw.choice((draw.gauss(10.5, 1.5), draw.gauss(16.5, 1.8), draw.uniform(0, 24)))), 0), 23)
                started = bucharest(day.year, day.month, day.day, hour, draw.randint(0, 59))
                if started >= clock():
                    continue
                _add_call(s, hotline, draw, f"CA{n:02d}{i:030d}", started)


def _add_call(s, hotline, draw: random.Random, sid: str, started) -> None:
    outcome, department = draw.choice(OUTCOMES), draw.choice(DEPARTMENTS)
    if outcome in ("answered", "voicemail", "abandoned_ringing") and department is None:
        department = "technical"
    offered = outcome in ("answered", "abandoned_ringing") or (outcome == "voicemail" and draw.random() < 0.5)
    offered_at = started + timedelta(seconds=draw.randint(8, 25)) if offered else None
    answered_at = offered_at + timedelta(seconds=int(draw.expovariate(1 / 12)) + 2) if outcome == "answered" else None
    s.add(CallRecord(call_sid=sid, caller="+40722123456", language="ro", department=department, started_at=started,
                     offered_at=offered_at, answered_at=answered_at, voicemail=outcome == "voicemail", errored=outcome == "error",
                     ended_at=started + timedelta(minutes=4), outcome=outcome))
    if outcome == "voicemail" or (outcome == "answered" and draw.random() < 0.6):
        source = TicketSource.VOICEMAIL if outcome == "voicemail" else TicketSource.OPERATOR
        open_ticket(s, hotline, call_sid=sid, department=department, caller="+40722123456", sms_to="+40722123456",
                    language="ro", source=source, now=started + timedelta(minutes=3))


def signed_in(client, name: str):
    assert sign_in(client, name).status_code == 302
    return client


@pytest.fixture
def fortnight(app, clock):
    """The app with two weeks of calls, ana and maria."""
    fill_fortnight(app, clock)
    return app


def test_supervisor_reads_the_statistics_in_romanian_and_in_english(fortnight):
    maria = signed_in(fortnight.test_client(), "maria")
    page = maria.get("/console/calls/stats").get_data(as_text=True)
    labels = fortnight.extensions["ivr.hotline"].console_labels
    with fortnight.extensions["ivr.db"].session() as s:
        expected = call_stats(s, date(2026, 11, 4), date(2026, 11, 17), BUCHAREST).total
    assert labels["ro"]["stats_title"] in page and labels["ro"]["stats_outcome_abandoned_ringing"] in page
    assert re.search(rf'id="kpi-calls">{expected.calls}<', page)
    assert f'id="kpi-in-time">{round(expected.share_in_time * 100)}%<' in page
    assert page.count('<svg class="hbar"') == 14 and '<svg class="columns"' in page  # 14 days, 24 hours
    assert "mar 17.11" in page and "style=" not in page  # the CSP allows no inline style

    maria.get("/console/language/en")
    page = maria.get("/console/calls/stats?from=2026-11-16&to=2026-11-17").get_data(as_text=True)
    assert labels["en"]["stats_title"] in page and labels["en"]["stats_outcome_abandoned_ringing"] in page
    assert page.count('<svg class="hbar"') == 2 and "Tue 17.11" in page
    assert labels["ro"]["stats_title"] not in page


def test_every_complaint_counts_however_it_came(fortnight, clock):
    """A callback request and an outage notice joined are complaints too: in the total, in the
    day's complaints without an operator, and named in the total's line when there are any."""
    db, hotline = fortnight.extensions["ivr.db"], fortnight.extensions["ivr.hotline"]
    maria = signed_in(fortnight.test_client(), "maria")
    before = maria.get("/console/calls/stats").get_data(as_text=True)
    assert "cu apel înapoi cerut" not in before and "la o întrerupere anunțată" not in before
    with db.session() as s, s.begin():
        expected = call_stats(s, date(2026, 11, 4), date(2026, 11, 17), BUCHAREST).total
        for n, source in enumerate((TicketSource.CALLBACK, TicketSource.INCIDENT, TicketSource.INCIDENT)):
            open_ticket(s, hotline, call_sid=f"CA{'e' * 31}{n}", department="technical", caller="+40733555111",
                        sms_to="+40733555111", language="ro", source=source, now=bucharest(2026, 11, 17, 9, n))
    page = maria.get("/console/calls/stats").get_data(as_text=True)
    assert f'id="kpi-complaints">{expected.complaints_total + 3}<' in page
    assert "· 1 cu apel înapoi cerut · 2 la o întrerupere anunțată" in page
    # Counts come after their words: "1 preluate" does not agree in Romanian, "la operator: 1" does.
    assert f"la operator: {expected.complaints_live} · prin mesaj vocal: {expected.complaints_voicemail}" in page
    tuesday = re.findall(r"<th scope=\"row\">mar 17.11</th>(.*?)</tr>", page, re.S)[-1]  # the table, after the chart
    cells = re.findall(r"<td>([^<]*)", tuesday)
    with db.session() as s:
        day = call_stats(s, date(2026, 11, 17), date(2026, 11, 17), BUCHAREST).total
    assert day.complaints_without_operator == day.complaints_voicemail + 3
    assert [int(cells[8]), int(cells[9])] == [day.complaints_live, day.complaints_without_operator]


def test_statistics_are_for_supervisors(fortnight):
    ana = signed_in(fortnight.test_client(), "ana")
    assert ana.get("/console/calls/stats").status_code == 403
    assert "/console/calls/stats" not in ana.get("/console/").get_data(as_text=True)
    assert "/console/calls/stats" in signed_in(fortnight.test_client(), "maria").get("/console/").get_data(as_text=True)
    reply = fortnight.test_client().get("/console/calls/stats")
    assert reply.status_code == 302 and "/console/login?next=/console/calls/stats" in reply.location


def test_odd_dates_show_the_last_two_weeks(fortnight):
    maria = signed_in(fortnight.test_client(), "maria")
    for query in ("from=2026-02-30", "from=17.11.2026&to=x", "to=2026-11-17%0a", "from=%EF%BC%92026-11-01"):
        page = maria.get(f"/console/calls/stats?{query}").get_data(as_text=True)
        assert 'name="from" value="2026-11-04"' in page and page.count('<svg class="hbar"') == 14, query


def test_a_call_page_route_does_not_swallow_the_statistics(app_config, clock):
    """The call log's /console/calls/<call_sid> (another blueprint) and this page coexist."""
    app = create_app(app_config)
    fill_fortnight(app, clock)
    maria = signed_in(app.test_client(), "maria")
    assert "kpi-calls" in maria.get("/console/calls/stats").get_data(as_text=True)
    assert maria.get("/console/calls/CA" + "7" * 32).status_code == 404  # the call page's answer: no such call


# -- in Chromium -------------------------------------------------------------------------------------

@pytest.fixture
def live_app(app_config, clock):
    """Two weeks of calls, served over real HTTP on 127.0.0.1; yields the base URL."""
    app = create_app({**app_config, "SECRET_KEY": "browser-test-secret"})
    fill_fortnight(app, clock)
    with werkzeug_thread(app) as base_url:
        yield base_url


@pytest.mark.slow
@pytest.mark.parametrize("width, height, lang", [(1280, 900, "ro"), (390, 844, "en")])
def test_statistics_page_in_chromium(browser, live_app, width, height, lang):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height}, locale="ro-RO")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
    try:
        if lang != "ro":
            page.goto(f"{live_app}/console/language/{lang}")
        page.goto(f"{live_app}/console/calls/stats")
        page.locator('input[name="name"]').fill("maria")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('button[type="submit"]').click()
        expect(page).to_have_url(f"{live_app}/console/calls/stats")
        expect(page.locator("#chart-days svg.hbar")).to_have_count(14)
        bars = page.locator("#chart-days svg.hbar").last.bounding_box()
        assert bars["width"] > width * 0.3, bars  # the bars get most of the width, on a phone too
        hours = page.locator("#chart-hours svg.columns").bounding_box()
        assert hours["height"] >= 150 and hours["width"] > width * 0.5, hours
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sticks out sideways
        screenshot(page, f"call-stats-{'desktop' if width > 800 else 'phone'}-{lang}.png")
        assert blocked == []
    finally:
        context.close()
