"""`{% load dates %}`: dates as each language writes them."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.formats import get_format
from django.utils.translation import get_language

register = template.Library()


@register.filter(expects_localtime=True)
def long_date(value: date | datetime | None, arg: str = "j F Y") -> str:
    """`{{ when|long_date }}` (or `|long_date:"DATE_FORMAT"`): « 1er janvier 2027 »,
    « 15 mars 2027 », "1 January 2027". French writes the first day of a month as an ordinal
    (1er), which no Django format character gives: a period renewed on the 1st showed
    « le 1 janvier ». In local time, as Django's |date (expects_localtime)."""
    text = date_filter(value, arg)
    written = get_format(arg) if arg.endswith("_FORMAT") else arg  # "DATE_FORMAT": the language's
    if (
        value is not None
        and text
        and written.startswith("j")
        and value.day == 1
        and (get_language() or "").startswith("fr")
    ):
        return "1er" + text[1:]
    return text
