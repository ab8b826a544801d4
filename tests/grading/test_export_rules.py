"""The exports' number and text rules on tables of cases: the /20 mark to the hundredth, the
decimal comma, the scale Pronote's mark is on, rounding to the step, the cell text a
spreadsheet cannot run, the appréciation's cut (test_pronote_rules.py has its length rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grading.exports.pronote import appreciation_cut, mark_round, scale_max
from grading.exports.tables import cell_text, fr_number, on_twenty

D = Decimal


@pytest.mark.parametrize(
    ("total", "bareme", "mark"),
    [
        ("11.5", "15", "15.33"),  # not a whole mark: the hundredth is kept
        ("7", "10", "14.00"),
        ("13", "17", "15.29"),
        ("1", "1600", "0.01"),  # 0.0125
        ("20", "20", "20.00"),
        ("0", "12", "0.00"),
        ("27", "40", "13.50"),
    ],
)
def test_the_mark_on_twenty_keeps_two_decimals(total, bareme, mark):
    result = on_twenty(D(total), D(bareme))
    assert result == D(mark)
    assert str(result) == mark


@pytest.mark.parametrize(("total", "bareme"), [(None, "20"), ("5", "0"), (None, "0")])
def test_no_mark_on_twenty_without_a_total_or_a_bareme(total, bareme):
    assert on_twenty(D(total) if total else None, D(bareme)) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (D("15.33"), "15,33"), (D("14.00"), "14"), (D("100"), "100"), (D("0.50"), "0,5"), (D("-1.5"), "-1,5")],
)
def test_a_number_is_written_with_a_decimal_comma_and_no_trailing_zero(value, text):
    assert fr_number(value) == text


@pytest.mark.parametrize(("scale", "maximum"), [("20", D(20)), ("bareme", D("17.5")), ("100", D(20)), ("", D(20))])
def test_the_pronote_mark_is_on_twenty_unless_the_teacher_asks_for_the_bareme(scale, maximum):
    assert scale_max(scale=scale, bareme_total=D("17.5")) == maximum


@pytest.mark.parametrize(
    ("value", "step", "rounded"),
    [
        ("15.3333", "0", "15.3333"),  # no step: kept as is
        ("15.3333", "-1", "15.3333"),
        ("15.3333", "0.01", "15.33"),
        ("15.335", "0.01", "15.34"),  # half up, not half even
        ("14.25", "0.5", "14.5"),
        ("14.5", "1", "15"),
        ("13.125", "0.25", "13.25"),
    ],
)
def test_a_mark_rounds_half_up_to_the_step(value, step, rounded):
    assert mark_round(D(value), step=D(step)) == D(rounded)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("Léa", "Léa"),
        ("=SOMME(A1)", "'=SOMME(A1)"),
        ("-2", "'-2"),
        ("+33", "'+33"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\x07bip", "bip"),  # characters a workbook cannot hold are dropped
        ("\x01=1+1", "'=1+1"),  # …before the check: what is left must not run either
        ("a\x0bb", "ab"),
    ],
)
def test_a_cell_is_text_a_spreadsheet_cannot_run(value, cell):
    assert cell_text(value) == cell


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("Bien vu, mais revoir la fin.", 30, "Bien vu, mais revoir la fin."),
        ("Bien vu, mais revoir la fin.", 27, "Bien vu, mais revoir la…"),
        ("Bien vu, mais revoir la fin.", 14, "Bien vu, mais…"),  # the cut falls on a space: "mais" kept
        ("Bien vu, mais revoir la fin.", 9, "Bien vu…"),  # the comma before the cut goes
        ("Bien vu; mais", 10, "Bien vu…"),
        ("Bien vu: mais", 10, "Bien vu…"),
        ("Bien vu. Mais", 10, "Bien vu…"),
        ("Excellent", 5, "Exce…"),
        ("  Bien\n\nvu  ", 30, "Bien vu"),
    ],
)
def test_an_appreciation_is_cut_at_a_word_with_an_ellipsis_to_its_limit(text, limit, cut):
    assert appreciation_cut(text, limit=limit) == cut
    assert len(cut) <= limit
