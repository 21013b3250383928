"""Which plural form a number takes in a language, for labels such as "depășită cu 87 de zile".

The rules are CLDR's for whole numbers. Romanian has three forms: one (1 zi), few (0, 2-19 and
any number ending in 01-19 after the hundreds: 2 zile, 101 zile) and other (20 de zile, 87 de
zile). A language without a rule here gets English's: one for 1, other for the rest.
"""

from __future__ import annotations

PLURAL_FORMS = ("one", "few", "other")


def plural_form(lang: str, count: int) -> str:
    if lang == "ro":
        if count == 1:
            return "one"
        return "few" if count == 0 or 1 <= count % 100 <= 19 else "other"
    return "one" if count == 1 else "other"
