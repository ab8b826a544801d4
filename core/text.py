"""Text folding shared by the class-list import and the matching of names read on copies, and
the spacing of a model's sentences."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD_RE = re.compile(r"[^0-9a-z]+")
# White space but the no-break spaces (U+00A0, narrow U+202F) French writes inside « » and
# before : ; ? ! — str.split() would take those for word breaks too.
_BREAKING_SPACE_RE = re.compile(r"[^\S\u00a0\u202f]+")


def fold(text: str) -> str:
    """Lower case, no accents, every run of punctuation or spaces as one space.

    "Élève  N°", "eleve n" and "ÉLÈVE-N" fold alike; "Œ" and "ß" become "oe" and "ss".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("œ", "oe").replace("æ", "ae"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD_RE.sub(" ", bare).strip()


def squash_spaces(text: str) -> str:
    """One line: each run of white space (line breaks included) as one space, ends trimmed;
    no-break spaces kept where they are (« Point fort\u00a0: … » stays French)."""
    return _BREAKING_SPACE_RE.sub(" ", text).strip()
