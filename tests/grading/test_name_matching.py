"""Names read on copies matched to a class list, on a table of tricky pairs."""

from __future__ import annotations

import pytest

from grading.engine.names import MATCH_MIN, RosterName, name_match, name_parts, names_assign, names_mask

ROSTER = [
    RosterName(1, "ABADIE", "Léa"),
    RosterName(2, "BENOÎT", "Théo"),
    RosterName(3, "DE LA FONTAINE", "Jean-Baptiste"),
    RosterName(4, "DUBOIS", "Chloé"),
    RosterName(5, "MARTIN", "Lucas"),
    RosterName(6, "MARTIN", "Manon"),
    RosterName(7, "MARTIN-DUVAL", "Anne-Sophie"),
    RosterName(8, "N'DIAYE", "Awa"),
    RosterName(9, "ZAÏDI", "Inès"),
]


@pytest.mark.parametrize(
    ("read", "student"),
    [
        ("DUBOIS Chloé", 4),  # as in the list
        ("dubois chloe", 4),  # case and accents
        ("Chloé Dubois", 4),  # first name first
        ("Dubios Chloé", 4),  # a typo
        ("Zaidi Ines", 9),  # no diaeresis
        ("Benoit", 2),  # the last name alone, no circumflex
        ("Lucas Martin", 5),  # same last name as Manon, first name decides
        ("L. Martin", 5),  # an initial
        ("M. Martin", 6),
        ("Martin Lucaz", 5),
        ("Anne Sophie Martin Duval", 7),  # compound names without hyphens
        ("Martin-Duval", 7),
        ("Jean Baptiste de la Fontaine", 3),  # particle, inverted
        ("Delafontaine Jean-Baptiste", 3),  # particle glued
        ("Ndiaye Awa", 8),  # apostrophe dropped
        ("Abadi Lea", 1),
    ],
)
def test_a_read_name_finds_its_student(read, student):
    match = name_match(read, ROSTER)

    assert (match.student_id, match.ambiguous) == (student, False)
    assert match.score >= MATCH_MIN


@pytest.mark.parametrize("read", ["Martin", "MARTIN", "martin"])
def test_a_last_name_shared_by_two_students_is_ambiguous(read):
    match = name_match(read, ROSTER)

    assert match.student_id is None and match.ambiguous
    assert {student for student, _score in match.candidates[:2]} == {5, 6}


@pytest.mark.parametrize("read", ["copie 04", "Élève 3", "", "Hugo Lefèvre", "x = 3"])
def test_a_name_not_in_the_list_is_unmatched(read):
    match = name_match(read, ROSTER)

    assert match.student_id is None and match.unmatched


def test_without_a_class_list_nothing_matches():
    assert name_match("DUBOIS Chloé", []).unmatched


def test_two_copies_claiming_one_student_leave_the_weaker_for_the_teacher():
    first, second = names_assign(["Chloé Dubois", "Chloe Dubos"], ROSTER)

    assert first.student_id == 4
    assert second.student_id is None and second.ambiguous


def test_a_weaker_claim_first_gives_way_to_a_better_one():
    first, second = names_assign(["Chloe Dubos", "Chloé Dubois"], ROSTER)

    assert (first.student_id, second.student_id) == (None, 4)
    assert first.ambiguous


def test_roster_names_in_a_text_layer_are_masked_lowercase_words_kept():
    parts = name_parts(["DUBOIS Chloé", "MARTIN-DUVAL Anne-Sophie", "N'DIAYE Awa", "PIERRE Jean"])

    masked = names_mask("Nom : DUBOIS Chloé. Anne-Sophie a aidé N'Diaye ; une pierre tombe. CHLOE", parts)

    assert masked == "Nom : [NAME] [NAME]. [NAME] a aidé [NAME] ; une pierre tombe. [NAME]"
