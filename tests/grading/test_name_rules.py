"""The name-matching rules at their edges: each part of the score, the match threshold, the
ambiguity gap, the three candidates, two copies claiming one student, and which words are
masked. Pure functions (rapidfuzz): no database."""

from __future__ import annotations

import pytest

from grading.engine.names import (
    AMBIGUOUS_GAP,
    MATCH_MIN,
    NameMatch,
    RosterName,
    name_match,
    name_parts,
    name_score,
    names_assign,
    names_mask,
)


@pytest.mark.parametrize(
    ("read", "last", "first", "score"),
    [
        ("Chloé Dubois", "DUBOIS", "Chloé", 100.0),
        ("DUBOIS Chloé", "Dubois", "Chloé", 100.0),  # either order
        ("Chloé Dubos", "Dubois", "Chloé", 95.7),  # one letter missing: the whole name decides
        ("Dubois", "Dubois", "Chloé", 95.0),  # the last name only: a little under a full match
        ("Lucas", "Martin", "Lucas", 95.0),  # the first name only: the same
        ("Duboi", "Dubois", "Chloé", 86.4),  # part of the last name only
        ("L. Martin", "Martin", "Lucas", 100.0),  # an initial stands for the first name
        ("A. Martin", "Martin", "Anne Sophie", 100.0),  # …a compound one too
        ("Ndiaye Awa", "N'Diaye", "Awa", 100.0),  # the words glued together
        ("Awa Ndiaye", "N'Diaye", "Awa", 100.0),  # …first name first
        ("Anne-Sophie Martin-Duval", "MARTIN-DUVAL", "Anne-Sophie", 100.0),
        ("Delafontaine", "De La Fontaine", "Jean", 87.7),
        ("", "Dubois", "Chloé", 0.0),  # nothing read
        ("Chloé", "", "Chloé", 0.0),  # a roster line without a last name never matches
    ],
)
def test_a_names_score(read, last, first, score):
    assert name_score(read, last_name=last, first_name=first) == score


def test_a_score_of_exactly_the_threshold_is_a_match():
    roster = [RosterName(1, "Marti", "")]
    assert name_score("Martx", last_name="Marti", first_name="") == MATCH_MIN == 80.0
    assert name_match("Martx", roster) == NameMatch("Martx", 1, 80.0, False, ((1, 80.0),))


def test_a_score_under_the_threshold_is_unmatched_with_its_score():
    roster = [RosterName(1, "Marti", ""), RosterName(2, "Zola", "Émile")]
    match = name_match("Mxrtx", roster)
    assert match == NameMatch("Mxrtx", None, 60.0, False, ())
    assert match.unmatched


# 50 letters: one student exactly, the other 47 of them (ratio 94: exactly AMBIGUOUS_GAP under).
LONG = "a" * 50


def test_a_second_student_exactly_the_gap_below_makes_the_match_ambiguous():
    roster = [RosterName(1, LONG, ""), RosterName(2, "a" * 47 + "bbb", "")]
    assert [name_score(LONG, last_name=s.last_name, first_name="") for s in roster] == [100.0, 100.0 - AMBIGUOUS_GAP]
    match = name_match(LONG, roster)
    assert match == NameMatch(LONG, None, 100.0, True, ((1, 100.0), (2, 94.0)))
    assert not match.unmatched


def test_a_second_student_just_over_the_gap_below_leaves_the_match():
    roster = [RosterName(1, LONG, ""), RosterName(2, "a" * 46 + "bbbb", "")]
    assert name_match(LONG, roster) == NameMatch(LONG, 1, 100.0, False, ((1, 100.0), (2, 92.0)))


def test_at_most_three_candidates_best_first():
    roster = [RosterName(n, "a" * (50 - n) + "b" * n, "") for n in range(1, 6)]
    match = name_match("a" * 49 + "b", roster)
    assert match.candidates == ((1, 100.0), (2, 98.0), (3, 96.0))
    assert match.ambiguous and match.student_id is None


def test_without_a_class_list_nothing_is_matched():
    assert name_match("Chloé Dubois", []) == NameMatch("Chloé Dubois", None, 0.0, False, ())


ROSTER = [RosterName(1, "Martin", "Lucas"), RosterName(2, "Dubois", "Chloé")]


def test_two_equal_claims_the_first_copy_keeps_the_student():
    first, second = names_assign(["Lucas Martin", "Martin Lucas"], ROSTER)
    assert first == NameMatch("Lucas Martin", 1, 100.0, False, ((1, 100.0),))
    assert second == NameMatch("Martin Lucas", None, 100.0, True, ((1, 100.0),))


def test_a_better_claim_later_takes_the_student_and_a_third_weaker_one_gives_way():
    reads = ["Lucas Mrtn", "Lucas Martin", "Lucas Martn", "Chloé Dubois"]
    matches = names_assign(reads, ROSTER)
    assert [(m.student_id, m.ambiguous) for m in matches] == [(None, True), (1, False), (None, True), (2, False)]
    assert [m.read for m in matches] == reads
    assert matches[0].score == name_score("Lucas Mrtn", last_name="Martin", first_name="Lucas")
    assert matches[0].score < matches[2].score < matches[1].score  # the third beats the first, not the second
    assert matches[0].candidates == ((1, matches[0].score),)


def test_an_unmatched_read_does_not_stop_the_claims_after_it():
    matches = names_assign(["Xavier Zorro", "Lucas Martin", "Martin Lucas"], ROSTER)
    assert [(m.student_id, m.ambiguous) for m in matches] == [(None, False), (1, False), (None, True)]


def test_name_parts_keep_two_letter_names_and_drop_initials():
    assert name_parts(["Li Wu", "A. Martin-Duval", "Zoé"]) == {"li", "wu", "martin", "duval", "zoe"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Nom : DUBOIS Chloé", "Nom : [NAME] [NAME]"),
        ("Martin-Duval a raison", "[NAME] a raison"),
        ("une pierre, un martin-pêcheur", "une pierre, un martin-pêcheur"),  # lower case stays
        ("", ""),
    ],
)
def test_capitalised_roster_words_are_masked(text, masked):
    assert names_mask(text, {"dubois", "chloe", "martin", "duval"}) == masked


def test_without_names_nothing_is_masked():
    assert names_mask("Nom : DUBOIS Chloé", set()) == "Nom : DUBOIS Chloé"
