from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading.models import Exam
from tests.factories import ExamFactory, QuestionFactory
from tests.grading.workflow.pdfs import pdf_bytes

pytestmark = pytest.mark.django_db


def test_the_detection_model_proposes_a_bareme_the_teacher_confirms(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = ExamFactory(owner=teacher)
    QuestionFactory(exam=exam, label="Ancienne question")
    subject = SimpleUploadedFile("sujet.pdf", pdf_bytes(2), content_type="application/pdf")
    # The reading is a task (tests/grading/workflow/test_proposals.py runs it on a real worker).
    with django_capture_on_commit_callbacks(execute=True):
        posted = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})
    response = owner_client.get(posted.url)
    assert response.status_code == 200
    assert "Exercice 1 — calcul" in html.unescape(response.text)
    exam.refresh_from_db()
    assert exam.subject_file
    assert "Total proposé : 20 points" in html.unescape(response.text)
    initial = [f.initial for f in response.context["formset"].forms if f.initial]
    # One more row, empty, to add a question the reading missed.
    assert len(response.context["formset"].forms) == len(initial) + 1
    data = {"bareme-TOTAL_FORMS": len(initial) + 1, "bareme-INITIAL_FORMS": len(initial)}
    for i, row in enumerate(initial):
        data |= {f"bareme-{i}-label": row["label"], f"bareme-{i}-max_points": row["max_points"]}
    data["bareme-0-label"] = "Calcul corrigé"
    data["bareme-1-max_points"] = "6,5"  # typed on a French keyboard: a text field, not a number one
    assert 'type="number"' not in response.text
    data["bareme-2-DELETE"] = "on"
    data |= {"bareme-3-label": "Exercice 4 — bonus", "bareme-3-max_points": "2"}
    owner_client.post(reverse("bareme_confirm", args=[exam.pk]), data)
    assert list(exam.questions.values_list("label", "max_points")) == [
        ("Calcul corrigé", Decimal("4")),
        ("Exercice 2 — problème", Decimal("6.5")),
        ("Exercice 4 — bonus", Decimal("2")),
    ]


@pytest.mark.parametrize(
    ("points", "french", "english"),
    [
        (0.5, "Total proposé : 0,50 point", "Proposed total: 0.50 points"),
        (1, "Total proposé : 1 point", "Proposed total: 1 point"),
        (2, "Total proposé : 2 points", "Proposed total: 2 points"),
        (1000, "Total proposé : 1000 points", "Proposed total: 1000 points"),
    ],
)
def test_the_proposed_total_agrees_points_with_it_in_each_language(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks, points, french, english
):
    llm_server.script({"questions": [{"label": "Exercice 1", "max_points": points, "criteria": ""}]})
    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", pdf_bytes(1), content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        url = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject}).url
    total = re.compile(r'data-testid="proposal-total">([^<]*)<')
    assert total.search(owner_client.get(url).text).group(1) == french
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    assert total.search(owner_client.get(url).text).group(1) == english


def test_an_empty_added_row_of_a_proposal_is_not_a_question(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", pdf_bytes(1), content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        posted = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})
    forms = owner_client.get(posted.url).context["formset"].forms
    data = {"bareme-TOTAL_FORMS": len(forms), "bareme-INITIAL_FORMS": len(forms) - 1}
    for i, form in enumerate(forms[:-1]):
        data |= {f"bareme-{i}-label": form.initial["label"], f"bareme-{i}-max_points": form.initial["max_points"]}
    owner_client.post(reverse("bareme_confirm", args=[exam.pk]), data)
    assert exam.questions.count() == len(forms) - 1


def test_a_bad_subject_file_is_refused_and_not_stored(owner_client, teacher, media_files):
    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", b"pas un pdf", content_type="application/pdf")
    response = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject}, follow=True)
    assert "Ce fichier n'est pas un PDF." in html.unescape(response.text)
    assert not Exam.objects.get(pk=exam.pk).subject_file
    assert media_files() == []
