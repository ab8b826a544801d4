"""The ledger row of one LLM call."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grading.models import Exam
from tests.factories import ExamFactory
from usage.models import ModelPrice, Reservation, UsageRecord
from usage.selectors import usage_exam_cost, usage_exam_total_cost_subquery
from usage.services import usage_record, usage_reserve, usage_unit_hold

pytestmark = pytest.mark.django_db


def record(user, **overrides):
    fields = {
        "user": user,
        "phase": "grading",
        "model": "anthropic/claude-sonnet-4-5",
        "prompt_tokens": 9_000,
        "completion_tokens": 400,
        "cached_read_tokens": 5_000,
        "cache_write_tokens": 3_000,
        "idempotency_key": "copy-1:attempt-1:grading:a",
    }
    return usage_record(**{**fields, **overrides})


def test_a_call_is_priced_and_counted_with_its_cached_tokens(teacher):
    row = record(teacher)
    assert row.total_tokens == 9_400
    assert row.prompt_cost == Decimal("0.003")  # 1 000 uncached × 3e-6
    assert row.cached_cost == Decimal("0.01275")  # 5 000 × 3e-7 + 3 000 × 3.75e-6
    assert row.completion_cost == Decimal("0.006")
    assert row.total_cost == Decimal("0.02175")
    assert row.savings == Decimal("0.01125")  # 5 000 × 2.7e-6 − 3 000 × 0.75e-6
    assert row.priced is True


def test_a_redelivered_call_is_recorded_once(teacher):
    first = record(teacher)
    again = record(teacher, prompt_tokens=99_999)
    assert first.pk == again.pk
    assert UsageRecord.objects.count() == 1


def test_raw_anthropic_input_tokens_are_refused_as_prompt_tokens(teacher):
    # Anthropic's raw input_tokens exclude the cache: passing them as prompt_tokens is a bug.
    with pytest.raises(ValueError, match="prompt_tokens must include"):
        record(teacher, prompt_tokens=1_000)
    assert not UsageRecord.objects.exists()


def test_an_unknown_phase_is_refused(teacher):
    with pytest.raises(ValueError):
        record(teacher, phase="guessing")


def test_an_exam_list_can_carry_each_exams_total_cost_in_one_query(teacher, exam_of, django_assert_num_queries):
    spent, idle = exam_of(teacher), exam_of(teacher)
    record(teacher, exam=spent, idempotency_key="a")
    record(teacher, exam=spent, idempotency_key="b", phase="verification")
    with django_assert_num_queries(1):
        costs = dict(Exam.objects.annotate(cost=usage_exam_total_cost_subquery()).values_list("pk", "cost"))
    assert costs[spent.pk] == sum(r.total_cost for r in UsageRecord.objects.filter(exam=spent)) > 0
    assert costs[idle.pk] == 0


def test_ledger_rows_are_append_only(teacher):
    row = record(teacher)
    row.total_cost = Decimal(0)
    with pytest.raises(ValueError):
        row.save()


def test_a_call_whose_model_lost_its_price_is_still_counted(teacher):
    ModelPrice.objects.create(model="ollama/maison", input_per_token=Decimal("1e-6"), output_per_token=Decimal("1e-6"))
    usage_reserve(user=teacher, key="job-1", tokens=1_000)
    ModelPrice.objects.all().delete()
    row = record(teacher, model="ollama/maison", cached_read_tokens=0, cache_write_tokens=0, reservation_key="job-1")
    assert row.priced is False
    assert row.total_tokens == 9_400
    assert row.total_cost == 0
    assert row.reservation == Reservation.objects.get(key="job-1")


def test_another_users_reservation_is_not_spent_from(teacher, other_teacher):
    usage_reserve(user=other_teacher, key="job-1", tokens=50_000)
    assert record(teacher, reservation_key="job-1").reservation is None


def test_an_exams_cost_is_the_sum_of_its_calls_per_phase(teacher, exam_of, spend):
    exam = exam_of(teacher)
    record(teacher, exam=exam, phase="detection", model="gpt-4o-mini", idempotency_key="d")
    record(teacher, exam=exam, idempotency_key="g1")
    record(teacher, exam=exam, idempotency_key="g2", cached_read_tokens=0, cache_write_tokens=0)
    record(teacher, exam=exam, phase="verification", idempotency_key="v")
    record(teacher, exam=exam_of(teacher), idempotency_key="elsewhere")
    breakdown = usage_exam_cost(exam_id=exam.pk)
    assert list(breakdown["phases"]) == ["detection", "grading", "verification"]
    grading = breakdown["phases"]["grading"]
    assert grading["total_cost"] == Decimal("0.02175") + Decimal("0.033")
    assert grading["savings"] == Decimal("0.01125")
    assert grading["total_tokens"] == 18_800
    total = breakdown["total"]
    assert total["total_cost"] == sum(p["total_cost"] for p in breakdown["phases"].values())
    assert total["total_cost"] == sum(r.total_cost for r in UsageRecord.objects.filter(exam=exam))
    assert total["cached_read_tokens"] == 15_000


def test_a_call_is_paid_by_the_pool_its_job_started_on_and_one_outside_a_job_by_the_teachers_pool_now(teacher):
    from accounts.models import School
    from schools.services import school_teacher_add, school_teacher_remove
    from tests.factories import UserFactory
    from usage.selectors import usage_summary

    school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=100_000)
    colleague = UserFactory(email="collegue@lycee-hugo.example")
    for member in (teacher, colleague):
        school_teacher_add(school=school, user=member)
    usage_reserve(user=teacher, key="job-1", tokens=50_000)
    record(teacher, idempotency_key="member-outside-a-job", reservation_key=None)  # 9 400 tokens
    school_teacher_remove(school=school, user=teacher)

    record(teacher, idempotency_key="left-in-the-job", reservation_key="job-1")
    record(teacher, idempotency_key="left-outside-a-job", reservation_key=None)

    # The school's pool, as its teachers see it: both calls made for it; the teacher's own, the last.
    assert usage_summary(user=colleague).tokens_used == 2 * 9_400
    assert usage_summary(user=teacher).tokens_used == 9_400
    rows = dict(UsageRecord.objects.values_list("idempotency_key", "school_id"))
    assert rows == {"member-outside-a-job": school.pk, "left-in-the-job": school.pk, "left-outside-a-job": None}


def _school_job_started(teacher):
    """A school whose pool `teacher` started job-1 on: the job's unit c1:1 held."""
    from accounts.models import School
    from schools.services import school_teacher_add

    school = School.objects.create(name="Lycée Victor-Hugo", allowance_tokens=100_000)
    school_teacher_add(school=school, user=teacher)
    usage_reserve(user=teacher, key="job-1", tokens=50_000)
    return school, usage_unit_hold(pool_key="job-1", unit="c1:1", need=10_000)


def _school_left_after_its_job_started(teacher):
    """The same school, which `teacher` left once the job had started."""
    from schools.services import school_teacher_remove

    school, granted = _school_job_started(teacher)
    school_teacher_remove(school=school, user=teacher)
    return school, granted


def test_a_call_recorded_against_the_reservation_its_hold_returned_is_paid_by_its_pool_without_reading_it(teacher):
    school, granted = _school_left_after_its_job_started(teacher)

    with CaptureQueriesContext(connection) as statements:
        row = record(teacher, reservation=granted.reservation)

    assert not [q for q in statements.captured_queries if 'FROM "usage_reservation"' in q["sql"]]
    assert (row.reservation.key, row.school_id) == ("job-1:c1:1", school.pk)  # not the teacher's pool now
    assert record(teacher, reservation=granted.reservation).pk == row.pk  # a replay records nothing more
    assert UsageRecord.objects.count() == 1


def test_another_users_reservation_given_is_not_spent_from(teacher, other_teacher, caplog):
    usage_reserve(user=other_teacher, key="job-1", tokens=50_000)
    granted = usage_unit_hold(pool_key="job-1", unit="c1:1", need=10_000)

    row = record(teacher, reservation=granted.reservation)

    assert (row.reservation, row.school_id) == (None, None)
    assert "unknown reservation" in caplog.text


def _foreign_keys_checked_at_once():
    """Inside a test's own transaction, foreign keys checked at each statement, as they are when
    a row's own transaction commits in production (PostgreSQL defers Django's to the commit)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_call_whose_reservation_was_deleted_is_paid_by_the_school_the_teacher_is_in_now(teacher, caplog):
    school, granted = _school_job_started(teacher)
    Reservation.objects.filter(key="job-1:c1:1").delete()
    _foreign_keys_checked_at_once()

    row = record(teacher, reservation=granted.reservation)

    assert (row.reservation, row.school_id, row.user) == (None, school.pk, teacher)
    assert "unknown reservation" in caplog.text


@pytest.mark.parametrize("held", [False, True], ids=["outside-a-job", "its-reservation-still-there"])
def test_a_call_whose_exam_was_deleted_meanwhile_is_refused_naming_its_key(teacher, held):
    exam = ExamFactory(owner=teacher)
    reservation = None
    if held:
        usage_reserve(user=teacher, key="job-1", tokens=50_000)
        reservation = usage_unit_hold(pool_key="job-1", unit="c1:1", need=10_000).reservation
    Exam.objects.filter(pk=exam.pk).delete()
    _foreign_keys_checked_at_once()

    with pytest.raises(UsageRecord.DoesNotExist) as refused:
        record(teacher, exam=exam, reservation=reservation)

    # The caller (grading.services.answers.ledger_write) records it again without the exam.
    assert refused.value.args == ("copy-1:attempt-1:grading:a",)
    assert not UsageRecord.objects.exists()


# The same through a real commit, where PostgreSQL checks the foreign key (the tests above make
# it check at once inside their own transaction).
@pytest.mark.django_db(transaction=True)
def test_a_call_whose_reservation_was_deleted_after_its_hold_is_recorded_on_the_teachers_pool_now(teacher, caplog):
    school, granted = _school_left_after_its_job_started(teacher)
    Reservation.objects.filter(key="job-1:c1:1").delete()

    row = record(teacher, reservation=granted.reservation)

    assert (row.reservation, row.school_id) == (None, None)  # the teacher's own pool, not the school's
    assert "unknown reservation" in caplog.text
    assert record(teacher, reservation=granted.reservation).pk == row.pk
    assert UsageRecord.objects.count() == 1
