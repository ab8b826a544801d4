"""After a partial launch the exam page says one thing (grading.services.waiting): how many copies
are graded or being graded, how many wait for the allowance and why, and what starts them —
never the pre-launch estimate's « permet de corriger 1 copie sur 3 : les 2 autres attendront »
beside « 3 copies attendent ». And the waiting copies start by themselves when a job gives back
what it held and did not spend (its estimate's margin, a failed copy's share, a cancelled
regrade, a lost worker's reservation expired). Launched through the views, graded through the
engine and the scripted LLM server; the allowance is spent through the ledger."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from grading.models import GradingJob
from grading.services import deferred_resume_all
from tests.factories import allowance_leave, copy_with_pages, exam_with_bareme
from tests.grading.helpers import copy_statuses, fractions_exam, room_for
from usage.models import Reservation, UsageRecord
from usage.selectors import month_start, usage_summary
from usage.services import usage_plan_set, usage_reservations_expire
from usage.tiers import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    return fractions_exam(teacher)


def _page(client, exam, teacher, language: str = "fr") -> str:
    teacher.language = language
    teacher.save(update_fields=["language"])
    return html.unescape(client.get(reverse("exam_detail", args=[exam.pk])).content.decode())


def _notes(page: str) -> dict[str, str]:
    """The grading panel's notes by test id, their text on one line."""
    found = re.findall(r'data-testid="(partial-note|deferred-note)">(.*?)</p>', page, re.S)
    return {name: " ".join(re.sub(r"<[^>]+>", " ", text).split()) for name, text in found}


def _launch(client, exam, capture) -> None:
    with capture(execute=True):
        assert client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"}).status_code == 302


def test_room_for_every_copy_launches_them_all_and_nothing_waits(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 3))
    page = _page(owner_client, exam, teacher)
    assert _notes(page) == {} and "Lancer la correction" in page
    _launch(owner_client, exam, django_capture_on_commit_callbacks)
    assert copy_statuses(exam) == ["done"] * 3
    for language in ("fr", "en"):
        assert _notes(_page(owner_client, exam, teacher, language)) == {}


def test_a_copy_short_of_the_last_copy_starts_it_when_the_job_gives_back_its_margin(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 3) - 1)
    before = _notes(_page(owner_client, exam, teacher))
    assert before["partial-note"].startswith(
        "Votre allocation permet de corriger 2 copies sur 3 : la dernière attendra"
    )
    _launch(owner_client, exam, django_capture_on_commit_callbacks)

    # Two copies reserved their worst case and spent less: the third started when their job ended.
    jobs = list(GradingJob.objects.filter(exam=exam).order_by("pk").values_list("total_copies", "status"))
    assert jobs == [(2, "finished"), (1, "finished")]
    assert copy_statuses(exam) == ["done"] * 3
    assert [m.subject for m in mail.outbox if "reprise" in m.subject] == ["Correction reprise : Contrôle de fractions"]
    summary = usage_summary(user=teacher)
    assert summary.tokens_used <= summary.limit
    for language in ("fr", "en"):
        assert _notes(_page(owner_client, exam, teacher, language)) == {}


@pytest.mark.parametrize(
    ("language", "note"),
    [
        (
            "fr",
            "1 copie est corrigée. 2 copies attendent que votre allocation le permette. "
            "Elles partiront d'elles-mêmes après un changement d'offre. Voir les offres",
        ),
        (
            "en",
            "1 copy is graded. 2 copies are waiting for your allowance. "
            "They will start by themselves after a change of plan. See the plans",
        ),
    ],
)
def test_room_for_exactly_one_copy_leaves_one_note_with_the_counts_after_the_launch(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, language, note
):
    allowance_leave(teacher, room_for(exam, 1))
    before = _notes(_page(owner_client, exam, teacher, language))
    assert list(before) == ["partial-note"]
    _launch(owner_client, exam, django_capture_on_commit_callbacks)
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]  # what the job left does not take one more

    page = _page(owner_client, exam, teacher, language)
    # FREE never renews: the note promises no renewal, and the estimate's note is gone.
    assert _notes(page) == {"deferred-note": note}
    assert "copies sur" not in page and "copies out of" not in page


@pytest.mark.parametrize(
    ("language", "running", "waiting"),
    [
        (
            "fr",
            "1 copie est en cours de correction. 2 copies attendent que votre allocation le permette.",
            "Elles partiront d'elles-mêmes à la fin de la correction en cours si elle laisse assez d'allocation, "
            "au renouvellement de l'allocation le {date} ou après un changement d'offre. Voir les offres",
        ),
        (
            "en",
            "1 copy is being graded. 2 copies are waiting for your allowance.",
            "They will start by themselves when the grading in progress ends if it leaves enough allowance, "
            "when the allowance renews on {date} or after a change of plan. See the plans",
        ),
    ],
)
def test_while_the_partial_job_runs_the_page_says_what_runs_and_what_waits_without_the_estimate(
    owner_client, teacher, exam, llm_server, language, running, waiting
):
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)  # renews each calendar month
    allowance_leave(teacher, room_for(exam, 1))
    # The job's tasks are enqueued on commit, which never comes here: the job stays running.
    owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert copy_statuses(exam) == ["queued", "deferred", "deferred"]

    page = _page(owner_client, exam, teacher, language)
    with translation.override(language):
        renewal = date_format(timezone.localtime(usage_summary(user=teacher).period_end), "DATE_FORMAT")
    assert _notes(page) == {"deferred-note": f"{running} {waiting.format(date=renewal)}"}
    assert 'data-testid="estimate-copies"' not in page  # no launch to come while one runs


def _two_waiting_then_a_new_month(client, teacher, exam, capture) -> None:
    """A paid plan's partial launch leaves two copies waiting; then the month turns: what was
    spent belongs to the previous one, and the beat has not run yet."""
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)
    allowance_leave(teacher, room_for(exam, 1))
    _launch(client, exam, capture)
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]
    last_month = month_start(month_start(timezone.now()) - timedelta(days=1))
    UsageRecord.objects.filter(user=teacher).update(created_at=last_month)


@pytest.mark.parametrize(
    ("language", "note"),
    [
        (
            "fr",
            "1 copie est corrigée. 2 copies attendent que votre allocation le permette. L'allocation en permet "
            "maintenant 2 : elles partiront d'elles-mêmes dans le quart d'heure, ou lancez-les ci-dessous.",
        ),
        (
            "en",
            "1 copy is graded. 2 copies are waiting for your allowance. The allowance now takes 2 of them: "
            "they will start by themselves within a quarter of an hour, or start them below.",
        ),
    ],
)
def test_room_back_before_the_beat_saw_it_says_so_in_the_same_note(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, language, note
):
    _two_waiting_then_a_new_month(owner_client, teacher, exam, django_capture_on_commit_callbacks)
    page = _page(owner_client, exam, teacher, language)
    assert _notes(page) == {"deferred-note": note}
    assert 'data-testid="start"' in page

    with django_capture_on_commit_callbacks(execute=True):
        assert deferred_resume_all() == 2
    assert copy_statuses(exam) == ["done"] * 3
    assert _notes(_page(owner_client, exam, teacher, language)) == {}


@pytest.mark.parametrize("short", [0, 1])
def test_the_note_says_the_allowance_takes_a_waiting_copy_exactly_when_the_resume_starts_it(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks, short
):
    _two_waiting_then_a_new_month(owner_client, teacher, exam, django_capture_on_commit_callbacks)
    # Another exam's call leaves room for the first waiting copy, or a token less.
    allowance_leave(teacher, room_for(exam, 1) - short)
    note = _notes(_page(owner_client, exam, teacher))["deferred-note"]
    assert ("L'allocation en permet maintenant 1 :" in note) == (not short)
    with django_capture_on_commit_callbacks(execute=True):
        assert deferred_resume_all() == (0 if short else 1)


def test_not_a_single_copy_fits_and_nothing_waits(owner_client, teacher, exam, llm_server):
    allowance_leave(teacher, room_for(exam, 1) - 1)
    for language, text in (
        ("fr", "Votre allocation ne permet plus de corriger une copie de cet examen. Voir les offres"),
        ("en", "Your allowance can no longer grade a copy of this exam. See the plans"),
    ):
        assert _notes(_page(owner_client, exam, teacher, language)) == {"partial-note": text}
    owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    assert copy_statuses(exam) == ["queued"] * 3
    assert "deferred-note" not in _notes(_page(owner_client, exam, teacher))


def test_a_failed_copy_gives_back_its_share_and_the_waiting_copy_starts_at_the_jobs_end(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 2))
    llm_server.script(fault="400", match="copie de Ada")  # the provider refuses Ada's copy
    _launch(owner_client, exam, django_capture_on_commit_callbacks)
    assert copy_statuses(exam) == ["failed", "done", "done"]
    assert GradingJob.objects.filter(exam=exam).count() == 2


def test_without_a_failure_the_same_room_leaves_the_copy_waiting(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 2))
    _launch(owner_client, exam, django_capture_on_commit_callbacks)
    assert copy_statuses(exam) == ["done", "done", "deferred"]
    assert GradingJob.objects.filter(exam=exam).count() == 1


@pytest.fixture
def regrade(owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks):
    """Another exam whose graded copy the teacher sends back to grading: its job holds the
    copy's estimate, its task never runs (enqueued on a commit that does not come)."""
    other = exam_with_bareme(owner=teacher, questions=2, title="Autre contrôle")
    copy = copy_with_pages(other, pages=1, label="Zoé", text="copie de Zoé")
    _launch(owner_client, other, django_capture_on_commit_callbacks)
    assert owner_client.post(reverse("copy_regrade", args=[copy.pk])).status_code == 302
    return GradingJob.objects.get(exam=other, status=GradingJob.Status.RUNNING)


def _launch_beside(owner_client, teacher, exam, regrade, capture) -> None:
    """Room for two copies beside what the regrade holds: the third waits, even after."""
    allowance_leave(teacher, room_for(exam, 2))
    _launch(owner_client, exam, capture)
    assert copy_statuses(exam) == ["done", "done", "deferred"]
    mail.outbox.clear()


def test_a_regrade_cancelled_gives_back_what_it_held_and_the_waiting_copy_starts(
    owner_client, teacher, exam, regrade, django_capture_on_commit_callbacks
):
    _launch_beside(owner_client, teacher, exam, regrade, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_cancel", args=[regrade.exam_id]))
    assert copy_statuses(exam) == ["done"] * 3
    assert [m.subject for m in mail.outbox if "reprise" in m.subject] == ["Correction reprise : Contrôle de fractions"]


def test_a_lost_workers_reservation_expiring_starts_the_waiting_copy(
    owner_client, teacher, exam, regrade, django_capture_on_commit_callbacks
):
    _launch_beside(owner_client, teacher, exam, regrade, django_capture_on_commit_callbacks)
    Reservation.objects.filter(key=regrade.reservation_key).update(created_at=timezone.now() - timedelta(hours=13))
    with django_capture_on_commit_callbacks(execute=True):
        assert usage_reservations_expire() == 1
    assert copy_statuses(exam) == ["done"] * 3
