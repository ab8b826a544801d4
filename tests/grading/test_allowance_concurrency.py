"""The allowance is exact under concurrency: twenty copies graded by a real worker on four
threads against a nearly empty FREE allowance, every answer billed at its cap, never spend
more than the allowance; the copies that find no room wait, then stop as "quota reached"."""

from __future__ import annotations

import time

import pytest
from django.utils import translation

from grading.models import Copy, GradingJob
from grading.services.jobs import _job_create
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.servers import celery_worker_start
from usage.models import Reservation, UsageRecord
from usage.selectors import usage_summary
from usage.services import usage_record
from usage.tiers import TIER_LIMITS, Tier

from .conftest import roles_env
from .test_reconcile import broker_flush

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MAX_TOKENS = 2000
COPIES = 20


def test_twenty_copies_on_four_threads_never_spend_past_a_nearly_empty_free_allowance(
    llm_server, teacher, tmp_path, settings
):
    settings.CORRIGO_LLM_MAX_TOKENS = MAX_TOKENS
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copies = [copy_with_pages(exam, pages=1) for _ in range(COPIES)]
    left = 30_000  # room for about six copies answered at their cap
    usage_record(
        user=teacher,
        phase="grading",
        model="openai/gpt-4o",
        prompt_tokens=TIER_LIMITS[Tier.FREE] - left,
        completion_tokens=0,
        idempotency_key="earlier-exam",
    )
    llm_server.script(completion_tokens="max", times=10 * COPIES)
    llm_server.latency = 0.3
    broker_flush()
    worker = celery_worker_start(
        tmp_path, name="quota", concurrency=4, **roles_env(llm_server), CORRIGO_LLM_MAX_TOKENS=str(MAX_TOKENS)
    )
    try:
        # The job's estimate fits (it is what a start checks); the answers' real size does not.
        job = _job_create(exam=exam, user=teacher, copies=copies, estimate_tokens=left // 2)
        deadline = time.monotonic() + 240
        while GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.RUNNING:
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.3)
    finally:
        worker.stop()
        broker_flush()

    summary = usage_summary(user=teacher)
    assert summary.tokens_used <= summary.limit, summary
    assert summary.reserved == 0 and not Reservation.objects.filter(state=Reservation.State.HELD).exists()
    statuses = list(Copy.objects.filter(exam=exam).values_list("status", flat=True))
    done, stopped = statuses.count(Copy.Status.DONE), statuses.count(Copy.Status.QUOTA_REACHED)
    assert done + stopped == COPIES and stopped >= 1, statuses
    # The allowance is used up, not merely respected: what is left cannot hold one more copy's
    # worst case. That worst case (the prompt's bound, at most half again the prompt, plus the
    # cap the answer reached) is under twice what a copy really spent; a copy refused while
    # room was left would leave more (30 000 left at the start, ≈ 3 500 a copy).
    per_copy = max(r.usage["prompt_tokens"] + r.usage["completion_tokens"] for r in llm_server.requests if r.usage)
    assert summary.limit - summary.tokens_used < 2 * per_copy, (summary, per_copy, done)
    with translation.override("fr"):
        reasons = {copy.failure_text for copy in Copy.objects.filter(status=Copy.Status.QUOTA_REACHED)}
    assert reasons == {"Allocation de jetons épuisée : relancez la copie après avoir changé d'offre."}
    # Every call the provider answered is in the ledger, each at its cap.
    answered = [r for r in llm_server.requests if r.usage]
    assert len(answered) == done
    assert UsageRecord.objects.filter(exam=exam).count() == done
    assert {r.usage["completion_tokens"] for r in answered} == {MAX_TOKENS}
