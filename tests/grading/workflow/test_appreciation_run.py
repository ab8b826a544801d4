"""« Rédiger les appréciations manquantes »: every graded copy without an appréciation drafted by
a worker through the scripted server (real HTTP), one metered call each, held on the allowance
exactly as the copy page's button holds it (metered_hold), never over a text the teacher wrote,
stopped with a message when the next copy's hold does not fit, idempotent when clicked twice."""

from __future__ import annotations

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from grading.engine.appreciation import APPRECIATION_MAX_TOKENS
from grading.models import AppreciationRun, Copy
from grading.services import exam_appreciations_start
from grading.services.appreciation import copy_appreciation_request, metered_hold
from grading.services.appreciation_run import _drafts, exam_appreciations_run
from grading.tasks import exam_appreciations_task
from tests.factories import exam_with_bareme
from tests.support.counts import tokens
from usage.models import Reservation, UsageRecord
from usage.selectors import usage_summary

pytestmark = pytest.mark.django_db

D = Decimal
MINE = "Léa a bien travaillé ; soigner la rédaction."


@pytest.fixture
def graded(teacher, grade_exam, llm_server):
    """Q1 /4 and Q2 /6: Léa, Hugo and Inès graded through the engine and the scripted server."""
    exam = exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5"))
    exam = grade_exam(exam, {"Léa": [1, 5], "Hugo": [4, 6], "Inès": [2, 2]})
    llm_server.requests.clear()
    return exam


def _copy(exam, label) -> Copy:
    return exam.copies.get(student_label=label)


def _click(client, exam, capture):
    """Clicks the button; the task runs once the request's transaction commits; the page after."""
    with capture(execute=True):
        response = client.post(reverse("exam_appreciations_draft", args=[exam.pk]))
    assert response.status_code == 302
    return html.unescape(client.get(response.url).text)


def _hold(copy) -> int:
    return metered_hold(copy_appreciation_request(copy=copy), max_tokens=APPRECIATION_MAX_TOKENS)


def _leave_room(spend, teacher, tokens: int) -> None:
    """Spends the allowance down to exactly `tokens` tokens left."""
    spend(teacher, usage_summary(user=teacher).remaining - tokens)
    assert usage_summary(user=teacher).remaining == tokens


def test_it_drafts_only_the_missing_ones_each_call_metered(
    owner_client, teacher, graded, llm_server, django_capture_on_commit_callbacks
):
    lea, hugo, ines = (_copy(graded, label) for label in ("Léa", "Hugo", "Inès"))
    owner_client.post(reverse("copy_appreciation", args=[lea.pk]), {"appreciation": MINE})  # the teacher's
    owner_client.post(reverse("copy_appreciation", args=[hugo.pk]), {"action": "draft"})  # drafted, then edited
    owner_client.post(reverse("copy_appreciation", args=[hugo.pk]), {"appreciation": "Revu par moi."})
    hugo.refresh_from_db()
    llm_server.requests.clear()
    before = UsageRecord.objects.filter(phase="appreciation").count()
    assert "1 copie corrigée sans appréciation" in html.unescape(
        owner_client.get(reverse("exam_review", args=[graded.pk])).text
    )

    page = _click(owner_client, graded, django_capture_on_commit_callbacks)

    assert "1 appréciation rédigée par le modèle" in page
    (request,) = llm_server.requests  # one call, for Inès
    assert "[TASK:appreciation]" in request.text and '"points": "2", "max": "6"' in request.text
    ines.refresh_from_db()
    assert ines.appreciation and ines.appreciation == ines.appreciation_ai
    lea.refresh_from_db()
    assert (lea.appreciation, lea.appreciation_ai) == (MINE, "")
    assert Copy.objects.get(pk=hugo.pk).appreciation == "Revu par moi."
    # Metered as the copy page's draft is: one ledger row on its own settled reservation.
    record = UsageRecord.objects.filter(phase="appreciation").latest("pk")
    assert UsageRecord.objects.filter(phase="appreciation").count() == before + 1
    assert (record.copy_id, record.exam_id, record.prompt_tokens) == (
        ines.pk,
        graded.pk,
        request.usage["prompt_tokens"],
    )
    assert record.reservation.state == Reservation.State.SETTLED
    assert record.reservation.tokens == _hold(ines) >= record.total_tokens
    assert "Rédiger les appréciations manquantes" not in page  # nothing left to draft


def test_clicked_twice_it_runs_once_and_clicked_again_later_it_asks_nothing(
    owner_client, teacher, graded, llm_server, django_capture_on_commit_callbacks
):
    run, started = exam_appreciations_start(exam=graded, user=teacher)  # its task not run yet
    assert started and run.total == 3

    page = html.unescape(owner_client.post(reverse("exam_appreciations_draft", args=[graded.pk]), follow=True).text)

    assert "La rédaction des appréciations manquantes est déjà en cours." in page
    assert "Rédaction par le modèle en cours : 0 / 3" in page and 'hx-trigger="every 2s"' in page
    assert AppreciationRun.objects.count() == 1
    assert exam_appreciations_run(run_id=run.pk) == "done"
    assert len(llm_server.requests) == 3
    assert exam_appreciations_run(run_id=run.pk) == "gone"  # a second delivery does nothing

    page = _click(owner_client, graded, django_capture_on_commit_callbacks)

    assert "Toutes les copies corrigées ont déjà une appréciation." in page
    assert len(llm_server.requests) == 3 and AppreciationRun.objects.count() == 1


def test_the_polled_block_shows_the_progress_then_the_outcome(owner_client, teacher, graded):
    run, _started = exam_appreciations_start(exam=graded, user=teacher)

    block = html.unescape(owner_client.get(reverse("exam_appreciations", args=[graded.pk])).text)

    assert "Rédaction par le modèle en cours : 0 / 3" in block and 'max="3" value="0"' in block
    assert 'hx-trigger="every 2s"' in block and "<html" not in block
    exam_appreciations_run(run_id=run.pk)
    block = html.unescape(owner_client.get(reverse("exam_appreciations", args=[graded.pk])).text)
    assert "hx-trigger" not in block and "3 appréciations rédigées par le modèle" in block


@pytest.mark.parametrize(("short", "drafted"), [(0, True), (1, False), (2, False)])
def test_the_last_copy_is_drafted_with_exactly_its_hold_left_and_not_one_token_short(
    owner_client, teacher, graded, llm_server, spend, django_capture_on_commit_callbacks, short, drafted
):
    for label in ("Léa", "Hugo"):
        owner_client.post(reverse("copy_appreciation", args=[_copy(graded, label).pk]), {"action": "draft"})
    ines = _copy(graded, "Inès")
    _leave_room(spend, teacher, _hold(ines) - short)
    llm_server.requests.clear()

    page = _click(owner_client, graded, django_capture_on_commit_callbacks)

    ines.refresh_from_db()
    assert bool(ines.appreciation) is drafted
    assert len(llm_server.requests) == int(drafted)  # one token short: no call at all
    assert usage_summary(user=teacher).remaining >= 0
    if drafted:
        assert "1 appréciation rédigée par le modèle" in page
    else:
        assert AppreciationRun.objects.get().status == AppreciationRun.Status.STOPPED
        assert f"Allocation insuffisante : il manque {tokens(short, 'fr')} (il en reste" in page
        assert "Aucune appréciation n'a été rédigée." in page
        assert "Rédiger les appréciations manquantes" in page  # to start again once there is room
        # The stopped run keeps its reason as its source: read later in English, agreed in English.
        teacher.language = "en"
        teacher.save(update_fields=["language"])
        english = html.unescape(owner_client.get(reverse("exam_review", args=[graded.pk])).text)
        verb = "is" if short == 1 else "are"
        assert f"Not enough allowance: {tokens(short, 'en')} {verb} missing (" in english


def test_it_stops_cleanly_when_the_next_hold_no_longer_fits_and_says_so_in_english(
    owner_client, teacher, graded, llm_server, spend, django_capture_on_commit_callbacks
):
    teacher.language = "en"
    teacher.save()
    lea, hugo, ines = (_copy(graded, label) for label in ("Léa", "Hugo", "Inès"))
    _leave_room(spend, teacher, _hold(lea))  # the first copy's hold exactly

    page = _click(owner_client, graded, django_capture_on_commit_callbacks)

    first = UsageRecord.objects.get(phase="appreciation")
    assert _hold(hugo) > _hold(lea) - first.total_tokens  # what the first left is short for the second
    assert [bool(c.appreciation) for c in Copy.objects.filter(pk__in=[lea.pk, hugo.pk, ines.pk]).order_by("pk")] == [
        True,
        False,
        False,
    ]
    assert len(llm_server.requests) == 1 and usage_summary(user=teacher).remaining >= 0
    run = AppreciationRun.objects.get()
    assert (run.status, run.drafted, run.total) == (AppreciationRun.Status.STOPPED, 1, 3)
    assert "Not enough allowance: " in page
    assert "Drafting stopped after 1 comment out of 3: it is kept, start again for the rest." in page
    assert "Draft the missing comments" in page and "2 graded copies have no overall comment" in page


def test_a_model_that_fails_stops_the_pass_with_its_reason_and_both_calls_in_the_ledger(
    owner_client, graded, llm_server, django_capture_on_commit_callbacks
):
    llm_server.script(fault="malformed", match="[TASK:appreciation]", times=2)

    page = _click(owner_client, graded, django_capture_on_commit_callbacks)

    run = AppreciationRun.objects.get()
    assert (run.status, run.drafted) == (AppreciationRun.Status.STOPPED, 0)
    assert "Aucune appréciation n'a été rédigée." in page and run.message_text in page
    assert UsageRecord.objects.filter(phase__in=["appreciation", "repair"]).count() == 2
    assert not Copy.objects.exclude(appreciation="").exists()


def test_another_teacher_can_neither_start_nor_watch_it(graded, other_client):
    assert other_client.post(reverse("exam_appreciations_draft", args=[graded.pk])).status_code == 404
    assert other_client.get(reverse("exam_appreciations", args=[graded.pk])).status_code == 404
    assert not AppreciationRun.objects.exists()


def test_a_pass_silent_past_its_limit_is_taken_for_lost_and_a_click_starts_a_new_one(
    owner_client, teacher, graded, llm_server, django_capture_on_commit_callbacks
):
    lost, _started = exam_appreciations_start(exam=graded, user=teacher)  # its worker died: no task ran
    silent = timezone.now() - AppreciationRun.SILENT_MAX - timedelta(seconds=1)
    AppreciationRun.objects.filter(pk=lost.pk).update(updated_at=silent)

    page = _click(owner_client, graded, django_capture_on_commit_callbacks)

    lost.refresh_from_db()
    assert (lost.status, lost.message_text) == (
        AppreciationRun.Status.STOPPED,
        "Interrompue : le traitement a été perdu.",
    )
    assert "3 appréciations rédigées par le modèle" in page and len(llm_server.requests) == 3
    # The lost pass's worker, back after all, finds itself replaced and drafts nothing.
    assert exam_appreciations_run(run_id=lost.pk) == "gone" and len(llm_server.requests) == 3


def test_a_lost_pass_no_longer_polls_and_the_page_offers_the_button_again(owner_client, teacher, graded):
    lost, _started = exam_appreciations_start(exam=graded, user=teacher)  # its worker died: no task ran
    url = reverse("exam_review", args=[graded.pk])
    assert 'hx-trigger="every 2s"' in owner_client.get(url).text
    silent = timezone.now() - AppreciationRun.SILENT_MAX - timedelta(seconds=1)
    AppreciationRun.objects.filter(pk=lost.pk).update(updated_at=silent)

    page = html.unescape(owner_client.get(url).text)

    assert 'hx-trigger="every 2s"' not in page and "Rédaction par le modèle en cours" not in page
    assert "Interrompue : le traitement a été perdu." in page
    assert "Rédiger les appréciations manquantes" in page


def test_the_progress_is_announced_from_a_live_region_the_polling_does_not_replace(owner_client, teacher, graded):
    exam_appreciations_start(exam=graded, user=teacher)

    page = owner_client.get(reverse("exam_review", args=[graded.pk])).text

    # The polled element is replaced by itself (hx-select), inside a live region that stays put.
    live = page.index('<div aria-live="polite">', page.index('id="appreciations"'))
    body = page.index('<div id="appreciations-body"', live)
    assert page.index("every 2s", body) < page.index("</div>", body)
    assert 'hx-select="#appreciations-body"' in page and 'hx-swap="outerHTML"' in page[body:]


def test_a_replaced_passs_worker_reaching_the_end_leaves_it_interrupted(teacher, graded, llm_server):
    stale, _started = exam_appreciations_start(exam=graded, user=teacher)
    AppreciationRun.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - AppreciationRun.SILENT_MAX * 2)
    new, started = exam_appreciations_start(exam=graded, user=teacher)
    assert started and exam_appreciations_run(run_id=new.pk) == "done"

    # The lost worker was past its first check (it holds the pass as it was): nothing left to draft.
    _drafts(stale)

    stale.refresh_from_db()
    assert (stale.status, stale.message_text) == (
        AppreciationRun.Status.STOPPED,
        "Interrompue : le traitement a été perdu.",
    )
    assert len(llm_server.requests) == 3


def test_an_unexpected_error_stops_the_pass_with_a_translated_message(teacher, graded, monkeypatch):
    teacher.language = "en"
    teacher.save()
    run, _started = exam_appreciations_start(exam=graded, user=teacher)

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("grading.services.appreciation_run.copy_appreciation_ask", broken)
    with pytest.raises(RuntimeError):
        exam_appreciations_task.run(run.pk)

    run.refresh_from_db()
    assert run.status == AppreciationRun.Status.STOPPED
    with translation.override("en"):
        assert run.message_text == "Unexpected error. No comment was drafted."
    with translation.override("fr"):
        assert run.message_text == "Erreur inattendue. Aucune appréciation n'a été rédigée."
