"""Partial launch (issue 16, item 2): when the allowance covers only some copies, the start
button offers to grade those it takes (upload order, or the teacher's selection); the others
wait as « en attente d'allocation » and start when the allowance comes back — an upgrade
(Stripe's webhook) or a new period — with an email to the teacher. Graded through the engine
and the scripted server; the allowance is spent through the ledger."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from djstripe.models import Customer

from grading.models import Copy, GradingJob
from grading.services import deferred_resume_all, job_cancel, job_start
from tests.factories import allowance_leave, copy_with_pages, exam_with_bareme
from tests.grading.helpers import room_for
from usage.models import UsageRecord
from usage.selectors import month_start, usage_summary
from usage.services import usage_plan_set
from usage.tiers import TIER_LIMITS, Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    exam = exam_with_bareme(owner=teacher, questions=2, title="Contrôle de fractions")
    for name in ("Ada", "Béa", "Cid", "Dan", "Eve"):
        copy_with_pages(exam, pages=1, label=name)
    return exam


def _statuses(exam) -> dict[str, str]:
    return dict(exam.copies.values_list("student_label", "status"))


def _page(client, exam, teacher, language: str) -> str:
    teacher.language = language
    teacher.save(update_fields=["language"])
    return html.unescape(client.get(reverse("exam_detail", args=[exam.pk])).content.decode())


def test_the_start_button_offers_the_copies_the_allowance_takes_at_its_boundary(
    owner_client, teacher, exam, llm_server
):
    room = room_for(exam, 3)
    allowance_leave(teacher, room)
    page = _page(owner_client, exam, teacher, "fr")
    assert "Corriger les 3 copies possibles" in page
    assert "≈ 3 copies restantes pour cet examen" in page
    assert "les 2 autres attendront" in page
    assert "Lancer la correction" not in page
    page = _page(owner_client, exam, teacher, "en")
    assert "Grade the 3 possible copies" in page
    assert "≈ 3 copies left for this exam" in page
    assert "the 2 others will wait in line" in page

    allowance_leave(teacher, room - 1)  # one token short of the third
    page = _page(owner_client, exam, teacher, "fr")
    assert "Corriger les 2 copies possibles" in page


def test_with_room_for_every_copy_the_button_starts_them_all(owner_client, teacher, exam, llm_server):
    allowance_leave(teacher, room_for(exam, 5))
    page = _page(owner_client, exam, teacher, "fr")
    assert "Lancer la correction" in page and "copies possibles" not in page
    assert "≈ 5 copies restantes pour cet examen" in page


def test_a_partial_launch_grades_the_first_copies_and_queues_the_others_for_later(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 3))
    used_before = usage_summary(user=teacher).tokens_used
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert response.status_code == 302
    assert _statuses(exam) == {"Ada": "done", "Béa": "done", "Cid": "done", "Dan": "deferred", "Eve": "deferred"}
    assert GradingJob.objects.get(exam=exam).total_copies == 3
    summary = usage_summary(user=teacher)
    assert summary.tokens_used > used_before and summary.tokens_used <= summary.limit  # never beyond
    # The waiting copies are shown as such, in both languages.
    page = _page(owner_client, exam, teacher, "fr")
    assert "2 copies attendent que votre allocation le permette" in page
    assert page.count("En attente d'allocation") >= 2
    page = _page(owner_client, exam, teacher, "en")
    assert "2 copies are waiting for your allowance" in page
    assert "Waiting for allowance" in page


def test_without_partial_a_start_that_does_not_fit_says_how_many_copies_would(owner_client, teacher, exam, llm_server):
    allowance_leave(teacher, room_for(exam, 3))
    response = owner_client.post(reverse("exam_start", args=[exam.pk]))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Votre allocation ne couvre pas les 5 copies : elle permet d'en corriger 3 maintenant." in page
    assert "Corriger les 3 copies possibles" in page
    assert not GradingJob.objects.exists()
    assert set(_statuses(exam).values()) == {"queued"}


def test_a_selection_is_graded_in_its_own_order_and_the_rest_of_it_waits(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    ids = dict(exam.copies.values_list("student_label", "pk"))
    chosen = [ids["Eve"], ids["Béa"], ids["Dan"]]
    allowance_leave(teacher, room_for(exam, 2))
    response = owner_client.post(reverse("exam_start", args=[exam.pk]), {"copy": chosen})
    page = html.unescape(response.content.decode())
    assert "Votre allocation ne couvre pas les 3 copies" in page  # the selection, not the exam
    assert "Corriger les 2 copies possibles" in page
    kept = re.findall(r'name="copy" value="(\d+)" form="start-form" checked', page)
    assert sorted(map(int, kept)) == sorted(chosen)  # the selection kept for the partial launch
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"copy": chosen, "partial": "1"})
    # Upload order within the selection: Béa, Dan; Eve waits; the others were not chosen.
    assert _statuses(exam) == {"Ada": "queued", "Béa": "done", "Cid": "queued", "Dan": "done", "Eve": "deferred"}


def test_not_even_one_copy_fits_and_nothing_is_queued(owner_client, teacher, exam, llm_server):
    allowance_leave(teacher, room_for(exam, 1) - 1)
    response = owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    page = html.unescape(response.content.decode())
    assert "Votre allocation ne permet plus de corriger une copie de cet examen." in page
    assert set(_statuses(exam).values()) == {"queued"}


def test_the_waiting_copies_start_after_an_upgrade_webhook_and_the_teacher_is_told(
    owner_client,
    teacher,
    exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
    fake_stripe,
    prices,
    webhooks,
):
    allowance_leave(teacher, room_for(exam, 2))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert list(_statuses(exam).values()).count("deferred") == 3
    mail.outbox.clear()

    teacher.language = "en"
    teacher.save(update_fields=["language"])
    customer = fake_stripe.customer_create(email=teacher.email, metadata={"djstripe_subscriber": str(teacher.pk)})
    Customer.objects.create(id=customer["id"], subscriber=teacher, livemode=False)
    sub = fake_stripe.subscription_create(customer_id=customer["id"], price=prices["pro"])
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.deliver(fake_stripe.event("customer.subscription.created", sub))

    assert usage_summary(user=teacher).tier == Tier.PRO
    assert set(_statuses(exam).values()) == {"done"}
    assert GradingJob.objects.filter(exam=exam).count() == 2
    resumed = [m for m in mail.outbox if "Grading resumed" in m.subject]
    assert len(resumed) == 1 and resumed[0].to == [teacher.email]
    assert "3 waiting copies of “Contrôle de fractions” are being graded" in resumed[0].body
    assert reverse("exam_detail", args=[exam.pk]) in resumed[0].body


def test_a_webhook_that_brings_no_room_leaves_the_copies_waiting(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 2))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # ESSENTIEL is FREE's class a month: this month's usage already fills it.
        usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)
    assert TIER_LIMITS[Tier.ESSENTIEL] == TIER_LIMITS[Tier.FREE]
    assert list(_statuses(exam).values()).count("deferred") == 3
    assert not [m for m in mail.outbox if "reprise" in m.subject]


def test_the_waiting_copies_start_when_a_new_period_begins(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)  # no billing period: the calendar month
    allowance_leave(teacher, room_for(exam, 2))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert list(_statuses(exam).values()).count("deferred") == 3

    with django_capture_on_commit_callbacks(execute=True):
        assert deferred_resume_all() == 0  # the beat, still in the same period: nothing fits
    assert list(_statuses(exam).values()).count("deferred") == 3

    # The month turns: everything spent so far now belongs to the previous one.
    last_month = month_start(month_start(UsageRecord.objects.latest("created_at").created_at) - timedelta(days=1))
    UsageRecord.objects.filter(user=teacher).update(created_at=last_month)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert deferred_resume_all() == 3
    assert set(_statuses(exam).values()) == {"done"}
    assert [m.subject for m in mail.outbox if "reprise" in m.subject] == ["Correction reprise : Contrôle de fractions"]
    assert Copy.objects.filter(status=Copy.Status.DEFERRED).count() == 0


def test_cancelling_the_partial_job_also_stops_the_copies_waiting_for_later(teacher, exam, llm_server):
    allowance_leave(teacher, room_for(exam, 2))
    job = job_start(exam=exam, user=teacher, partial=True)  # its tasks not run: the job is running
    assert list(_statuses(exam).values()).count("deferred") == 3
    assert job_cancel(job=job) is True
    assert set(_statuses(exam).values()) == {"cancelled"}
    with_room = usage_plan_set(user=teacher, tier=Tier.MAX)
    assert with_room.tier == Tier.MAX and deferred_resume_all() == 0  # nothing left to resume
