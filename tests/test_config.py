"""routing.yaml and prompts validation: each fault is named by file, key path and what is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr import create_app
from ivr.cli import main
from ivr.errors import ConfigError
from ivr.settings import load_hotline

from conftest import edit


def problems(config_dir: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    return str(caught.value)


def test_shipped_configuration_is_valid():
    root = Path(__file__).resolve().parent.parent
    hotline = load_hotline(root / "routing.yaml", root / "prompts")
    routing = hotline.routing
    assert routing.hotline.company == "ProNET Soluții IT"
    assert {k: d.digit for k, d in routing.departments.items()} == {
        "technical": 1, "payments": 2, "customer_relations": 3,
    }
    assert routing.hotline.fallback == "customer_relations"
    assert set(hotline.prompts) == {"ro", "en"}


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("digit: 2", "digit: 1", r"routing\.yaml: departments\.payments\.digit: 1 is already used by departments\.technical"),
        ('mon-fri: "09:00-17:30"', 'mon-fri: "09:00-25:00"', r'routing\.yaml: departments\.payments\.hours: mon-fri: "25:00" is not a time of day'),
        ("deadline: complaint\n    keywords: {ro: [plăți", "deadline: weekly\n    keywords: {ro: [plăți", r'departments\.payments\.deadline: "weekly" is not a rule under deadlines'),
        ("count: calendar}", "count: lunar}", r"deadlines\.complaint\.count: Input should be 'calendar' or 'working'"),
        ("timezone: Europe/Bucharest", "timezone: Europe/Bucuresti", r'hotline\.timezone: "Europe/Bucuresti" is not a timezone'),
        ("holidays: RO ", "holidays: XX ", r'hotline\.holidays: "XX" is not a two-letter country code'),
        # The holidays package knows ROU too, but callers' numbers are read by the two-letter code:
        # with ROU, every Romanian caller was answered as a foreigner.
        ("holidays: RO ", "holidays: ROU ", r'hotline\.holidays: "ROU" is not a two-letter country code .* such as RO'),
        ("menu_attempts: 3", "menu_atempts: 3", r"hotline\.menu_atempts: unknown key"),
        ("fallback: customer_relations", "fallback: sales", r'hotline\.fallback: "sales" is not a department'),
        ('operators: ["+40215894141"]             #', 'operators: ["0215894141"]             #', r'departments\.technical\.operators: \[0\] "0215894141" is not an E\.164 number'),
        ("holidays: closed", "holidays: sometimes", r"departments\.payments\.holidays: Input should be 'open' or 'closed'"),
        ('sms_sender: "+40312345678"', 'sms_sender: "ProNET-Solutii-IT"', r"hotline\.sms_sender: .* is neither an E\.164 number"),
        ('name: {ro: "Departamentul Plăți", en: "Payments"}', 'name: {ro: "Departamentul Plăți"}', r"departments\.payments\.name\.en: missing"),
        ("    digit: 3\n", "    digit: 9\n", r"hotline\.language_keys: key 9 is already used by departments\.customer_relations"),
        ("  payments:\n    digit: 2\n", "  payments:\n    digit: 2\n    digit: 4\n", r'routing\.yaml: not valid YAML: .*key "digit" is written twice'),
        # Said by a caller, it reached the department listed first.
        ("keywords: {ro: [plăți, plata,", "keywords: {ro: [plăți, Internet, plata,",
         r'departments\.payments\.keywords\.ro: "Internet" is also a keyword of departments\.technical'),
    ],
    ids=["digit-twice", "25:00", "unknown-deadline-rule", "unknown-count", "unknown-timezone", "unknown-country", "country-alias",
         "unknown-key", "unknown-fallback", "operator-not-e164", "holidays-policy", "sms-sender",
         "name-missing-language", "digit-clashes-with-language-key", "yaml-key-twice", "keyword-twice"],
)
def test_routing_faults_name_file_and_key(config_dir, old, new, expected):
    edit(config_dir / "routing.yaml", old, new)
    assert re.search(expected, problems(config_dir)), problems(config_dir)


@pytest.mark.parametrize("file, encoding, expected", [
    ("prompts/ro.yaml", "utf-16", r"prompts/ro\.yaml: line 1: saved in UTF-16, not UTF-8: save the file as UTF-8"),
    ("routing.yaml", "cp1250", r"routing\.yaml: line \d+: saved in another encoding, not UTF-8: save the file as UTF-8"),
])
def test_a_file_not_saved_as_utf8_is_named(config_dir, file, encoding, expected):
    """It used to end ``ivr check`` and ``ivr serve`` in a traceback naming no file."""
    path = config_dir / file
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding, errors="replace"))
    assert re.search(expected, problems(config_dir)), problems(config_dir)


def test_missing_routing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"routing\.yaml: file not found"):
        load_hotline(tmp_path / "routing.yaml", tmp_path / "prompts")


def test_prompt_missing_in_one_language(config_dir):
    edit(config_dir / "prompts" / "en.yaml", '  goodbye: "Thank you for calling {company}. Goodbye."\n', "")
    message = problems(config_dir)
    assert re.search(r"prompts/en\.yaml: prompts\.goodbye: missing", message)
    assert "ro.yaml" not in message


def test_prompts_file_missing_for_a_language(config_dir):
    (config_dir / "prompts" / "en.yaml").unlink()
    assert re.search(r"prompts/en\.yaml: file not found \(hotline\.languages lists en\)", problems(config_dir))


def test_unknown_placeholder(config_dir):
    edit(config_dir / "prompts" / "ro.yaml", "ați sunat la {company}", "ați sunat la {compania}")
    assert re.search(r"prompts/ro\.yaml: prompts\.greeting: unknown placeholder \{compania\} \(allowed: \{company\}\)", problems(config_dir))


def test_unknown_prompt_key(config_dir):
    edit(config_dir / "prompts" / "ro.yaml", "prompts:\n", 'prompts:\n  salut: "Salut"\n')
    assert re.search(r"prompts/ro\.yaml: prompts\.salut: unknown key", problems(config_dir))


def test_recording_must_be_https(config_dir):
    edit(config_dir / "prompts" / "ro.yaml", '"Bună ziua, ați sunat la {company}."', '"http://example.com/salut.mp3"')
    assert re.search(r"prompts/ro\.yaml: prompts\.greeting: a recording must be an https:// URL", problems(config_dir))


def test_the_spoken_registration_must_say_the_number_and_the_term(config_dir):
    """The law has the caller told the registration number and the term: a prompt that drops
    either, or a recording in its place, is refused."""
    prompts = config_dir / "prompts" / "ro.yaml"
    edit(prompts, '"Reclamația a fost înregistrată cu numărul {ticket}. Termenul', '"Reclamația a fost înregistrată. Termenul')
    edit(prompts, '"Pentru {department}, apăsați {digit}."', '"Pentru {department}, apăsați tasta."')
    edit(prompts, 'callback_registered: "', 'callback_registered: "https://media.pronetit.ro/revenire.mp3" #')
    found = problems(config_dir)
    assert re.search(r"prompts/ro\.yaml: prompts\.ticket_registered: must contain \{ticket\} \(it must say \{deadline\}, \{ticket\}\)", found)
    assert re.search(r"prompts\.menu_option: must contain \{digit\}", found)
    assert re.search(r"prompts\.callback_registered: must be a text that says \{deadline\}, \{ticket\}, not a recording", found)


def test_the_words_for_the_menu_keys(config_dir):
    prompts = config_dir / "prompts" / "ro.yaml"
    edit(prompts, "[zero, [unu, una], [doi, două],", "[zero, [unu, una], [doi, două, una],")
    assert re.search(r"prompts/ro\.yaml: digits\[2\]: 'una' is also the word for 1", problems(config_dir))
    edit(prompts, "digits: [zero, ", "digits: [")
    assert re.search(r"prompts/ro\.yaml: digits: needs the words for each key 0 to 9", problems(config_dir))


def test_sms_template_that_cannot_fit_one_segment(config_dir):
    edit(config_dir / "prompts" / "ro.yaml", "Termen de solutionare: {deadline}.", "Termen de solutionare: {deadline}. " + "Va multumim pentru rabdare! " * 3)
    assert re.search(r"prompts/ro\.yaml: sms\.ticket_registered: \d+ characters .* more than one SMS \(160\)", problems(config_dir))


@pytest.mark.parametrize("old, new, expected", [
    # Without {message}, the operator's answer never reached the customer.
    ("reclamatia {ticket} a fost solutionata. {message}", "reclamatia {ticket} a fost solutionata. Va multumim!",
     "sms.ticket_resolved: must contain {message}"),
    ("inregistrata cu nr. {ticket}. Termen de solutionare: {deadline}.", "inregistrata. Va multumim!",
     "sms.ticket_registered: must contain {deadline}, {ticket}"),
    # Sent as "?": an emoji, Cyrillic, an arrow.
    ("{company}: am primit mesajul", "📞 {company} → am primit mesajul",
     "sms.message_added: → 📞 cannot be sent by SMS (each would arrive as ?)"),
], ids=["no-operator-text", "no-number-or-deadline", "unsendable-characters"])
def test_an_sms_that_would_not_tell_the_customer_is_refused(config_dir, old, new, expected):
    edit(config_dir / "prompts" / "ro.yaml", old, new)
    assert f"prompts/ro.yaml: {expected}" in problems(config_dir)


def test_romanian_quotation_marks_are_sent_as_plain_ones(config_dir):
    from ivr.sms.text import to_gsm7

    edit(config_dir / "prompts" / "ro.yaml", "{company}: am primit mesajul", "{company}: am primit «mesajul»")
    load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    assert to_gsm7("„Da” sau «nu»") == '"Da" sau "nu"'


def test_all_faults_are_reported_together(config_dir):
    edit(config_dir / "routing.yaml", "digit: 2", "digit: 1")
    edit(config_dir / "routing.yaml", "fallback: customer_relations", "fallback: sales")
    message = problems(config_dir)
    assert "digit" in message and "fallback" in message


def test_ivr_check_exits_1_naming_the_fault(config_dir, runner, monkeypatch):
    monkeypatch.chdir(config_dir)
    assert runner.invoke(main, ["check"]).exit_code == 0
    edit(config_dir / "routing.yaml", 'mon-fri: "09:00-17:30"', 'mon-fri: "09:00-25:00"')
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    assert "routing.yaml: departments.payments.hours" in result.output


def test_ivr_check_follows_environment(config_dir, runner, monkeypatch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("IVR_ROUTING_FILE", str(config_dir / "routing.yaml"))
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(config_dir / "prompts"))
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "1 technical" in result.output


def test_server_refuses_to_start_on_invalid_config(config_dir, app_config):
    edit(config_dir / "routing.yaml", "digit: 2", "digit: 1")
    with pytest.raises(ConfigError, match=r"departments\.payments\.digit"):
        create_app(app_config)


def test_ivr_serve_exits_1_on_invalid_config(config_dir, runner, monkeypatch):
    monkeypatch.chdir(config_dir)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "x")
    edit(config_dir / "routing.yaml", "fallback: customer_relations", "fallback: sales")
    result = runner.invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert 'hotline.fallback: "sales" is not a department' in result.output


def test_no_auth_token_no_server(app_config):
    app_config["TWILIO_AUTH_TOKEN"] = None
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        create_app(app_config)


def test_a_day_range_may_be_written_once_per_span(config_dir):
    edit(config_dir / "routing.yaml", 'hours: {mon-fri: "09:00-17:30"}',
         'hours:\n      mon-fri: "09:00-12:00"\n      mon-fri: "13:00-17:30"\n      sat: "10:00-14:00"')
    payments = load_hotline(config_dir / "routing.yaml", config_dir / "prompts").routing.departments["payments"]
    spans = [(s.days_label, s.start, s.end) for s in payments.weekly_hours.spans]
    assert spans == [("mon-fri", 540, 720), ("mon-fri", 780, 1050), ("sat", 600, 840)]
