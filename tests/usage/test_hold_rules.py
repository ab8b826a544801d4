"""A unit's holds at their boundaries: a job's start checked under the allowance's lock, a
first round its job covers (to the last token) taken without it, a unit that spends its job's
exam and school pool whichever way its hold was taken, a later round its job covers exactly
while the allowance is overspent, and one token refused when neither the job nor the allowance
has it. A granted hold returns the unit's reservation, whichever way it was granted (its calls
are recorded against it without reading it again); a refused one, none."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import School
from schools.services import school_teacher_add
from tests.factories import UserFactory
from usage.models import Reservation
from usage.pools import allowance_pool
from usage.selectors import TIER_LIMITS, Tier, usage_summary
from usage.services import Hold, UnitHold, usage_hold, usage_reserve, usage_unit_hold, usage_units_prehold

pytestmark = pytest.mark.django_db

FREE = TIER_LIMITS[Tier.FREE]


def tokens() -> dict[str, int]:
    return dict(Reservation.objects.values_list("key", "tokens"))


def allowance_locked(queries) -> bool:
    """Whether one of the statements locked a teacher's Allowance row (what every copy of that
    teacher, or of their school, would queue on)."""
    return any('FROM "usage_allowance"' in q["sql"] and "FOR UPDATE" in q["sql"] for q in queries)


def returned_unit(granted: UnitHold, key: str = "job-1:c1:1") -> bool:
    """Whether the hold returned the unit's row as it is stored (what a ledger row needs of it)."""
    unit = Reservation.objects.get(key=key)
    returned = granted.reservation
    return (returned.pk, returned.key, returned.user_id, returned.school_id) == (
        unit.pk,
        unit.key,
        unit.user_id,
        unit.school_id,
    )


def test_a_jobs_start_is_checked_under_the_allowances_lock(teacher):
    with CaptureQueriesContext(connection) as statements:
        usage_reserve(user=teacher, key="job-1", tokens=10_000)

    assert allowance_locked(statements.captured_queries)


@pytest.mark.parametrize(("more", "locked"), [(0, False), (1, True)])
def test_a_first_round_its_job_covers_to_the_last_token_takes_no_allowance_lock_and_one_token_more_does(
    teacher, spend, more, locked
):
    usage_reserve(user=teacher, key="job-1", tokens=10_000)
    spend(teacher, 1_000, reservation_key="job-1")  # the job has 9 000 left

    with CaptureQueriesContext(connection) as statements:
        granted = usage_unit_hold(pool_key="job-1", unit="c1:1", need=9_000 + more)

    assert granted.hold is Hold.GRANTED
    assert allowance_locked(statements.captured_queries) is locked
    assert tokens() == {"job-1": 1_000, "job-1:c1:1": 9_000 + more}
    # Taken by the job's row alone, or with the allowance's lock: the same row either way.
    unit = Reservation.objects.get(key="job-1:c1:1")
    assert (unit.user_id, unit.state) == (teacher.pk, Reservation.State.HELD)
    assert returned_unit(granted)


@pytest.mark.parametrize(("more", "outcome"), [(0, Hold.GRANTED), (1, Hold.EXHAUSTED)])
def test_a_round_a_preheld_unit_covers_to_the_last_token_returns_its_reservation_on_one_read(
    teacher, spend, more, outcome, django_assert_max_num_queries
):
    usage_reserve(user=teacher, key="job-1", tokens=5_000)
    assert usage_units_prehold(pool_key="job-1", units=[("c1:1", 5_000)]) == 1  # all the job held
    spend(teacher, 1_000, reservation_key="job-1:c1:1")
    spend(teacher, FREE - 5_000)  # the allowance has nothing left beyond what the unit holds

    with django_assert_max_num_queries(1 if outcome is Hold.GRANTED else 20):
        granted = usage_unit_hold(pool_key="job-1", unit="c1:1", need=4_000 + more)

    assert granted.hold is outcome
    assert returned_unit(granted) if outcome is Hold.GRANTED else granted.reservation is None


def test_a_unit_spends_its_jobs_exam_and_school_pool_whether_its_job_or_the_pool_covered_it(teacher, exam_of, spend):
    school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=100_000)
    school_teacher_add(school=school, user=teacher)
    colleague = UserFactory(email="collegue@lycee-hugo.example")
    school_teacher_add(school=school, user=colleague)
    exam = exam_of(teacher)
    usage_reserve(user=teacher, key="job-1", tokens=1_000, exam=exam)

    assert usage_hold(pool_key="job-1", unit="c1:1", need=600) is Hold.GRANTED  # the job covers it
    assert usage_hold(pool_key="job-1", unit="c2:1", need=600) is Hold.GRANTED  # 400 from the job, 200 the pool
    spend(teacher, 100, reservation_key="job-1:c1:1")
    spend(teacher, 250, reservation_key="job-1:c2:1")

    # What the school's pool shows any of its teachers: both copies' calls, and what they still hold.
    pool = usage_summary(user=colleague)
    assert (pool.tokens_used, pool.reserved) == (350, 1_200 - 350)
    assert usage_summary(user=teacher).remaining == 100_000 - 1_200
    units = Reservation.objects.filter(key__startswith="job-1:").order_by("key")
    assert [(u.key, u.exam_id, u.school_id) for u in units] == [
        ("job-1:c1:1", exam.pk, school.pk),
        ("job-1:c2:1", exam.pk, school.pk),
    ]
    assert {r.school_id for r in teacher.usage_records.all()} == {school.pk}


@pytest.mark.parametrize(("job_short", "outcome"), [(0, Hold.GRANTED), (1, Hold.EXHAUSTED)])
def test_a_later_round_its_job_covers_exactly_is_granted_even_when_the_allowance_is_overspent(
    teacher, spend, job_short, outcome
):
    usage_reserve(user=teacher, key="job-1", tokens=10_000 - job_short)
    usage_hold(pool_key="job-1", unit="c1:1", need=6_000)  # the job keeps 4 000 (less one)
    spend(teacher, 2_000, reservation_key="job-1:c1:1")
    spend(teacher, FREE)  # a late call elsewhere: the allowance is now overspent
    assert allowance_pool(user=teacher).remaining() < 0

    # 2 000 spent + 8 000 for the round: 4 000 more than the unit holds, what its job has left.
    granted = usage_unit_hold(pool_key="job-1", unit="c1:1", need=8_000)
    assert granted.hold is outcome

    if outcome is Hold.GRANTED:
        assert tokens() == {"job-1": 0, "job-1:c1:1": 10_000}
        assert returned_unit(granted)
    else:  # refused: the unit keeps what it spent, the job what it had
        assert tokens() == {"job-1": 4_000 - job_short, "job-1:c1:1": 2_000}
        assert granted.reservation is None


@pytest.mark.parametrize(("spare", "outcome"), [(1, Hold.GRANTED), (0, Hold.EXHAUSTED)])
def test_one_token_its_job_has_not_is_granted_from_the_allowances_last_and_refused_without_it(
    teacher, spend, spare, outcome
):
    usage_reserve(user=teacher, key="job-1", tokens=0)
    spend(teacher, FREE - spare)

    assert usage_hold(pool_key="job-1", unit="c1:1", need=1) is outcome

    assert tokens() == {"job-1": 0, "job-1:c1:1": spare}
    assert usage_summary(user=teacher).remaining == 0


@pytest.mark.parametrize("need", [0, 1])
def test_a_unit_of_a_job_spent_beyond_its_reservation_is_held_from_the_allowance_with_its_reservation(
    teacher, spend, need
):
    usage_reserve(user=teacher, key="job-1", tokens=1_000)
    spend(teacher, 1_500, reservation_key="job-1")  # the job cannot cover even an empty round

    granted = usage_unit_hold(pool_key="job-1", unit="c1:1", need=need)

    assert granted.hold is Hold.GRANTED
    assert returned_unit(granted)
    assert tokens() == {"job-1": 1_000, "job-1:c1:1": need}  # nothing taken from the job
