"""Texts stored now and read later, in the language of whoever reads them then.

A failure reason written by a worker as a translated sentence stays in the language of that
moment: a teacher who switches to English keeps reading « Allocation de jetons épuisée… ».
So such a reason is built with `translatable(gettext_noop("…French source…"), **params)`: a `Text` is
a str translated in the active language (it can be raised, logged, shown at once) that also
keeps its French source and parameters (a count agreeing with its noun: `Text.ngettext`; a large
count: `Grouped`, grouped as the reader groups digits). `text_dump` turns it into what the database keeps
(the source and parameters, marked), `text_load` back into a sentence in the active language.
A plain string (a model's words, a row written before this) is kept and shown as it is.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.utils import formats
from django.utils.translation import gettext, ngettext

MARK = "i18n:"


class Grouped(int):
    """A count written with the reader's digit grouping (« 25 000 », "25,000"), not the writer's."""


def _shown(value: Any) -> Any:
    if isinstance(value, Grouped):
        return formats.number_format(value, force_grouping=True)
    # A date is written as the reader's language writes dates (« 2 décembre 2026 », "Dec. 2, 2026").
    return formats.date_format(value, "DATE_FORMAT") if isinstance(value, date) else value


def _render(msgid: str, params: dict[str, Any], plural: str = "", number: int = 0) -> str:
    translated = ngettext(msgid, plural, number) if plural else gettext(msgid)
    if not params:
        return translated
    shown = {key: _shown(value) for key, value in params.items()}
    try:
        return translated % shown
    except (KeyError, TypeError, ValueError):  # a catalogue out of step with a stored row
        return msgid % shown


class Text(str):
    """A translatable sentence: its text in the language active when it was made, and its source."""

    msgid: str
    params: dict[str, Any]
    plural: str  # with `number`, a sentence in the singular and the plural (ngettext)
    number: int

    def __new__(cls, msgid: str, params: dict[str, Any], plural: str = "", number: int = 0) -> Text:
        made = super().__new__(cls, _render(msgid, params, plural, number))
        made.msgid, made.params, made.plural, made.number = msgid, params, plural, number
        return made

    def __reduce__(self) -> tuple:  # pickled with an exception (a task's retry): rebuilt, not cut to a str
        return (Text, (self.msgid, self.params, self.plural, self.number))

    @classmethod
    def ngettext(cls, singular: str, plural: str, number: int, /, **params: Any) -> Text:
        """The singular or plural sentence (extracted by makemessages under this name)."""
        return cls(singular, params, plural, number)

    def code(self) -> dict[str, Any]:
        code = {"msgid": self.msgid, "params": {key: _code(value) for key, value in self.params.items()}}
        return code | ({"plural": self.plural, "number": self.number} if self.plural else {})


def _code(value: Any) -> Any:
    if isinstance(value, Text):
        return value.code()
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Grouped):
        return {"grouped": int(value)}
    return value if isinstance(value, int | float | bool) or value is None else str(value)


def translatable(msgid: str, /, **params: Any) -> Text:
    """`msgid` is a French source marked for extraction with gettext_noop."""
    return Text(msgid, params)


def text_dump(value: str, *, limit: int) -> str:
    """What the database keeps of `value`, at most `limit` characters: a Text as its source and
    parameters (or, too long for that, its current text cut), anything else cut as it is."""
    if isinstance(value, Text):
        dumped = MARK + json.dumps(value.code(), ensure_ascii=False)
        if len(dumped) <= limit:
            return dumped
    return str(value)[:limit]


def _load(code: Any) -> Any:
    if isinstance(code, dict) and isinstance(code.get("msgid"), str):
        params = {key: _load(value) for key, value in (code.get("params") or {}).items()}
        return Text(code["msgid"], params, str(code.get("plural") or ""), int(code.get("number") or 0))
    if isinstance(code, dict) and isinstance(code.get("date"), str):
        return date.fromisoformat(code["date"])
    if isinstance(code, dict) and isinstance(code.get("grouped"), int):
        return Grouped(code["grouped"])
    return code


def text_load(stored: str) -> str:
    """A stored value as the reader of now reads it (the active language): a Text again, which
    can be stored once more as its source, or the plain text as it was stored."""
    if not stored.startswith(MARK):
        return stored
    try:
        code = json.loads(stored[len(MARK) :])
    except ValueError:
        return stored
    loaded = _load(code)
    return loaded if isinstance(loaded, str) else stored
