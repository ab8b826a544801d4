"""Counts as the pages write them, to read a sentence at 0, 1, 2 and a large number in both
languages: digits grouped as the language groups them, a noun agreed as it agrees it
(French keeps the singular for 0 and 1, English only for 1)."""

from __future__ import annotations


def grouped(count: int, language: str) -> str:
    return f"{count:,}".replace(",", "\xa0" if language == "fr" else ",")


def singular(count: int, language: str) -> bool:
    return count <= 1 if language == "fr" else count == 1


def agreed(count: int, language: str, forms: dict[str, tuple[str, str]]) -> str:
    """The word of `forms[language]` (singular, plural) that agrees with `count`."""
    one, many = forms[language]
    return one if singular(count, language) else many


TOKENS = {"fr": ("jeton", "jetons"), "en": ("token", "tokens")}
COPIES = {"fr": ("copie", "copies"), "en": ("copy", "copies")}


def tokens(count: int, language: str) -> str:
    """« 0 jeton », « 1 234 jetons », "1 token", "0 tokens"."""
    return f"{grouped(count, language)} {agreed(count, language, TOKENS)}"
