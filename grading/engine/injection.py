"""Text addressed to the grader instead of the exam: found locally, with no model call.

A model told to ignore instructions written on a copy may still obey them, and then also
says nothing about it. So the copy's text layer and what the models read on its pages are
searched here for instruction-like sentences aimed at whoever grades it, in French and
English ("ignore les instructions", "donne 20/20", "you are the grader", "note maximale"…).
A hit flags the copy whatever the models said, with the sentence quoted for the teacher.

Matching is done on a folded form of the text (lower case, no accents, no zero-width or
look-alike characters, single spaces), so "IGNOREZ  les   consignes" or "Ｉgnore" match too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Characters that hide words from a plain search without changing how they look.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

# Full marks written as a grade: 20/20, 10/10, 100/100.
_FULL = r"(?:(?P<top>20|10|100)\s*/\s*(?P=top))"
_MAXIMUM = r"(?:la\s+)?note\s+(?:maximale|maximum|max|parfaite)|tous\s+les\s+points"
_RULES = r"(?:instructions?|consignes?|regles?|bareme|grille|criteres|prompt|directives?)"

PATTERNS = [
    # French ("j'ignore la règle" is a student not knowing it: left out)
    rf"(?<!j')(?<!je\s)\b(?:ignore[rsz]?|oublie[rsz]?|ne\s+(?:tiens|tenez|tient)\s+pas\s+compte)\s+"
    rf"(?:de\s+|des\s+|du\s+)?(?:toutes?\s+)?(?:les\s+|la\s+|le\s+|tes\s+|vos\s+|ces\s+|ses\s+|l')?"
    rf"(?:\w+\s+)?{_RULES}",
    rf"\b(?:donne[rsz]?|mets?|mettez|mettre|attribue[rsz]?|accorde[rsz]?)"
    rf"(?:[\s-]+(?:moi|lui|nous|a\s+cette\s+copie|a\s+l'eleve))?\s+(?:{_FULL}|{_MAXIMUM})",
    r"\bnote\s+maximale\b",
    r"\b(?:tu\s+es|vous\s+etes)\s+(?:maintenant\s+|desormais\s+)?(?:le|la|un|une)\s+"
    r"(?:correcteur|correctrice|examinateur|examinatrice|ia|assistant|modele\s+de\s+langage)\b",
    r"\b(?:cher|chere)\s+(?:correcteur|correctrice|ia|chatgpt|gpt|claude|modele|intelligence\s+artificielle)\b",
    r"\bnouvelles?\s+(?:instructions?|consignes?)\b",
    # English
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+)?"
    r"(?:previous\s+|prior\s+|above\s+|earlier\s+|grading\s+|system\s+)?"
    r"(?:instructions?|rules|prompt|rubric|grading\s+scale|marking\s+scheme|guidelines)",
    r"\b(?:give|award|grant|assign)\s+(?:me|him|her|them|this\s+(?:copy|student|answer|paper)|the\s+student)?\s*"
    rf"(?:a\s+|the\s+)?(?:(?:full|maximum|max|top|perfect)\s+(?:marks?|points|score|grade)|{_FULL})",
    r"\bfull\s+marks\b",
    r"\byou\s+are\s+(?:now\s+)?(?:the|a|an)\s+(?:grader|examiner|marker|ai|assistant|language\s+model)\b",
    r"\bdear\s+(?:grader|examiner|marker|ai|chatgpt|gpt|claude|model)\b",
    r"\bsystem\s+prompt\b",
]
_COMPILED = [re.compile(pattern) for pattern in PATTERNS]
QUOTE_MAX = 200


def fold(text: str) -> str:
    """Lower case, accents and invisible characters removed, compatibility forms (full-width
    letters) unified, apostrophes straightened, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.replace("\u2019", "'").replace("\u02bc", "'").lower()
    return _spaces(text)


def _spaces(text: str) -> str:
    """Runs of spaces as one space, runs of line breaks as one: a line ends a sentence."""
    return re.sub(r" ?\n\s*", "\n", re.sub(r"[^\S\n]+", " ", text))


def _sentence(folded: str, original: str, start: int, end: int) -> str:
    """The sentence around a hit, in the original text when it lines up, at most QUOTE_MAX chars."""
    source = original if len(original) == len(folded) else folded
    left = max(source.rfind(mark, 0, start) for mark in ".!?\n") + 1
    rights = [i for i in (source.find(mark, end) for mark in ".!?\n") if i >= end]
    right = min(rights) + 1 if rights else len(source)
    quote = source[left:right].strip()
    return quote if len(quote) <= QUOTE_MAX else quote[: QUOTE_MAX - 1] + "…"


def injection_find(texts: Iterable[str]) -> str | None:
    """The first sentence addressed to the grader in `texts`, quoted; None when there is none."""
    for text in texts:
        if not text:
            continue
        # Whitespace is collapsed for matching; the quote keeps the original characters when
        # folding did not change the text's length (the common case), else the folded form.
        original = _spaces(unicodedata.normalize("NFC", text))
        folded = fold(text)
        for pattern in _COMPILED:
            match = pattern.search(folded)
            if match:
                return _sentence(folded, original, match.start(), match.end())
    return None
