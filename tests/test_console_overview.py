"""The supervisor's overview: charts over one date range (the last 30 days unless chosen), the
overdue tickets 25 to a page, and the tickets whose last SMS did not reach the customer."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, update

from ivr.models import SmsMessage

from conftest import bucharest
from console_client import act, voicemail

WORDS = {"ro": {"title": "Situația reclamațiilor", "overdue": "Depășite acum", "failed": "SMS-uri care nu au ajuns",
                "scale": "scară: 2 reclamații", "in_time": "în termen"},
         "en": {"title": "Complaints overview", "overdue": "Overdue now", "failed": "SMS that did not arrive",
                "scale": "scale: 2 complaints", "in_time": "in time"}}


@pytest.fixture
def database_url(any_database_url):
    """The console's database: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    return any_database_url


def overview(client, **args) -> str:
    reply = client.get("/console/overview", query_string=args)
    assert reply.status_code == 200
    return re.sub(r"\s+", " ", html.unescape(reply.get_data(as_text=True)))


def section(page: str, element_id: str) -> str:
    """The HTML from the element ``element_id`` to the end of its section."""
    return page.split(f'id="{element_id}"', 1)[1].split("</section>", 1)[0]


def kpi(page: str, element_id: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(rf'id="{element_id}">(.*?)</p>', page).group(1)).strip()


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_every_figure_counts_the_last_30_days_unless_a_range_is_chosen(app, db, clock, as_user, lang):
    voicemail(app, db, clock, at=bucharest(2026, 10, 18, 9, 0))         # 31 days before: outside
    voicemail(app, db, clock, n=2, at=bucharest(2026, 10, 19, 9, 0))    # the first of the 30 days
    [closed] = voicemail(app, db, clock, at=bucharest(2026, 11, 16, 9, 0), department="payments")
    act(as_user("ana"), closed, "resolve", text="Rezolvat.", confirm="1")  # 17.11, in time
    maria = as_user("maria")
    maria.get(f"/console/language/{lang}")
    page = overview(maria)
    assert WORDS[lang]["title"] in page and 'name="from" value="2026-10-19"' in page and 'name="to" value="2026-11-17"' in page
    assert kpi(page, "kpi-registered") == "3" and kpi(page, "share-in-time").startswith("100% (1 / 1)")
    chart = section(page, "chart-registered")
    assert chart.count("<th scope=\"row\">") == 30 and WORDS[lang]["scale"] in chart
    assert re.search(r"19\.10</th> <td class=\"plot\"><svg[^>]*><rect class=\"series-0\" x=\"0.0\" y=\"0\" width=\"100.0\"", chart)
    assert f"<title>{WORDS[lang]['in_time']}: 1</title>" in section(page, "chart-closed") and "1 / 1" in section(page, "chart-closed")
    # One range for all: the 18th alone has one ticket and nothing closed.
    page = overview(maria, **{"from": "2026-10-18", "to": "2026-10-18"})
    assert kpi(page, "kpi-registered") == "1" and section(page, "chart-registered").count("<th scope=\"row\">") == 1
    assert 'id="share-in-time"' in page and "100%" not in kpi(page, "share-in-time")


def test_a_range_given_backwards_or_garbled_still_shows(app, db, clock, as_user):
    maria = as_user("maria")
    assert 'name="from" value="2026-11-01"' in overview(maria, **{"from": "2026-11-10", "to": "2026-11-01"})
    assert 'name="from" value="2026-10-19"' in overview(maria, **{"from": "1.11.2026", "to": "<script>"})


def test_the_overdue_list_has_25_tickets_a_page(app, db, clock, as_user):
    voicemail(app, db, clock, n=27, at=bucharest(2026, 11, 2, 9, 0))   # due 5 Nov: overdue on the 17th
    maria = as_user("maria")
    first = overview(maria)
    assert kpi(first, "kpi-overdue") == "27" and section(first, "overdue").count("<li>") == 25
    assert "RC-2026-000001" in section(first, "overdue") and "Pagina 1 din 2" in first
    second = overview(maria, page="2")
    assert section(second, "overdue").count("<li>") == 2 and "RC-2026-000027" in section(second, "overdue")
    assert section(overview(maria, page="99"), "overdue").count("<li>") == 2  # past the end: the last page


def test_tickets_whose_last_sms_failed_are_listed_until_it_is_sent_again(app, db, clock, as_user):
    [failed, fine] = voicemail(app, db, clock, n=2, at=bucharest(2026, 11, 16, 9, 0))
    with db.session() as session, session.begin():
        first = session.scalars(select(SmsMessage).order_by(SmsMessage.id)).first()
        session.execute(update(SmsMessage).where(SmsMessage.id == first.id).values(status="undelivered", error_code=30003))
    maria = as_user("maria")
    page = overview(maria)
    listed = section(page, "failed-sms")
    assert kpi(page, "kpi-failed-sms") == "1" and failed in listed and fine not in listed and "30003" in listed
    act(maria, failed, "resend", message=str(first.id), confirm="1")
    assert kpi(overview(maria), "kpi-failed-sms") == "0"


def test_the_overview_is_for_supervisors_only(app, db, clock, as_user):
    assert as_user("ana").get("/console/overview").status_code == 403
