"""Prompts that read as a native speaker would say them in the cases that used to read oddly: a
department with no operator hours, and operators who do not answer."""

from __future__ import annotations

import pytest

from conftest import bucharest


@pytest.fixture
def app_config(app_config, config_dir):
    """Payments has no operator hours at all (complaints only as voice messages)."""
    path = config_dir / "routing.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('hours: {mon-fri: "09:00-17:30"}', "hours: {}", 1), encoding="utf-8")
    return app_config


def test_a_department_without_operators_says_so_plainly(app, place_call, clock):
    clock.now = bucharest(2026, 11, 17, 10, 0)  # other departments are open
    caller, _ = place_call(keys=["2"], records=[20])
    assert "La Departamentul Plăți reclamațiile se înregistrează ca mesaj vocal." in caller.heard
    assert not any("fără operatori" in said for said in caller.heard)


def test_operators_who_do_not_answer_are_not_called_busy(app, place_call, clock):
    clock.now = bucharest(2026, 11, 17, 10, 0)
    caller, _ = place_call(keys=["1"], dials=["no-answer"], records=[20])
    assert "Operatorii de la Departamentul Tehnic nu pot răspunde acum, dar vă înregistrăm reclamația." in caller.heard
    assert not any("ocupați" in said for said in caller.heard)
