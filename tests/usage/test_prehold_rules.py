"""A job's first holds given when it starts (usage_units_prehold): its copies in order while
the job's reservation covers them, to the last token, and not one token more; nothing the
allowance counts moves; a copy given its first round finds it covered (one read, no lock)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import School
from schools.services import school_teacher_add
from usage.models import Reservation
from usage.selectors import usage_summary
from usage.services import Hold, usage_hold, usage_reserve, usage_units_prehold

pytestmark = pytest.mark.django_db


def tokens() -> dict[str, int]:
    return dict(Reservation.objects.values_list("key", "tokens"))


@pytest.mark.parametrize(("short", "given"), [(0, 3), (1, 2)])
def test_a_jobs_copies_get_their_first_round_in_order_while_its_reservation_covers_them(teacher, spend, short, given):
    usage_reserve(user=teacher, key="job-1", tokens=10_000 - short)
    spend(teacher, 1_000, reservation_key="job-1")  # what the job spent counts: 9 000 left
    before = usage_summary(user=teacher)

    # The third copy needs the job's last 2 000 tokens; the fourth, smaller, comes after it.
    units = [("c1:1", 4_000), ("c2:1", 3_000), ("c3:1", 2_000), ("c4:1", 1)]
    assert usage_units_prehold(pool_key="job-1", units=units) == given

    expected = {"job-1:c1:1": 4_000, "job-1:c2:1": 3_000, "job-1:c3:1": 2_000}
    if given == 2:
        del expected["job-1:c3:1"]
    assert tokens() == {"job-1": 10_000 - short - sum(expected.values()), **expected}
    after = usage_summary(user=teacher)
    assert (after.reserved, after.remaining) == (before.reserved, before.remaining)
    unit = Reservation.objects.get(key="job-1:c1:1")
    assert (unit.user_id, unit.state) == (teacher.pk, Reservation.State.HELD)


def test_a_settled_or_unknown_job_gives_nothing(teacher):
    assert usage_units_prehold(pool_key="job-404", units=[("c1:1", 1)]) == 0
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    Reservation.objects.filter(key="job-1").update(state=Reservation.State.SETTLED)

    assert usage_units_prehold(pool_key="job-1", units=[("c1:1", 1)]) == 0
    assert tokens() == {"job-1": 10_000}


@pytest.mark.parametrize(("more", "reads_only"), [(0, True), (1, False)])
def test_a_first_round_given_at_the_start_is_granted_on_one_read_and_one_token_more_is_held_as_usual(
    teacher, more, reads_only
):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    usage_units_prehold(pool_key="job-1", units=[("c1:1", 6_000)])

    with CaptureQueriesContext(connection) as statements:
        assert usage_hold(pool_key="job-1", unit="c1:1", need=6_000 + more) is Hold.GRANTED

    writes = [q for q in statements.captured_queries if not q["sql"].startswith("SELECT")]
    assert (len(statements.captured_queries) == 1 and not writes) is reads_only
    assert tokens() == {"job-1": 4_000 - more, "job-1:c1:1": 6_000 + more}


def test_a_negative_first_round_is_refused_and_nothing_is_given(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)

    with pytest.raises(ValueError, match=r"^need must be >= 0$"):
        usage_units_prehold(pool_key="job-1", units=[("c1:1", 1_000), ("c2:1", -1)])

    assert tokens() == {"job-1": 10_000}


def test_an_empty_first_round_is_given_too(teacher):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)

    assert usage_units_prehold(pool_key="job-1", units=[("c1:1", 0), ("c2:1", 1)]) == 2

    assert tokens() == {"job-1": 9_999, "job-1:c1:1": 0, "job-1:c2:1": 1}


def test_the_units_are_given_from_their_own_job_with_its_exam_and_school(teacher, other_teacher, exam_of):
    school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=100_000)
    school_teacher_add(school=school, user=teacher)
    usage_reserve(user=other_teacher, key="job-0", tokens=10_000)  # another teacher's job, held first
    exam = exam_of(teacher)
    usage_reserve(user=teacher, key="job-1", tokens=10_000, exam=exam)

    assert usage_units_prehold(pool_key="job-1", units=[("c1:1", 4_000)]) == 1

    assert tokens() == {"job-0": 10_000, "job-1": 6_000, "job-1:c1:1": 4_000}
    unit = Reservation.objects.get(key="job-1:c1:1")
    assert (unit.user_id, unit.exam_id, unit.school_id) == (teacher.pk, exam.pk, school.pk)
