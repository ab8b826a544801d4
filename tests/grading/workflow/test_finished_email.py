"""The « correction terminée » email after a partial launch says what the exam page says of the
copies left waiting (services.waiting): a renewal, with its date, only when the allowance renews
(never on FREE), else a change of plan; and the copies the job's end starts again (what it held
and did not spend, grading.receivers) are told as starting, never counted as waiting. Launched
through the views, graded through the engine and the scripted LLM server."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from tests.factories import allowance_leave
from tests.grading.helpers import copy_statuses, fractions_exam, room_for
from usage.selectors import usage_summary
from usage.services import usage_plan_set
from usage.tiers import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    return fractions_exam(teacher)


def _launch(client, teacher, exam, capture, language: str) -> None:
    teacher.language = language
    teacher.save(update_fields=["language"])
    with capture(execute=True):
        assert client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"}).status_code == 302


def _finished(language: str) -> list[str]:
    """The bodies of the job-finished emails, in order, on one line each."""
    marker = {"fr": "est terminée", "en": "is finished"}[language]
    return [" ".join(m.body.split()) for m in mail.outbox if marker in m.body]


FREE = {
    "fr": "2 copies attendent que votre allocation le permette. Elles partiront d'elles-mêmes après un "
    "changement d'offre.",
    "en": "2 copies are waiting for your allowance. They will start by themselves after a change of plan.",
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_free_teacher_is_promised_no_renewal(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, language
):
    allowance_leave(teacher, room_for(exam, 1))
    _launch(owner_client, teacher, exam, django_capture_on_commit_callbacks, language)
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]
    [body] = _finished(language)
    assert FREE[language] in body
    assert "renouvellement" not in body and "renews" not in body


PAID = {
    "fr": "2 copies attendent que votre allocation le permette. Elles partiront d'elles-mêmes au "
    "renouvellement de l'allocation le {date} ou après un changement d'offre.",
    "en": "2 copies are waiting for your allowance. They will start by themselves when the allowance renews "
    "on {date} or after a change of plan.",
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_paid_teacher_is_told_the_renewal_date(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, language
):
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)  # renews each calendar month
    allowance_leave(teacher, room_for(exam, 1))
    _launch(owner_client, teacher, exam, django_capture_on_commit_callbacks, language)
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]
    with translation.override(language):
        renewal = date_format(timezone.localtime(usage_summary(user=teacher).period_end), "DATE_FORMAT")
    [body] = _finished(language)
    assert PAID[language].format(date=renewal) in body


# A prediction (the resume comes after the email, a colleague may take the room first): « peut ».
RESTARTED = {
    "fr": "1 copie qui attendait l'allocation peut repartir maintenant : un courriel vous préviendra dès qu'elle "
    "repart.",
    "en": "1 copy that was waiting for the allowance can start again now: an email will tell you as soon as it does.",
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_copy_the_jobs_end_starts_again_is_not_counted_as_waiting(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, language
):
    # Two copies reserve their worst case and spend less: their job's end starts the third.
    allowance_leave(teacher, room_for(exam, 3) - 1)
    _launch(owner_client, teacher, exam, django_capture_on_commit_callbacks, language)
    assert copy_statuses(exam) == ["done"] * 3
    first, second = _finished(language)
    assert RESTARTED[language] in first
    assert "le permette" not in first and "waiting for your allowance" not in first
    assert RESTARTED[language] not in second and "le permette" not in second
