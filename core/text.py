"""Text folding shared by the class-list import and the matching of names read on copies."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD_RE = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case, no accents, every run of punctuation or spaces as one space.

    "Élève  N°", "eleve n" and "ÉLÈVE-N" fold alike; "Œ" and "ß" become "oe" and "ss".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("œ", "oe").replace("æ", "ae"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD_RE.sub(" ", bare).strip()
