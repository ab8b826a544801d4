"""The barème read from the subject and the class split proposal, read by a real Celery worker
(never in the web request) through the scripted LLM server over HTTP: the page waits and polls,
then shows the proposal; a hostile PDF, an answer that is not JSON or a provider error is told
in French, with nothing half-stored and every answered call in the ledger.

The web process's renderer is replaced by one that fails the test: the views only store the
file and enqueue. The worker is paused while a request enqueues, so the waiting page is seen
for sure."""

from __future__ import annotations

import html
import os
import signal
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading.engine import detection, render
from grading.models import Exam, Proposal
from tests.factories import ExamFactory, QuestionFactory
from tests.grading.conftest import roles_env
from tests.grading.test_reconcile import broker_flush
from tests.support.deadlines import wait_until
from tests.support.hostile_pdfs import many_images
from tests.support.pdfs import text_pdf
from tests.support.servers import celery_worker_start
from usage.models import UsageRecord

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("french")]

BAREME = {
    "questions": [
        {"label": "Exercice 1", "max_points": 4, "criteria": "Calcul exact."},
        {"label": "Exercice 2", "max_points": 6.5, "criteria": ""},
    ]
}


@pytest.fixture(autouse=True)
def no_render_here(monkeypatch):
    """Any page rendered in this (the web) process fails the test."""
    rendered: list[str] = []

    def refuse(path, **_kwargs):
        rendered.append(str(path))
        raise AssertionError("a PDF page was rendered in the web process")

    monkeypatch.setattr(detection, "pdf_pages", refuse)
    monkeypatch.setattr(render, "pdf_pages", refuse)
    yield rendered
    assert rendered == []


@pytest.fixture(scope="module")
def worker(django_db_setup, _llm_server_process, module_tmp):
    """One worker for the module (each start costs seconds), on the module's media folder."""
    broker_flush()
    env = roles_env(_llm_server_process) | {
        "MEDIA_ROOT": str(module_tmp / "media"),
        # Lowered sandbox limits so the bomb stops in seconds (as in test_hostile_pdfs.py).
        "CORRIGO_PDF_PAGE_CPU_S": "2",
        "CORRIGO_PDF_MEMORY_MB": "512",
        "CORRIGO_PDF_WALL_S": "120",
    }
    service = celery_worker_start(module_tmp, name="proposals", concurrency=2, **env)
    yield service
    service.stop()
    broker_flush()


@pytest.fixture(autouse=True)
def _media_root(settings, module_tmp):
    # The worker's folder (overrides the workflow conftest's one folder per test).
    settings.MEDIA_ROOT = str(module_tmp / "media")
    return module_tmp / "media"


@contextmanager
def paused(service):
    """The worker stopped (SIGSTOP): whatever is enqueued meanwhile waits for sure."""
    os.kill(service.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(service.process.pid, signal.SIGCONT)


def settled(proposal: Proposal) -> None:
    wait_until(
        lambda: Proposal.objects.get(pk=proposal.pk).status in (Proposal.Status.READY, Proposal.Status.FAILED),
        base=60,
        what=f"proposal {proposal.pk} read by the worker",
    )


def subject(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("sujet.pdf", data, content_type="application/pdf")


def poll(client, proposal: Proposal):
    return client.get(reverse("proposal_status", args=[proposal.pk]), headers={"HX-Request": "true"})


def test_the_barème_is_read_by_a_worker_then_shown_to_correct(owner_client, teacher, llm_server, worker):
    exam = ExamFactory(owner=teacher)
    llm_server.script(BAREME)

    with paused(worker):
        response = owner_client.post(
            reverse("bareme_extract", args=[exam.pk]), {"subject": subject(text_pdf(["Exercice 1 (4 points)"]))}
        )

        proposal = Proposal.objects.get()
        assert (proposal.kind, proposal.status) == (Proposal.Kind.BAREME, Proposal.Status.PENDING)
        assert response.status_code == 302
        assert response.url == reverse("bareme_proposal", args=[exam.pk, proposal.pk])
        assert Exam.objects.get(pk=exam.pk).subject_file.name == proposal.file_name
        waiting = owner_client.get(response.url)
        assert "En attente d'un serveur de calcul" in html.unescape(waiting.text)
        assert f'hx-get="{reverse("proposal_status", args=[proposal.pk])}"' in waiting.text
        assert 'id="proposal-status"' in poll(owner_client, proposal).text
        assert llm_server.requests == []
        exam_page = owner_client.get(reverse("exam_detail", args=[exam.pk])).text
        assert "Le sujet est en cours de lecture." in exam_page and f'href="{response.url}"' in exam_page
    settled(proposal)
    assert 'data-testid="bareme-reading"' not in owner_client.get(reverse("exam_detail", args=[exam.pk])).text

    assert poll(owner_client, proposal)["HX-Refresh"] == "true"
    page = owner_client.get(response.url)
    assert page.templates[0].name == "grading/bareme_review.html"
    assert [(f.initial["label"], f.initial["max_points"]) for f in page.context["formset"].forms if f.initial] == [
        ("Exercice 1", Decimal("4")),
        ("Exercice 2", Decimal("6.5")),
    ]
    assert "Exercice 1 (4 points)" in llm_server.requests[0].text
    assert UsageRecord.objects.filter(exam=exam, phase="detection").count() == len(llm_server.requests) == 1


def test_a_double_click_reads_the_subject_once_and_another_file_waits(owner_client, teacher, llm_server, worker):
    exam = ExamFactory(owner=teacher)
    data = text_pdf(["Exercice 1 (4 points)"])
    llm_server.script(BAREME, times=2)
    with paused(worker):
        first = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject(data)})
        second = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject(data)})
        assert second.url == first.url
        stored = Exam.objects.get(pk=exam.pk).subject_file.name

        other = owner_client.post(
            reverse("bareme_extract", args=[exam.pk]), {"subject": subject(text_pdf(["Autre sujet"]))}, follow=True
        )

        assert "Un sujet est déjà en cours de lecture" in html.unescape(other.text)
        assert Exam.objects.get(pk=exam.pk).subject_file.name == stored
    proposal = Proposal.objects.get()
    settled(proposal)
    assert Proposal.objects.get().status == Proposal.Status.READY
    assert UsageRecord.objects.filter(exam=exam).count() == len(llm_server.requests) == 1


def test_a_bomb_subject_is_told_and_nothing_is_kept(owner_client, teacher, llm_server, worker):
    exam = ExamFactory(owner=teacher)
    QuestionFactory(exam=exam, label="Question du professeur")
    response = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject(many_images())})
    proposal = Proposal.objects.get()
    settled(proposal)

    page = owner_client.get(response.url, follow=True)

    text = html.unescape(page.text)
    assert "Le barème n'a pas pu être lu dans le sujet : Le PDF est trop lourd à traiter : sa page 1 demande" in text
    assert "Le fichier n'a pas été gardé" in text
    assert page.redirect_chain[-1][0] == reverse("exam_detail", args=[exam.pk]) + "#bareme"
    assert not Exam.objects.get(pk=exam.pk).subject_file
    storage = Exam._meta.get_field("subject_file").storage
    wait_until(lambda: not storage.exists(proposal.file_name), base=10, what="the subject's file deleted")
    assert list(exam.questions.values_list("label", flat=True)) == ["Question du professeur"]
    assert llm_server.requests == [] and not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    ("script", "told", "billed"),
    [
        ({"content": "Voici le barème : 4 points puis 6."}, "Réponse inutilisable du modèle", 2),  # and its repair
        ({"fault": "500"}, "Le barème n'a pas pu être lu dans le sujet : ", 0),
    ],
    ids=["not-json", "provider-error"],
)
def test_an_unusable_answer_is_told_and_the_barème_is_unchanged(
    owner_client, teacher, llm_server, worker, script, told, billed
):
    exam = ExamFactory(owner=teacher)
    QuestionFactory(exam=exam, label="Question du professeur")
    llm_server.script(**script, times=2)
    response = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject(text_pdf(["Ex 1"]))})
    proposal = Proposal.objects.get()
    settled(proposal)

    page = owner_client.get(response.url, follow=True)

    assert told in html.unescape(page.text)
    assert Proposal.objects.get().rows == []
    assert list(exam.questions.values_list("label", flat=True)) == ["Question du professeur"]
    assert Exam.objects.get(pk=exam.pk).subject_file  # a readable subject stays, to read again
    assert UsageRecord.objects.filter(exam=exam).count() == billed
    assert len([r for r in llm_server.requests if r.fault is None]) == billed


def test_a_class_pdf_split_is_proposed_by_a_worker(owner_client, teacher, llm_server, worker):
    exam = ExamFactory(owner=teacher)
    pages = ["Nom : Léa Abadie", "suite", "Nom : Hugo Martin", "suite"]
    upload = SimpleUploadedFile("classe.pdf", text_pdf(pages), content_type="application/pdf")
    with paused(worker):
        response = owner_client.post(reverse("class_upload", args=[exam.pk]), {"file": upload})
        proposal = Proposal.objects.get()
        assert (proposal.kind, proposal.source.original_name) == (Proposal.Kind.SPLIT, "classe.pdf")

        waiting = owner_client.get(response.url)
        assert 'id="proposal-status"' in waiting.text
        assert "Confirmer le découpage" not in waiting.text  # nothing to confirm yet
        assert owner_client.get(response.url).context["proposal"] == proposal  # reopening starts nothing more
    settled(proposal)

    page = owner_client.get(response.url)
    rows = [(r["student_label"], r["first_page"], r["last_page"]) for r in page.context["formset"].initial]
    assert rows == [("Léa Abadie", 1, 2), ("Hugo Martin", 3, 4)]
    assert "Proposition automatique : vérifiez les noms" in html.unescape(page.text)
    assert UsageRecord.objects.filter(exam=exam, phase="detection").count() == len(llm_server.requests) == 1


def test_a_failed_split_falls_back_to_a_manual_split_and_can_be_proposed_again(
    owner_client, teacher, llm_server, worker
):
    exam = ExamFactory(owner=teacher)
    upload = SimpleUploadedFile("classe.pdf", text_pdf(["Nom : Léa Abadie", "Nom : Hugo Martin"]))
    llm_server.script("pas du JSON", times=2)
    url = owner_client.post(reverse("class_upload", args=[exam.pk]), {"file": upload}).url
    settled(Proposal.objects.get())

    page = owner_client.get(url)

    assert "La proposition automatique a échoué (Réponse inutilisable du modèle" in html.unescape(page.text)
    assert [(r["first_page"], r["last_page"]) for r in page.context["formset"].initial] == [(1, 2)]
    assert UsageRecord.objects.filter(exam=exam).count() == len(llm_server.requests) == 2
    again = owner_client.post(reverse("source_split_propose", args=[page.context["source"].pk]))
    assert again.url == url
    settled(Proposal.objects.get())
    rows = [(r["student_label"], r["first_page"]) for r in owner_client.get(url).context["formset"].initial]
    assert rows == [("Léa Abadie", 1), ("Hugo Martin", 2)]
    assert UsageRecord.objects.filter(exam=exam).count() == len(llm_server.requests) == 3
