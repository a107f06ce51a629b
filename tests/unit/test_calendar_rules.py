"""The fiscal calendar's rules (issue 19): the 2026 dates of ../shared/reference/RESEARCH.md
§5 for reference companies, and 2027 computed by the same rules, not typed."""

from __future__ import annotations

from datetime import date

import pytest

from acl.calendar.rules import (
    RulesError,
    deadlines,
    load_rules,
    next_working_day,
    nth_working_day_after,
    parse_rules,
)

RULES = load_rules()

# Réel normal, monthly CA3 due on the 19th, IS, calendar year, fewer than 50 employees, CFE
# with instalment, CVAE with instalments, company cars: every line of the table that applies.
NORMAL = {"vat_regime": "réel normal", "vat_periodicity": "mensuelle", "vat_day": 19,
          "income_tax": "IS", "fiscal_year_end": "12-31", "employees": "moins de 50",
          "cfe": "acompte et solde", "cvae": "redevable avec acomptes", "micro": "",
          "company_cars": True}
SIMPLIFIED = {**NORMAL, "vat_regime": "réel simplifié", "vat_periodicity": "",
              "employees": "aucun", "cfe": "solde", "cvae": "non redevable"}
MICRO = {**SIMPLIFIED, "vat_regime": "franchise", "income_tax": "IR", "micro": "trimestrielle",
         "company_cars": False}


def dates_of(profile, year, rule_id):
    return [d.due for d in deadlines(profile, year, RULES) if d.rule_id == rule_id]


def test_working_days_follow_french_holidays():
    assert nth_working_day_after(date(2026, 5, 1), 2) == date(2026, 5, 5)  # 1 May a Friday
    assert nth_working_day_after(date(2027, 5, 1), 2) == date(2027, 5, 4)  # a Saturday
    assert next_working_day(date(2026, 3, 15)) == date(2026, 3, 16)  # a Sunday
    assert next_working_day(date(2026, 10, 31)) == date(2026, 11, 2)  # Sat, then 1 Nov
    assert next_working_day(date(2026, 7, 14)) == date(2026, 7, 15)  # Bastille Day


# (rule, profile, the 2026 dates of RESEARCH.md §5, the 2027 dates by the same rule)
TABLE = [
    ("tva-ca12", SIMPLIFIED, [date(2026, 5, 5)], [date(2027, 5, 4)]),
    ("tva-rsi-acompte-juillet", SIMPLIFIED, [date(2026, 7, 20)], [date(2027, 7, 19)]),
    ("tva-rsi-acompte-decembre", SIMPLIFIED, [date(2026, 12, 21)], [date(2027, 12, 20)]),
    ("is-acomptes", NORMAL,
     [date(2026, 3, 16), date(2026, 6, 15), date(2026, 9, 15), date(2026, 12, 15)],
     [date(2027, 3, 15), date(2027, 6, 15), date(2027, 9, 15), date(2027, 12, 15)]),
    ("is-solde", NORMAL, [date(2026, 5, 15)], [date(2027, 5, 18)]),  # 17: Whit Monday
    ("liasse-fiscale", NORMAL, [date(2026, 5, 20)], [date(2027, 5, 19)]),
    ("cvae-1330", NORMAL, [date(2026, 5, 20)], [date(2027, 5, 19)]),
    ("cvae-solde", NORMAL, [date(2026, 5, 5)], [date(2027, 5, 4)]),
    ("cvae-acomptes", NORMAL, [date(2026, 6, 15), date(2026, 9, 15)],
     [date(2027, 6, 15), date(2027, 9, 15)]),
    ("cfe-acompte", NORMAL, [date(2026, 6, 15)], [date(2027, 6, 15)]),
    ("cfe-solde", NORMAL, [date(2026, 12, 15)], [date(2027, 12, 15)]),
    ("vehicules-ca3", NORMAL, [date(2026, 1, 19)], [date(2027, 1, 19)]),
    ("vehicules-ca12", {**SIMPLIFIED, "company_cars": True}, [date(2026, 5, 5)],
     [date(2027, 5, 4)]),
    ("taxe-apprentissage-solde-moins-de-50", NORMAL, [date(2026, 5, 15)],
     [date(2027, 5, 18)]),
    ("taxe-apprentissage-solde-50-et-plus", {**NORMAL, "employees": "50 et plus"},
     [date(2026, 5, 5)], [date(2027, 5, 5)]),
    ("micro-urssaf-trimestrielle", MICRO,
     [date(2026, 2, 2), date(2026, 4, 30), date(2026, 7, 31), date(2026, 11, 2)],
     [date(2027, 2, 1), date(2027, 4, 30), date(2027, 8, 2), date(2027, 11, 2)]),
    ("facturation-electronique-reception", NORMAL, [date(2026, 9, 1)], []),
]


@pytest.mark.parametrize("rule_id, profile, in_2026, in_2027", TABLE,
                         ids=[row[0] for row in TABLE])
def test_reference_dates_of_2026_and_2027_by_rule(rule_id, profile, in_2026, in_2027):
    assert dates_of(profile, 2026, rule_id) == in_2026
    assert dates_of(profile, 2027, rule_id) == in_2027


def test_monthly_returns_fall_on_the_company_day_shifted_to_a_working_day():
    ca3 = dates_of(NORMAL, 2026, "tva-ca3-mensuelle")
    assert len(ca3) == 12
    assert ca3[0] == date(2026, 1, 19) and ca3[3] == date(2026, 4, 20)  # 19 Apr a Sunday
    dsn = dates_of(NORMAL, 2026, "dsn-moins-de-50")
    assert dsn[:3] == [date(2026, 1, 15), date(2026, 2, 16), date(2026, 3, 16)]
    big = dates_of({**NORMAL, "employees": "50 et plus"}, 2026, "dsn-50-et-plus")
    assert big[:2] == [date(2026, 1, 5), date(2026, 2, 5)]
    titles = [d.title for d in deadlines(NORMAL, 2026, RULES) if d.rule_id == "tva-ca3-mensuelle"]
    assert titles[0] == "TVA : déclaration CA3 de décembre 2025"


def test_only_the_obligations_of_the_profile_are_generated():
    kinds = {d.rule_id for d in deadlines(MICRO, 2026, RULES)}
    assert "micro-urssaf-trimestrielle" in kinds
    assert not kinds & {"tva-ca3-mensuelle", "tva-ca12", "is-acomptes", "dsn-moins-de-50",
                        "liasse-fiscale"}
    assert "tva-ca3-mensuelle" not in {d.rule_id for d in deadlines(SIMPLIFIED, 2026, RULES)}


def test_a_fiscal_year_closing_in_june_moves_the_yearly_returns():
    june = {**SIMPLIFIED, "fiscal_year_end": "06-30"}
    assert dates_of(june, 2026, "tva-ca12-exercice-decale") == [date(2026, 9, 30)]
    assert dates_of(june, 2026, "is-solde-exercice-decale") == [date(2026, 10, 15)]
    assert dates_of(june, 2026, "tva-ca12") == []


def test_a_firm_rule_adds_to_and_replaces_the_defaults(tmp_path):
    extra = tmp_path / "regles.toml"
    extra.write_text('[[rule]]\nid = "is-solde"\nkind = "IS"\ntitle = "Solde IS (cabinet)"\n'
                     'when = { income_tax = "IS" }\ndates = ["05-10"]\n\n'
                     '[[rule]]\nid = "revue-bilan"\nkind = "Cabinet"\ntitle = "Revue {year}"\n'
                     'dates = ["11-30"]\nshift = false\n', encoding="utf-8")
    rules = load_rules(extra)
    found = {d.rule_id: d for d in deadlines(NORMAL, 2026, rules)}
    assert found["is-solde"].due == date(2026, 5, 11) and found["is-solde"].title == \
        "Solde IS (cabinet)"
    assert found["revue-bilan"].due == date(2026, 11, 30)  # a Monday anyway
    assert found["revue-bilan"].title == "Revue 2026"


@pytest.mark.parametrize("text, message", [
    ('[[rule]]\nid = "x"\nkind = "TVA"\ntitle = "t"\n', "une seule façon de dater"),
    ('[[rule]]\nid = "x"\nkind = "TVA"\ntitle = "t"\ndates = ["13-40"]\n', "valeur invalide"),
    ('[[rule]]\nid = "X Y"\nkind = "TVA"\ntitle = "t"\ndates = ["01-01"]\n', "« id »"),
    ('[[rule]]\nid = "x"\nkind = "TVA"\ntitle = "t"\ndates = ["01-01"]\ncolour = 1\n',
     "clé inconnue « colour »"),
    ('[[rule]]\nid = "x"\nkind = "TVA"\ntitle = "{oops}"\ndates = ["01-01"]\n',
     "valeur invalide"),
    ("[[rule]\n", "illisible"),
])
def test_a_broken_rules_file_is_refused_in_french(text, message):
    with pytest.raises(RulesError) as refused:
        parse_rules(text, "regles.toml")
    assert message in str(refused.value) and "regles.toml" in str(refused.value)
