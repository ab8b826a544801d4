"""The class summary (issue 14, item 4): the questions the class failed most, from the grades
alone; "3 points forts / 3 difficultés" drafted by the grading model from the readings (one
metered call, phase "summary"), edited and restored; a one-page PDF to discuss in class.
Copies graded through the engine and the scripted server."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django.urls import reverse

from grading.models import ClassSummary
from tests.factories import QuestionFactory, exam_with_bareme
from tests.support.counts import agreed
from usage.models import Reservation, UsageRecord

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

D = Decimal
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "summary"


@pytest.fixture
def graded(teacher, grade_exam):
    """Q1 /4, Q2 /6, Q3 /5 and Q4 /2; Léa, Hugo and Inès graded through the engine.
    Averages: Q1 1,5 (37,5 %), Q2 3 (exactly 50 %), Q3 2,5 − 1/6 (just under 50 %), Q4 0,5 (25 %)."""
    exam = exam_with_bareme(owner=teacher, questions=0, rounding_step=D("0.5"), title="Fonctions affines")
    for order, (label, points) in enumerate((("Calcul", 4), ("Tableau", 6), ("Graphique", 5), ("Rédaction", 2))):
        QuestionFactory(exam=exam, order=order, label=label, max_points=D(points))
    return grade_exam(exam, {"Léa": [1, 3, 3, 0.5], "Hugo": [2, 2, 2.5, 0], "Inès": [1.5, 4, 1.5, 1]})


def _page(client, exam) -> str:
    return html.unescape(client.get(reverse("exam_summary", args=[exam.pk])).text)


def _draft(client, exam):
    return client.post(reverse("exam_summary_update", args=[exam.pk]), {"action": "draft"}, follow=True)


def test_the_questions_failed_most_come_from_the_grades_under_half_the_points(owner_client, graded, llm_server):
    llm_server.requests.clear()
    page = _page(owner_client, graded)

    failed = page.split('id="failed-most"', 1)[1].split("</ol>", 1)[0]
    # Lowest share first; Q2 at exactly half is not failed, Q3 just under is.
    assert failed.index("Q4. Rédaction") < failed.index("Q1. Calcul") < failed.index("Q3. Graphique")
    assert "Q2. Tableau" not in failed
    assert "25 % des points en moyenne" in failed and "38 % des points en moyenne" in failed
    # Students under half of each question's points: Q1 Léa (1 < 2) and Inès (1,5 < 2), Q2 Hugo.
    assert "2 / 3" in page and "1 / 3" in page
    assert llm_server.requests == []  # no model for the figures


def test_the_strengths_and_difficulties_are_drafted_from_the_readings_in_one_metered_call(
    owner_client, teacher, graded, llm_server
):
    llm_server.requests.clear()
    response = _draft(owner_client, graded)

    assert "Synthèse rédigée par le modèle : relisez-la." in html.unescape(response.text)
    (request,) = llm_server.requests
    assert request.model == "gpt-4o" and "[TASK:class_summary]" in request.text
    # The readings and the figures, never a name.
    assert "L'élève écrit la réponse 3." in request.text and '"under_half": 2' in request.text
    assert not {"Léa", "Hugo", "Inès"} & set(request.text.replace('"', " ").split())
    (record,) = UsageRecord.objects.filter(phase="summary")
    assert (record.user, record.exam_id, record.copy_id) == (teacher, graded.pk, None)
    assert record.prompt_tokens == request.usage["prompt_tokens"] and record.completion_tokens > 0
    assert record.reservation.state == Reservation.State.SETTLED
    summary = ClassSummary.objects.get(exam=graded)
    lines = summary.text.splitlines()
    # The demo model names the best questions as strengths and the weakest as difficulties.
    assert lines[0] == "Points forts" and lines[1].startswith("- Tableau")
    assert "Difficultés" in lines and lines[lines.index("Difficultés") + 1].startswith("- Rédaction")
    assert summary.text_ai == summary.text and not summary.edited
    assert "- Tableau\u00a0: bien réussi" in _page(owner_client, graded)


def test_the_teacher_edits_the_summary_and_restores_the_draft(owner_client, teacher, graded, llm_server):
    _draft(owner_client, graded)
    draft = ClassSummary.objects.get(exam=graded).text_ai
    url = reverse("exam_summary_update", args=[graded.pk])

    owner_client.post(url, {"text": "  Points forts\n- Les tableaux de valeurs.  "})

    summary = ClassSummary.objects.get(exam=graded)
    assert (summary.text, summary.text_ai) == ("Points forts\n- Les tableaux de valeurs.", draft)
    assert summary.edited_by == teacher
    assert "Rétablir le texte de l'IA" in _page(owner_client, graded)
    refused = owner_client.post(url, {"text": "x" * 3001}, follow=True)
    assert "La synthèse dépasse 3000 caractères." in html.unescape(refused.text)
    owner_client.post(url, {"text": "x" * 3000})
    assert len(ClassSummary.objects.get(exam=graded).text) == 3000

    owner_client.post(url, {"action": "restore"})

    assert ClassSummary.objects.get(exam=graded).text == draft
    assert "Rétablir le texte de l'IA" not in _page(owner_client, graded)
    assert UsageRecord.objects.filter(phase="summary").count() == 1  # editing calls no model


def test_the_one_page_pdf_prints_the_figures_the_failed_questions_and_the_teachers_text(
    owner_client, graded, llm_server
):
    _draft(owner_client, graded)
    owner_client.post(
        reverse("exam_summary_update", args=[graded.pk]),
        {"text": "Points forts\n- Les tableaux.\n\nDifficultés\n- Justifier chaque étape."},
    )
    response = owner_client.get(reverse("exam_summary_pdf", args=[graded.pk]))

    assert response["Content-Type"] == "application/pdf"
    assert 'filename="fonctions-affines-bilan.pdf"' in response["Content-Disposition"]
    # Kept for a look (git-ignored): pdftoppm -png test-artifacts/summary/class-summary.pdf
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "class-summary.pdf").write_bytes(response.content)
    document = pdfium.PdfDocument(response.content)
    assert len(document) == 1
    assert [round(v) for v in document[0].get_size()] == [595, 842]
    text = document[0].get_textpage().get_text_bounded()
    assert "Bilan de la classe" in text and "Fonctions affines" in text
    assert "3 copies corrigées" in text and "moyenne 7,33 / 17 · médiane 7,50" in text
    assert "1,50 / 4" in text
    assert "Q4. Rédaction — 25 % des points en moyenne" in text
    assert "Justifier chaque étape." in text and "bien réussi" not in text
    for name in ("Léa", "Hugo", "Inès"):
        assert name not in text


GRADED = {"fr": ("copie corrigée", "copies corrigées"), "en": ("copy graded", "copies graded")}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("names", [("Léa",), ("Léa", "Hugo")])
def test_the_pdfs_count_of_copies_graded_agrees_with_it_in_the_exams_language(
    owner_client, teacher, grade_exam, llm_server, language, names
):
    # A summary needs a graded copy: 1 is its least, 2 its first plural in both languages.
    exam = exam_with_bareme(owner=teacher, questions=1, title="Fractions")
    exam.language = language
    exam.save(update_fields=["language"])
    grade_exam(exam, {name: [1] for name in names})
    document = pdfium.PdfDocument(owner_client.get(reverse("exam_summary_pdf", args=[exam.pk])).content)
    text = document[0].get_textpage().get_text_bounded()
    average = {"fr": "moyenne", "en": "average"}[language]
    assert f"{len(names)} {agreed(len(names), language, GRADED)} · {average} " in text


def test_the_summary_writes_averages_with_two_decimals_as_the_review_grid_does(owner_client, teacher, graded):
    """Totals 7,5, 6,5 and 8: the class's mean 7,33 (not « 7,3 »), Q1's 1,50 and Q3's 2,33."""
    page = _page(owner_client, graded)
    grid = html.unescape(owner_client.get(reverse("exam_review", args=[graded.pk])).text)

    assert "moyenne 7,33 / 17" in page
    assert re.findall(r"<td>(\S+) / 4</td>", page) == ["1,50"] and "<td>2,33 / 5</td>" in page
    assert "<td>7,33</td>" in grid and "<td>1,50</td>" in grid and "<td>2,33</td>" in grid

    teacher.language = "en"
    teacher.save(update_fields=["language"])
    english = _page(owner_client, graded)
    assert "average 7.33 / 17" in english and "<td>1.50 / 4</td>" in english


def test_nothing_graded_means_nothing_to_summarise_and_no_call(owner_client, teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, questions=2)
    response = _draft(owner_client, exam)
    assert "Aucune copie corrigée : rien à résumer pour la classe." in html.unescape(response.text)
    assert llm_server.requests == [] and not UsageRecord.objects.exists()
    assert owner_client.get(reverse("exam_summary_pdf", args=[exam.pk])).status_code == 200


def test_another_teacher_can_neither_read_nor_draft_the_summary(graded, other_client, llm_server):
    llm_server.requests.clear()
    for url in (reverse("exam_summary", args=[graded.pk]), reverse("exam_summary_pdf", args=[graded.pk])):
        assert other_client.get(url).status_code == 404
    assert other_client.post(reverse("exam_summary_update", args=[graded.pk]), {"action": "draft"}).status_code == 404
    assert llm_server.requests == [] and not UsageRecord.objects.filter(phase="summary").exists()
