"""The operators' admin for exams, copies and jobs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grading import services
from grading.models import Copy, GradingJob
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from usage.models import UsageRecord

from .helpers import grades_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


@pytest.fixture
def admin_client(client):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    return client


def test_a_copy_page_shows_its_grades_audit_and_ledger_rows(admin_client, llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy = copy_with_pages(exam, pages=1, label="Zoé Martin")
    job = services.job_start(exam=exam, user=teacher)
    llm_server.script(grades_json([3]))
    services.copy_grade(
        copy_id=copy.pk, job_id=job.pk, attempt=Copy.objects.get(pk=copy.pk).attempt, lease_owner="test-task"
    )

    page = admin_client.get(reverse("admin:grading_copy_change", args=[copy.pk])).content.decode()

    assert "Raisonnement pour q1." in page  # the grade
    assert UsageRecord.objects.get(copy=copy).idempotency_key in page  # its ledger row
    assert "L&#x27;élève écrit la réponse 1." in page or "élève écrit la réponse 1" in page
    listing = admin_client.get(reverse("admin:grading_copy_changelist"), {"status__exact": "done", "q": "Zoé"})
    assert "Zoé Martin" in listing.content.decode()
    assert admin_client.get(reverse("admin:grading_exam_change", args=[exam.pk])).status_code == 200
    assert admin_client.get(reverse("admin:grading_gradingjob_changelist")).status_code == 200


def test_admin_actions_rerun_failed_copies_and_cancel_jobs(
    admin_client, llm_server, eager_celery, teacher, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    failed = copy_with_pages(exam, pages=1)
    Copy.objects.filter(pk=failed.pk).update(status=Copy.Status.FAILED, failure_reason="panne")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:grading_copy_changelist"),
            {"action": "rerun_failed_copies", "_selected_action": [failed.pk]},
        )
    failed.refresh_from_db()
    assert failed.status == Copy.Status.DONE

    other = exam_with_bareme(owner=teacher, questions=1)
    copy_with_pages(other, pages=1)
    job = services.job_start(exam=other, user=teacher)  # nothing enqueued: no on-commit here
    admin_client.post(
        reverse("admin:grading_gradingjob_changelist"), {"action": "cancel_jobs", "_selected_action": [job.pk]}
    )
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.CANCELLED
