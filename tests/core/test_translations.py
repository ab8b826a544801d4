"""French is the source language; the English catalogue must be complete, and the French
plurals are filled with their own msgids so that the French rule (0 and 1 singular) applies."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings


def _catalogue(language: str, domain: str = "django") -> polib.POFile:
    return polib.pofile(str(Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / f"{domain}.po"))


def test_every_english_message_is_translated():
    missing = [
        entry.msgid
        for entry in _catalogue("en")
        if not entry.obsolete and (entry.fuzzy or not (entry.msgstr or any(entry.msgstr_plural.values())))
    ]
    assert missing == []


def test_no_french_message_is_fuzzy():
    assert [entry.msgid for entry in _catalogue("fr") if entry.fuzzy and not entry.obsolete] == []


def test_every_french_plural_is_filled_with_its_own_msgids():
    """An empty French plural falls back with the English rule (« 0 copies traitées »):
    scripts/po_fill.py --french-plurals (run by make messages) fills them."""
    domains = sorted(path.stem for path in (Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES").glob("*.po"))
    assert "django" in domains
    for domain in domains:
        catalogue = _catalogue("fr", domain)
        assert catalogue.metadata["Plural-Forms"] == "nplurals=2; plural=(n > 1);"
        plurals = [entry for entry in catalogue if entry.msgid_plural and not entry.obsolete]
        assert plurals or domain != "django"
        wrong = [e.msgid for e in plurals if e.msgstr_plural != {0: e.msgid, 1: e.msgid_plural}]
        assert wrong == [], domain
