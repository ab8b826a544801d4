"""Pronote's rules at their boundaries: rounding to the step, the decimal comma, the
appréciation's length cut at a word boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grading.exports.pronote import APPRECIATION_MAX, appreciation_cut, mark_round
from grading.exports.tables import fr_number


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        ("15.24", "0.5", "15"),
        ("15.25", "0.5", "15.5"),  # half-way rounds up
        ("15.26", "0.5", "15.5"),
        ("15.124", "0.25", "15"),
        ("15.125", "0.25", "15.25"),
        ("15.49", "1", "15"),
        ("15.5", "1", "16"),
        ("20", "0.5", "20"),
    ],
)
def test_a_mark_is_rounded_half_up_to_the_exams_step(value, step, expected):
    assert mark_round(Decimal(value), step=Decimal(step)) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "text"), [("14", "14"), ("14.00", "14"), ("12.50", "12,5"), ("13.75", "13,75"), ("0", "0"), ("20", "20")]
)
def test_a_mark_has_a_decimal_comma_and_no_trailing_zero(value, text):
    assert fr_number(Decimal(value)) == text


def test_an_appreciation_of_exactly_the_fields_length_is_kept_whole():
    text = ("mot " * 70)[: APPRECIATION_MAX - 1] + "x"
    assert len(text) == APPRECIATION_MAX

    assert appreciation_cut(text) == text


def test_one_character_over_cuts_at_the_last_whole_word_with_an_ellipsis():
    text = "mot " * 62 + "fin"  # 251 characters, the cut falls inside "fin"
    assert len(text) == APPRECIATION_MAX + 1

    cut = appreciation_cut(text)

    assert cut == ("mot " * 62).rstrip() + "…"
    assert len(cut) <= APPRECIATION_MAX


def test_a_cut_right_after_a_word_keeps_that_word():
    text = "a" * 248 + " bcd"  # the 250th character is the space before "bcd"

    assert appreciation_cut(text) == "a" * 248 + "…"


def test_newlines_and_runs_of_spaces_become_single_spaces():
    assert appreciation_cut("Q1 : bien.\nQ2 :   revoir\tla méthode.") == "Q1 : bien. Q2 : revoir la méthode."


def test_a_single_word_longer_than_the_field_is_cut_hard():
    assert appreciation_cut("x" * 300) == "x" * 249 + "…"
