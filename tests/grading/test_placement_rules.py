"""Where a model says it read an answer (page, top, bottom), as the schema keeps it: a
placement that cannot be used is dropped, never a reason to refuse the grades
(workflow/test_annotated.py prints the comments there)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from grading.engine.grader import grade_copy
from grading.engine.schema import PLACEMENT_MAX_PAGE, QuestionGrade
from tests.grading.test_engine_rules import CONFIG_A, CTX, DOUBLE, Script


def grade(**placement) -> QuestionGrade:
    return QuestionGrade(id="q1", points=1, **placement)


@pytest.mark.parametrize(
    ("page", "kept"),
    [
        (1, 1),
        (3, 3),
        (3.0, 3),
        ("3", 3),
        (" 3 ", 3),
        ("3,0", 3),
        (PLACEMENT_MAX_PAGE, PLACEMENT_MAX_PAGE),
        (PLACEMENT_MAX_PAGE + 1, None),
        (0, None),
        (-2, None),
        (2.5, None),
        ("2,5", None),
        ("deux", None),
        (True, None),  # a bool is no number, though Python counts it as one
        (False, None),
        (float("nan"), None),
        (float("inf"), None),
        ("inf", None),
        ([3], None),
        (None, None),
    ],
)
def test_a_page_is_kept_only_as_a_whole_number_of_a_page_that_can_exist(page, kept):
    assert grade(page=page, top=0.5).page == kept


@pytest.mark.parametrize(
    ("top", "bottom", "span"),
    [
        (0.2, 0.4, (0.2, 0.4)),
        ("0,2", "0.4", (0.2, 0.4)),
        (-0.5, 1.5, (0.0, 1.0)),  # clamped to the page
        (0.6, 0.3, (0.3, 0.6)),  # given upside down
        (0.3, None, (0.3, 0.3)),  # a line, not a span
        (0.3, "n/a", (0.3, 0.3)),
        (None, 0.4, (None, None)),  # no top, no span
        (True, 0.4, (None, None)),
        (float("nan"), 0.4, (None, None)),
        (0.0, 0.0, (0.0, 0.0)),
        (1, 1, (1.0, 1.0)),
    ],
)
def test_a_span_is_clamped_ordered_and_dropped_without_its_top(top, bottom, span):
    assert (lambda g: (g.top, g.bottom))(grade(page=2, top=top, bottom=bottom)) == span


def test_a_span_without_a_page_is_dropped():
    assert (lambda g: (g.page, g.top, g.bottom))(grade(page="x", top=0.2, bottom=0.4)) == (None, None, None)


@pytest.mark.parametrize(
    ("page", "page_count", "placement"),
    [(2, 3, (2, 0.2, 0.4)), (3, 3, (3, 0.2, 0.4)), (4, 3, (None, None, None)), (None, 3, (None, None, None))],
)
def test_a_page_the_copy_does_not_have_is_no_placement(page, page_count, placement):
    assert grade(page=page, top=0.2, bottom=0.4).placement_clamped(page_count) == placement


# --- Through the engine: which grader's placement a grade keeps --------------------------------

PAGES = [("data:image/jpeg;base64,/9j/", "")] * 3  # a copy of three pages


def placed(grades: dict[str, tuple]) -> str:
    """{qid: (points, confidence, page, top, bottom)} as a model's JSON answer."""
    return json.dumps(
        {
            "questions": [
                {"id": qid, "points": p, "confidence": c, "page": page, "top": top, "bottom": bottom}
                for qid, (p, c, page, top, bottom) in grades.items()
            ]
        }
    )


def placements(answers, configs=DOUBLE) -> dict[str, tuple]:
    outcome = grade_copy(ctx=CTX, pages=PAGES, step=Decimal("0.5"), configs=configs, run=Script(answers))
    return {q.qid: (q.page, q.top, q.bottom) for q in outcome.questions}


def test_a_single_grader_places_each_answer_on_a_page_the_copy_has():
    answers = {("grading", "a"): placed({"q1": (3, 0.8, 3, 0.2, 0.4), "q2": (6, 0.7, 4, 0.1, 0.2)})}

    assert placements(answers, {"a": CONFIG_A}) == {"q1": (3, 0.2, 0.4), "q2": (None, None, None)}


@pytest.mark.parametrize(
    ("verified_a", "verified_b", "first_a", "first_b", "kept"),
    [
        ((0.9, 1), (0.3, 2), 3, 1, (1, 0.1, 0.3)),  # A more confident: its verified placement
        ((0.9, None), (0.3, 2), 3, 1, (3, 0.5, 0.6)),  # …none: A's first-round one
        ((0.9, None), (0.3, 2), None, 1, (1, 0.7, 0.8)),  # …none either: B's first-round one
        ((0.3, 1), (0.9, 2), 3, 1, (2, 0.1, 0.3)),  # B more confident: B's
        ((0.3, 1), (0.9, None), 3, 1, (1, 0.7, 0.8)),  # …then B's first round
        ((0.3, 1), (0.9, None), 3, None, (3, 0.5, 0.6)),  # …then A's
        ((0.3, None), (0.9, None), None, None, (None, None, None)),
    ],
)
def test_after_verification_the_placement_comes_from_the_kept_text_then_the_first_round(
    verified_a, verified_b, first_a, first_b, kept
):
    answers = {
        ("grading", "a"): placed({"q1": (0, 0.9, first_a, 0.5, 0.6), "q2": (5, 0.9, None, None, None)}),
        ("grading", "b"): placed({"q1": (4, 0.9, first_b, 0.7, 0.8), "q2": (5, 0.9, None, None, None)}),
        ("verification", "a"): placed({"q1": (2, verified_a[0], verified_a[1], 0.1, 0.3)}),
        ("verification", "b"): placed({"q1": (2, verified_b[0], verified_b[1], 0.1, 0.3)}),
    }

    assert placements(answers)["q1"] == kept
