"""A job spends the pool it started on, to its end (issue 16, item 4): a teacher who joins a
school — or leaves it — while a job runs changes neither what that job holds nor which
allowance its calls count against, so neither pool is ever exceeded. The job's reservation, its
copies' holds and its ledger rows carry the pool (usage.pools). Graded through the views, the
engine (tasks run eagerly) and the scripted LLM server."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.urls import reverse

from grading.models import Copy
from grading.services.estimate import job_estimate, reservation_for
from schools.services import school_teacher_add, school_teacher_remove
from tests.factories import allowance_leave, copy_with_pages, exam_with_bareme
from usage.models import UsageRecord
from usage.selectors import usage_summary
from usage.services import QuotaExceeded, usage_reserve
from usage.tiers import FREE_TOKENS

from .conftest import POOL

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    exam = exam_with_bareme(owner=teacher, questions=2, title="Contrôle de fractions")
    for name in ("Ada", "Béa", "Cid", "Dan", "Eve"):
        copy_with_pages(exam, pages=1, label=name)
    return exam


def _spent_on(exam) -> int:
    return UsageRecord.objects.filter(exam=exam).aggregate(t=Sum("total_tokens"))["t"] or 0


def _start_then(owner_client, exam, capture, meanwhile) -> None:
    """Starts grading the whole exam; `meanwhile` runs after the job holds its reservation and
    before any copy is graded; then the copies are graded."""
    with capture(execute=False) as started:
        assert owner_client.post(reverse("exam_start", args=[exam.pk])).status_code == 302
    meanwhile()
    with capture(execute=True):
        for callback in started:
            callback()
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}


def test_joining_a_school_mid_job_leaves_the_job_on_the_teachers_own_allowance(
    owner_client, teacher, school, colleague, exam, spend, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    spend(colleague, POOL - 1)  # the school's pool: one token left

    _start_then(
        owner_client, exam, django_capture_on_commit_callbacks, lambda: school_teacher_add(school=school, user=teacher)
    )

    job_tokens = _spent_on(exam)
    assert job_tokens > 1
    # The school's pool never paid for the job started before the teacher joined…
    school_pool = usage_summary(user=colleague)
    assert (school_pool.tokens_used, school_pool.reserved, school_pool.remaining) == (POOL - 1, 0, 1)
    assert usage_summary(user=teacher).tokens_used == POOL - 1
    # …the teacher's own allowance did, within its limit.
    school_teacher_remove(school=school, user=teacher)
    own = usage_summary(user=teacher)
    assert (own.school, own.tokens_used, own.reserved) == ("", job_tokens, 0)
    assert own.tokens_used <= own.limit == FREE_TOKENS


def test_a_job_started_after_joining_spends_the_schools_pool_and_is_refused_past_it(
    owner_client, teacher, school, colleague, exam, spend, llm_server
):
    spend(colleague, POOL - 1)
    school_teacher_add(school=school, user=teacher)
    needed = reservation_for(job_estimate(exam=exam).lines[:1])
    with pytest.raises(QuotaExceeded) as refused:
        usage_reserve(user=teacher, key="after-joining", tokens=needed)
    assert (refused.value.remaining, refused.value.missing) == (1, needed - 1)


def test_leaving_a_school_mid_job_leaves_the_job_on_the_schools_pool(
    owner_client, teacher, school, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, 1)  # the teacher's own allowance: one token left
    school.allowance_tokens = FREE_TOKENS
    school.save(update_fields=["allowance_tokens"])
    school_teacher_add(school=school, user=teacher)

    _start_then(
        owner_client,
        exam,
        django_capture_on_commit_callbacks,
        lambda: school_teacher_remove(school=school, user=teacher),
    )

    own = usage_summary(user=teacher)
    assert (own.school, own.remaining, own.reserved) == ("", 1, 0)  # never touched by the job
    school_teacher_add(school=school, user=teacher)
    pooled = usage_summary(user=teacher)
    assert (pooled.tokens_used, pooled.reserved) == (_spent_on(exam), 0)
    assert pooled.tokens_used <= pooled.limit
