"""Where a model says it read an answer (page, top, bottom), as the schema keeps it: a
placement that cannot be used is dropped, never a reason to refuse the grades
(workflow/test_annotated.py prints the comments there)."""

from __future__ import annotations

import pytest

from grading.engine.schema import PLACEMENT_MAX_PAGE, QuestionGrade


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
