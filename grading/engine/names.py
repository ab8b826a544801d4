"""A name read on a copy matched to the class list, locally (rapidfuzz): nothing leaves the server.

Both sides are folded (core.text.fold: case, accents, hyphens, punctuation) and compared
whatever the order of the words ("Chloé Dubois" = "DUBOIS Chloé"), a read name that holds
only part of the full name ("Dubois", "Anne-Sophie Martin-Duval" vs "MARTIN-DUVAL
Anne-Sophie") scoring high too, and an initial standing for a first name ("L. Martin").
A match is proposed only above MATCH_MIN and only when no other student scores within
AMBIGUOUS_GAP of it: two "Martin" read as "Martin" stay for the teacher to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from core.text import fold

MATCH_MIN = 80.0
AMBIGUOUS_GAP = 6.0
# A read name given only by a part of the name scores a little under a full one.
PARTIAL_WEIGHT = 0.95


@dataclass(frozen=True)
class RosterName:
    id: int
    last_name: str
    first_name: str


@dataclass(frozen=True)
class NameMatch:
    read: str
    student_id: int | None  # proposed match (None: unmatched or ambiguous)
    score: float  # the best candidate's score, 0-100
    ambiguous: bool
    candidates: tuple[tuple[int, float], ...]  # best first, at most 3, those above MATCH_MIN

    @property
    def unmatched(self) -> bool:
        return self.student_id is None and not self.ambiguous


def _expand_initials(read: list[str], first: str) -> str:
    """ "l martin" for Lucas → "lucas martin": an initial counts as the first name it starts."""
    first_words = first.split()
    words = []
    for word in read:
        if len(word) == 1 and first_words and first_words[0].startswith(word):
            words.append(" ".join(first_words))
        else:
            words.append(word)
    return " ".join(words)


def name_score(read: str, *, last_name: str, first_name: str) -> float:
    """0-100: how well `read` (as written on the copy) names this student."""
    folded = fold(read)
    last, first = fold(last_name), fold(first_name)
    if not folded or not last:
        return 0.0
    full = f"{last} {first}".strip()
    candidate = _expand_initials(folded.split(), first)
    whole = fuzz.token_sort_ratio(candidate, full)
    partial = fuzz.token_set_ratio(candidate, full) * PARTIAL_WEIGHT
    # Only the last name on the copy: as good as a partial match, never better.
    only_last = fuzz.ratio(candidate, last) * PARTIAL_WEIGHT
    # "Ndiaye" for "N'DIAYE", "Delafontaine" for "DE LA FONTAINE": the words glued together.
    glued = candidate.replace(" ", "")
    joined = max(
        fuzz.ratio(glued, f"{last}{first}".replace(" ", "")), fuzz.ratio(glued, f"{first}{last}".replace(" ", ""))
    )
    return round(max(whole, partial, only_last, joined), 1)


def name_match(read: str, roster: list[RosterName]) -> NameMatch:
    """The roster student `read` names, or why none is proposed (ambiguous, unmatched)."""
    scored = sorted(
        (
            (student.id, name_score(read, last_name=student.last_name, first_name=student.first_name))
            for student in roster
        ),
        key=lambda pair: -pair[1],
    )
    best = scored[0][1] if scored else 0.0
    candidates = tuple(pair for pair in scored[:3] if pair[1] >= MATCH_MIN)
    if best < MATCH_MIN:
        return NameMatch(read, None, best, False, candidates)
    if len(scored) > 1 and scored[1][1] >= best - AMBIGUOUS_GAP:
        return NameMatch(read, None, best, True, candidates)
    return NameMatch(read, scored[0][0], best, False, candidates)


def names_assign(reads: list[str], roster: list[RosterName]) -> list[NameMatch]:
    """Each read name's match, a student proposed for one copy only: when two copies claim the
    same student, the better-scored keeps the proposal and the other is left ambiguous."""
    matches = [name_match(read, roster) for read in reads]
    claimed: dict[int, int] = {}
    for index, match in enumerate(matches):
        if match.student_id is None:
            continue
        other = claimed.get(match.student_id)
        if other is None:
            claimed[match.student_id] = index
            continue
        loser = index if matches[other].score >= match.score else other
        if loser == other:
            claimed[match.student_id] = index
        lost = matches[loser]
        matches[loser] = NameMatch(lost.read, None, lost.score, True, lost.candidates)
    return matches


NAME_PLACEHOLDER = "[NAME]"
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
SHORTEST_NAME_PART = 2  # "Li" is a name; single letters (initials) are not masked


def name_parts(names: list[str]) -> set[str]:
    """The folded words of the names to keep away from providers ("Anne-Sophie" → anne, sophie)."""
    parts: set[str] = set()
    for name in names:
        parts.update(word for word in fold(name).split() if len(word) >= SHORTEST_NAME_PART)
    return parts


def names_mask(text: str, parts: set[str]) -> str:
    """`text` with every capitalised word that is (or is made of) a roster name replaced by
    [NAME], accents and case aside: "Nom : DUBOIS Chloé" → "Nom : [NAME] [NAME]". Lower-case
    words stay ("une pierre"), so the answers themselves are not changed."""
    if not parts or not text:
        return text

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        if not word[0].isupper():
            return word
        folded = fold(word).split()
        return NAME_PLACEHOLDER if folded and any(piece in parts for piece in folded) else word

    return _WORD_RE.sub(replace, text)
