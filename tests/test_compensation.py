"""Compensation for late resolution: the rules of routing.yaml, the amounts worked out by hand,
the formula in words in Romanian and English, and ``ivr compensation``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from ivr.tickets import casework
from ivr.cli import main
from ivr.compensation import compensation_for, formula_in_words, parse_money
from ivr.config import parse_routing
from ivr.errors import ConfigError
from ivr.settings import load_hotline
from ivr.terms import PerDayLate, PercentPerStartedWeek
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import ROOT, bucharest

CANAL = PerDayLate(kind="per_day_late")
ALMSOFT = PercentPerStartedWeek(kind="percent_per_started_week", percent=Decimal(100), cap_per_week=Decimal(10))


def _percent(percent: str, cap: str) -> PercentPerStartedWeek:
    return PercentPerStartedWeek(kind="percent_per_started_week", percent=Decimal(percent), cap_per_week=Decimal(cap))


# (rule, monthly value, due, resolved, days late, amount), each amount worked out by hand.
CASES = [
    pytest.param(CANAL, "45.00", date(2026, 12, 4), date(2026, 12, 4), 0, "0.00", id="canal-resolved-on-the-deadline-day"),
    pytest.param(CANAL, "45.00", date(2026, 12, 4), date(2026, 12, 1), 0, "0.00", id="canal-resolved-early"),
    pytest.param(CANAL, "45.00", date(2026, 11, 10), date(2026, 11, 11), 1, "1.50", id="canal-1-day-30-day-month"),  # 45/30
    pytest.param(CANAL, "45.00", date(2026, 12, 10), date(2026, 12, 11), 1, "1.45", id="canal-1-day-31-day-month"),  # 45/31=1.4516
    pytest.param(CANAL, "45.00", date(2026, 2, 10), date(2026, 2, 11), 1, "1.61", id="canal-1-day-february"),  # 45/28=1.6071
    pytest.param(CANAL, "45.00", date(2028, 2, 10), date(2028, 2, 11), 1, "1.55", id="canal-1-day-leap-february"),  # 45/29=1.5517
    pytest.param(CANAL, "45.00", date(2026, 12, 4), date(2026, 12, 9), 5, "7.26", id="canal-5-days"),  # 225/31=7.258
    # Late days running into February still use January's 31 days: the month of the deadline.
    pytest.param(CANAL, "45.00", date(2026, 1, 30), date(2026, 2, 2), 3, "4.35", id="canal-across-months"),  # 135/31=4.3548
    pytest.param(CANAL, "10.05", date(2026, 11, 10), date(2026, 11, 13), 3, "1.01", id="canal-half-up"),  # 30.15/30=1.005
    pytest.param(CANAL, "31.00", date(2026, 12, 1), date(2027, 1, 10), 40, "40.00", id="canal-no-ceiling"),  # 31*40/31
    pytest.param(ALMSOFT, "45.00", date(2026, 12, 4), date(2026, 12, 4), 0, "0.00", id="almsoft-on-time"),
    pytest.param(ALMSOFT, "45.00", date(2026, 12, 4), date(2026, 12, 5), 1, "10.00", id="almsoft-1-day-1-week"),
    pytest.param(ALMSOFT, "45.00", date(2026, 12, 4), date(2026, 12, 11), 7, "10.00", id="almsoft-7-days-1-week"),
    pytest.param(ALMSOFT, "45.00", date(2026, 12, 4), date(2026, 12, 12), 8, "20.00", id="almsoft-week-and-a-day-2-weeks"),
    pytest.param(ALMSOFT, "45.00", date(2026, 12, 4), date(2027, 1, 3), 30, "45.00", id="almsoft-total-cap"),  # 5 weeks: 50 > 45
    pytest.param(ALMSOFT, "8.00", date(2026, 12, 4), date(2026, 12, 6), 2, "8.00", id="almsoft-cheap-subscription"),  # min(8, 10)
    pytest.param(ALMSOFT, "8.00", date(2026, 12, 4), date(2026, 12, 13), 9, "8.00", id="almsoft-cheap-total-cap"),  # 2*8 > 8
    pytest.param(_percent("10", "10"), "45.00", date(2026, 12, 4), date(2026, 12, 19), 15, "13.50", id="10pct-3-weeks"),  # 3*4.50
    pytest.param(_percent("10", "3"), "45.00", date(2026, 12, 4), date(2026, 12, 12), 8, "6.00", id="10pct-cap-per-week"),  # 2*min(4.50, 3)
    pytest.param(_percent("2.5", "10"), "45.50", date(2026, 12, 4), date(2026, 12, 19), 15, "3.42", id="2.5pct-rounding"),  # 1.1375->1.14, *3
    pytest.param(_percent("5", "10"), "12.50", date(2026, 12, 4), date(2026, 12, 5), 1, "0.63", id="5pct-half-up"),  # 0.625
]


@pytest.mark.parametrize(("rule", "monthly", "due", "resolved", "days_late", "amount"), CASES)
def test_amounts_worked_out_by_hand(rule, monthly, due, resolved, days_late, amount):
    owed = compensation_for(rule, Decimal(monthly), due, resolved)
    assert (owed.days_late, owed.amount) == (days_late, Decimal(amount))
    assert owed.amount.as_tuple().exponent == -2  # bani, exactly


def test_started_weeks_and_the_formula_parts():
    owed = compensation_for(ALMSOFT, Decimal("45"), date(2026, 12, 4), date(2027, 1, 3))
    assert (owed.weeks, owed.per_week, owed.uncapped, owed.amount) == (5, Decimal("10.00"), Decimal("50.00"), Decimal("45.00"))
    assert owed.text_key == "compensation_percent_per_started_week_capped"
    assert compensation_for(CANAL, Decimal("45"), date(2026, 12, 4), date(2026, 12, 9)).days_in_month == 31
    assert compensation_for(CANAL, Decimal("45"), date(2026, 12, 4), date(2026, 12, 4)).text_key == "compensation_on_time"


def test_a_negative_monthly_value_is_refused():
    with pytest.raises(ValueError):
        compensation_for(CANAL, Decimal("-1"), date(2026, 12, 4), date(2026, 12, 9))


@pytest.mark.parametrize(("text", "value"), [("45", "45"), ("45.5", "45.5"), ("45,50", "45.50"), (" 7.05 ", "7.05"),
                                             ("45.555", None), ("-3", None), ("4e3", None), ("", None), ("٤٥", None)])
def test_parse_money(text, value):
    assert parse_money(text) == (Decimal(value) if value else None)


@pytest.fixture(scope="module")
def shipped():
    """The shipped prompts (caller SMS texts and console labels) in every language."""
    return load_hotline(ROOT / "tests" / "routing.yaml", ROOT / "prompts")


def test_formula_in_words_for_the_console_and_the_sms(shipped):
    canal = compensation_for(CANAL, Decimal("45"), date(2026, 12, 4), date(2026, 12, 9))
    almsoft = compensation_for(ALMSOFT, Decimal("45"), date(2026, 12, 4), date(2026, 12, 12))
    capped = compensation_for(ALMSOFT, Decimal("45"), date(2026, 12, 4), date(2027, 1, 3))
    on_time = compensation_for(ALMSOFT, Decimal("45"), date(2026, 12, 4), date(2026, 12, 4))
    ro, en = shipped.console_labels["ro"], shipped.console_labels["en"]
    assert formula_in_words(canal, ro) == "45,00 lei ÷ 31 (zilele lunii) × 5 (zile de întârziere) = 7,26 lei"
    assert formula_in_words(canal, en) == "45.00 lei ÷ 31 (days in the month) × 5 (days late) = 7.26 lei"
    assert formula_in_words(almsoft, en) == (
        "2 (started weeks late; 8 days) × 10.00 lei (100% of 45.00 lei, at most 10.00 lei a week) = 20.00 lei")
    assert formula_in_words(capped, ro).endswith("= 50,00 lei, plafonat la 100% din valoarea lunară: 45,00 lei")
    assert formula_in_words(on_time, ro) == "Soluționată în termen: fără despăgubire."
    sms_ro, sms_en = shipped.prompts["ro"].sms, shipped.prompts["en"].sms
    assert formula_in_words(canal, sms_ro) == (
        "Despagubire 7,26 lei = 45,00 lei / 31 (zilele lunii) x 5 (zile de intarziere).")
    assert formula_in_words(almsoft, sms_en) == (
        "Compensation 20.00 lei = 2 (started weeks late) x 10.00 lei (100% of 45.00 lei, at most 10.00 lei a week).")


def _routing(**changes) -> dict:
    data = yaml.safe_load((ROOT / "tests" / "routing.yaml").read_text(encoding="utf-8"))
    data["compensations"] = {"canal": {"kind": "per_day_late"},
                             "almsoft": {"kind": "percent_per_started_week", "percent": 100, "cap_per_week": 10}}
    data["departments"]["technical"]["compensation"] = "canal"
    data["departments"]["payments"]["compensation"] = "almsoft"
    for key, value in changes.items():
        data[key] = value
    return data


def test_routing_names_a_rule_per_department():
    routing = parse_routing(_routing(), "routing.yaml")
    assert routing.compensation_rule("technical") == CANAL
    assert routing.compensation_rule("payments") == ALMSOFT
    assert routing.compensation_rule("customer_relations") is None  # absent: no compensation


@pytest.mark.parametrize(("rule", "problem"), [
    ({"kind": "per_week"}, 'compensations.bad.kind: unknown kind "per_week" (one of: per_day_late, percent_per_started_week)'),
    ({"percent": 10}, "compensations.bad.kind: missing (one of: per_day_late, percent_per_started_week)"),
    ({"kind": "percent_per_started_week", "cap_per_week": 10}, "compensations.bad.percent: missing"),
    ({"kind": "percent_per_started_week", "percent": 0, "cap_per_week": 10}, "compensations.bad.percent: Input should be greater than 0"),
    ({"kind": "percent_per_started_week", "percent": 10}, "compensations.bad.cap_per_week: missing"),
    ({"kind": "per_day_late", "percent": 10}, "compensations.bad.percent: unknown key"),
])
def test_a_wrong_rule_is_named_by_file_and_key(rule, problem):
    data = _routing()
    data["compensations"]["bad"] = rule
    with pytest.raises(ConfigError) as error:
        parse_routing(data, "routing.yaml")
    assert f"routing.yaml: {problem}" in error.value.problems


def test_a_department_naming_an_unknown_rule():
    data = _routing()
    data["departments"]["payments"]["compensation"] = "canal_plus"
    with pytest.raises(ConfigError) as error:
        parse_routing(data, "routing.yaml")
    assert error.value.problems == [
        'routing.yaml: departments.payments.compensation: "canal_plus" is not a rule under compensations (canal, almsoft)']


def test_a_prompts_file_without_a_compensation_text_is_refused(config_dir: Path):
    path = config_dir / "prompts" / "en.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  compensation_per_day_late:", "  other:"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    assert f"{path}: sms.compensation_per_day_late: missing" in error.value.problems


@pytest.fixture
def compensating_dir(config_dir: Path, monkeypatch) -> Path:
    """The shipped configuration with technical under Canal+'s rule and payments under ALMSOFT's, as cwd."""
    (config_dir / "routing.yaml").write_text(yaml.safe_dump(_routing(), allow_unicode=True), encoding="utf-8")
    monkeypatch.chdir(config_dir)
    return config_dir


def test_ivr_compensation_prints_the_amount_then_the_formula(runner, compensating_dir):
    result = runner.invoke(main, ["compensation", "--department", "technical", "--due", "2026-12-04",
                                  "--resolved", "2026-12-09", "--monthly", "45.00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "7.26", "45,00 lei ÷ 31 (zilele lunii) × 5 (zile de întârziere) = 7,26 lei", "rule canal (per_day_late), 5 days late"]
    result = runner.invoke(main, ["compensation", "--department", "payments", "--due", "2026-12-04",
                                  "--resolved", "2026-12-12", "--monthly", "45,00", "--lang", "en"])
    assert result.output.splitlines()[:2] == [
        "20.00", "2 (started weeks late; 8 days) × 10.00 lei (100% of 45.00 lei, at most 10.00 lei a week) = 20.00 lei"]


@pytest.mark.parametrize(("arguments", "complaint"), [
    (["--department", "customer_relations"], "names no compensation rule"),
    (["--department", "sales"], "not a department"),
    (["--department", "technical", "--monthly", "45 lei"], "an amount in lei"),
    (["--department", "technical", "--due", "04.12.2026"], "a date such as"),
    (["--department", "technical", "--lang", "de"], "one of ro, en"),
])
def test_ivr_compensation_refuses_wrong_arguments(runner, compensating_dir, arguments, complaint):
    defaults = {"--due": "2026-12-04", "--resolved": "2026-12-09", "--monthly": "45"}
    for option, value in defaults.items():
        if option not in arguments:
            arguments = arguments + [option, value]
    result = runner.invoke(main, ["compensation", *arguments])
    assert result.exit_code == 2
    assert complaint in result.output


def test_a_compensation_counts_lateness_against_the_milestone_it_names(upgraded_database, config_dir):
    """Canal+ style: the repair is due in 3 working days, the complaint in 30; the compensation
    follows the repair milestone, not the legal term."""
    path = config_dir / "routing.yaml"
    text = path.read_text().replace("departments:\n", "compensations:\n  canal: {kind: per_day_late}\n\ndepartments:\n", 1)
    path.write_text(text.replace("    deadline: fault\n", "    deadline: {repair: fault, legal: complaint}\n"
                                 "    compensation: {rule: canal, milestone: repair}\n", 1))
    hotline = load_hotline(path, config_dir / "prompts")
    registered = bucharest(2026, 11, 27, 10, 0)  # repair due Fri 4 Dec; legal Mon 28 Dec
    with upgraded_database.session() as session:
        ana = add_user(session, "ana", "password-1", "operator", registered)
        report = VoicemailReport("CA" + "8" * 32, "technical", "ro", None, "+40722123456",
                                 None, None, None, "completed", "record action")
        ticket = register_voicemail(session, hotline, report, registered)
        resolved = bucharest(2026, 12, 9, 11, 0)  # 5 days after the repair was due, well inside the legal term
        owed = casework.compensation_of(hotline, ticket, Decimal("45.00"), resolved)
        assert (owed.days_late, owed.amount) == (5, Decimal("7.26"))
        casework.resolve(session, hotline, ticket, ana, "Am inlocuit decodorul.", resolved, Decimal("45.00"))
        assert "Despagubire 7,26 lei" in ticket.messages[-1].body
        session.rollback()
