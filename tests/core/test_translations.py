"""French is the source language; the English catalogue must be complete."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings


def _catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"))


def test_every_english_message_is_translated():
    missing = [
        entry.msgid
        for entry in _catalogue("en")
        if not entry.obsolete and (entry.fuzzy or not (entry.msgstr or any(entry.msgstr_plural.values())))
    ]
    assert missing == []


def test_no_french_message_is_fuzzy():
    assert [entry.msgid for entry in _catalogue("fr") if entry.fuzzy and not entry.obsolete] == []
