"""Copies a partial launch left waiting start when allowance comes back through a school
(issue 16, item 4): the school's subscription upgraded (its webhook), the operator raising the
pool in the admin, a new period, or the teacher joining a school with room — each time with an
email naming the school. End to end: the real views, dj-stripe's endpoint with Stripe faked,
the engine (tasks run eagerly on commit) and the scripted LLM server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from grading.models import Copy, GradingJob
from grading.services import deferred_resume_all
from tests.factories import allowance_leave, copy_with_pages, exam_with_bareme
from tests.grading.helpers import copy_statuses, room_for
from tests.schools.story import SchoolSubscriptionStory
from usage.models import UsageRecord
from usage.selectors import month_start, usage_summary
from usage.tiers import FREE_TOKENS, TIER_LIMITS, Tier

pytestmark = pytest.mark.django_db

RESUMED = "Correction reprise : Contrôle de fractions"


@pytest.fixture
def exam(teacher):
    exam = exam_with_bareme(owner=teacher, questions=2, title="Contrôle de fractions")
    for name in ("Ada", "Béa", "Cid", "Dan", "Eve"):
        copy_with_pages(exam, pages=1, label=name)
    return exam


@pytest.fixture
def admin_browser(school_admin):
    """The school admin in a browser of their own (the teacher uses `owner_client`)."""
    browser = Client()
    browser.force_login(school_admin)
    return browser


def _partial_launch(owner_client, exam, capture) -> None:
    with capture(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert copy_statuses(exam) == ["done", "done", "deferred", "deferred", "deferred"]
    mail.outbox.clear()


def _resumed_mail(teacher) -> str:
    [message] = [m for m in mail.outbox if m.subject == RESUMED]
    assert message.to == [teacher.email]
    return message.body


def test_a_partial_launch_resumes_after_the_schools_upgrade_webhook(
    owner_client,
    admin_browser,
    school,
    school_teacher,
    exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
    fake_stripe,
    prices,
    webhooks,
):
    story = SchoolSubscriptionStory(fake_stripe, prices, school, admin_browser, seats=1)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    assert usage_summary(user=school_teacher).limit == FREE_TOKENS  # ESSENTIEL × 1 teacher
    allowance_leave(school_teacher, room_for(exam, 2))  # the school's earlier usage
    _partial_launch(owner_client, exam, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        for event in story.trial_ends().events:  # same plan: no room, nothing starts
            webhooks.deliver(event)
    assert copy_statuses(exam).count("deferred") == 3 and not mail.outbox

    with django_capture_on_commit_callbacks(execute=True):
        for event in story.upgrade().events:  # PRO × 3 teachers
            webhooks.deliver(event)

    summary = usage_summary(user=school_teacher)
    assert summary.limit == 3 * TIER_LIMITS[Tier.PRO]
    assert copy_statuses(exam) == ["done"] * 5
    assert GradingJob.objects.filter(exam=exam).count() == 2
    assert summary.tokens_used <= summary.limit
    body = _resumed_mail(school_teacher)
    assert (
        "L'allocation de Lycée Victor-Hugo le permet : 3 copies de « Contrôle de fractions » "
        "qui attendaient sont en cours de correction." in body
    )
    assert reverse("exam_detail", args=[exam.pk]) in body


def test_the_operator_raising_the_pool_in_the_admin_resumes_the_waiting_copies(
    owner_client, school, school_teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    school.allowance_tokens = room_for(exam, 2)
    school.save(update_fields=["allowance_tokens"])
    _partial_launch(owner_client, exam, django_capture_on_commit_callbacks)

    operator = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    browser = Client()
    browser.force_login(operator)
    membership = school.memberships.get()
    joined = timezone.localtime(membership.joined_at)
    form = {
        "name": school.name,
        "city": school.city,
        "uai": "",
        "admins": [a.pk for a in school.admins.all()],
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": membership.pk,
        "memberships-0-school": school.pk,
        "memberships-0-user": school_teacher.pk,
        "memberships-0-joined_at_0": joined.date().isoformat(),
        "memberships-0-joined_at_1": joined.strftime("%H:%M:%S"),
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
    }
    url = reverse("admin:accounts_school_change", args=[school.pk])
    with django_capture_on_commit_callbacks(execute=True):
        # Another edit that brings no room (the school's city): the copies keep waiting.
        assert browser.post(url, form | {"allowance_tokens": str(school.allowance_tokens)}).status_code == 302
    assert copy_statuses(exam).count("deferred") == 3 and not mail.outbox

    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(url, form | {"allowance_tokens": str(FREE_TOKENS)}).status_code == 302

    assert copy_statuses(exam) == ["done"] * 5
    assert "L'allocation de Lycée Victor-Hugo le permet : 3 copies" in _resumed_mail(school_teacher)


def test_the_waiting_copies_start_when_the_schools_new_period_begins(
    owner_client, school, school_teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    school.allowance_tokens = room_for(exam, 3)  # a month takes the 3 copies left
    school.save(update_fields=["allowance_tokens"])
    allowance_leave(school_teacher, room_for(exam, 2))  # this month's earlier usage
    _partial_launch(owner_client, exam, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert deferred_resume_all() == 0  # the beat, same month: the pool is spent

    # The month turns (no subscription: the school's pool renews each calendar month).
    last_month = month_start(month_start(timezone.now()) - timedelta(days=1))
    UsageRecord.objects.update(created_at=last_month)
    school.memberships.update(joined_at=last_month - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert deferred_resume_all() == 3

    assert copy_statuses(exam) == ["done"] * 5
    assert "L'allocation de Lycée Victor-Hugo le permet : 3 copies" in _resumed_mail(school_teacher)


def test_a_teacher_joining_a_school_with_room_gets_their_waiting_copies_graded(
    owner_client,
    client,
    school,
    school_admin,
    teacher,
    exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    allowance_leave(teacher, room_for(exam, 2))  # the teacher's own FREE allowance, nearly spent
    _partial_launch(owner_client, exam, django_capture_on_commit_callbacks)
    school.allowance_tokens = FREE_TOKENS
    school.save(update_fields=["allowance_tokens"])
    assert not mail.outbox  # the teacher is not a member yet: the school's pool is not theirs

    admin_browser = Client()
    admin_browser.force_login(school_admin)
    assert admin_browser.post(reverse("school_invite", args=[school.pk]), {"email": teacher.email}).status_code == 302
    link = re.search(r"https?://[^/\s]+(/schools/join/[^/\s]+/)", mail.outbox[-1].body).group(1)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(link).status_code == 302

    assert copy_statuses(exam) == ["done"] * 5
    assert "L'allocation de Lycée Victor-Hugo le permet : 3 copies" in _resumed_mail(teacher)
    summary = usage_summary(user=teacher)
    assert summary.school == "Lycée Victor-Hugo" and 0 < summary.tokens_used <= summary.limit


def test_joining_a_school_without_room_leaves_the_copies_waiting(
    owner_client, school, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    from schools.services import school_teacher_add

    allowance_leave(teacher, room_for(exam, 2))
    _partial_launch(owner_client, exam, django_capture_on_commit_callbacks)
    school.allowance_tokens = room_for(exam, 1) - 1  # not even one copy
    school.save(update_fields=["allowance_tokens"])
    with django_capture_on_commit_callbacks(execute=True):
        school_teacher_add(school=school, user=teacher)
    assert copy_statuses(exam).count("deferred") == 3
    assert not [m for m in mail.outbox if m.subject == RESUMED]
    assert Copy.objects.filter(status=Copy.Status.DEFERRED).count() == 3
