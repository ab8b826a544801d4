"""Appréciations: each answer's feedback edited by the teacher (audited, the engine's text kept
and restorable), and the copy's general appréciation drafted by the grading model (a metered
call, phase "appreciation"), edited, restored, marked possibly stale when points change and
redrafted in one click. Exports and annotated PDFs use the teacher's text."""

from __future__ import annotations

import csv
import html
import io
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.urls import reverse
from openpyxl import load_workbook

from grading.models import Copy, GradeEdit
from tests.factories import exam_with_bareme
from usage.models import Reservation, UsageRecord

pytestmark = pytest.mark.django_db

D = Decimal
# The demo model's, in French typography (a no-break space before each colon).
DRAFT_6_OF_10 = (
    "Travail correct dans l'ensemble. Point fort\u00a0: Exercice 2. À retravailler en priorité\u00a0: Exercice 1."
)


@pytest.fixture
def graded(teacher, grade_exam):
    """Q1 /4 and Q2 /6: Léa 1 and 5 (6/10), graded through the engine and the scripted server."""
    exam = exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5"))
    return grade_exam(exam, {"Léa": [1, 5]})


def _copy(exam) -> Copy:
    return exam.copies.get()


def _page(client, copy) -> str:
    return html.unescape(client.get(reverse("copy_detail", args=[copy.pk])).text)


def _draft(client, copy):
    return client.post(reverse("copy_appreciation", args=[copy.pk]), {"action": "draft"}, follow=True)


def _csv_rows(client, exam, fmt="csv") -> list[list[str]]:
    body = client.get(reverse("exam_export", args=[exam.pk, fmt])).content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body), delimiter=";"))


def test_a_questions_feedback_is_edited_audited_and_restored(owner_client, teacher, graded):
    copy = _copy(graded)
    grade = copy.grades.get(question__order=0)
    assert (grade.feedback, grade.ai_feedback) == ("Conseil pour q1.", "Conseil pour q1.")

    response = owner_client.post(
        reverse("grade_feedback", args=[grade.pk]), {"feedback": "  Relis l'énoncé : x vaut 3.  "}, follow=True
    )

    # A question's comment, as the grid and the warning under it call it; « appréciation » is the copy's.
    answered = html.unescape(response.text)
    assert "Commentaire enregistré." in answered and "Appréciation enregistrée." not in answered
    assert "Commentaire pour l'élève" in answered and "Enregistrer le commentaire" in answered
    assert "Appréciation pour l'élève" not in answered
    grade.refresh_from_db()
    assert (grade.feedback, grade.ai_feedback) == ("Relis l'énoncé : x vaut 3.", "Conseil pour q1.")
    edit = GradeEdit.objects.get()
    assert (edit.user, edit.field, edit.action) == (teacher, "feedback", "edit")
    assert (edit.before, edit.after) == ("Conseil pour q1.", "Relis l'énoncé : x vaut 3.")
    page = _page(owner_client, copy)
    assert "IA : Conseil pour q1." in page
    assert "Rétablir le texte de l'IA" in page
    # The export says what the teacher wrote, not what the model did.
    assert "Q1 : Relis l'énoncé : x vaut 3." in _csv_rows(owner_client, graded)[1][-1]
    assert "Conseil pour q1." not in _csv_rows(owner_client, graded)[1][-1]

    owner_client.post(reverse("grade_feedback", args=[grade.pk]), {"restore": "1"})

    grade.refresh_from_db()
    assert grade.feedback == "Conseil pour q1."
    assert [(e.action, e.after) for e in GradeEdit.objects.order_by("id")] == [
        ("edit", "Relis l'énoncé : x vaut 3."),
        ("restore", "Conseil pour q1."),
    ]
    assert "Rétablir le texte de l'IA" not in _page(owner_client, copy)


def test_the_appreciation_is_drafted_by_the_grading_model_from_the_grades_and_metered(
    owner_client, teacher, graded, llm_server
):
    copy = _copy(graded)
    llm_server.requests.clear()
    assert "Rédiger avec l'IA" in _page(owner_client, copy)

    response = _draft(owner_client, copy)

    assert "Appréciation rédigée par le modèle : relisez-la." in html.unescape(response.text)
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai, copy.appreciation_stale) == (DRAFT_6_OF_10, DRAFT_6_OF_10, False)
    # One call, to the grading model, carrying the grades and readings (never the name).
    (request,) = llm_server.requests
    assert request.model == "gpt-4o"
    assert "[TASK:appreciation]" in request.text
    assert '"points": "5", "max": "6"' in request.text and "L'élève écrit la réponse 2." in request.text
    assert "Léa" not in request.text
    # Recorded in the ledger with its real tokens, against a reservation settled at once.
    (record,) = UsageRecord.objects.filter(phase="appreciation")
    assert (record.user, record.copy_id, record.exam_id) == (teacher, copy.pk, graded.pk)
    assert record.prompt_tokens == request.usage["prompt_tokens"] and record.completion_tokens > 0
    assert record.reservation.state == Reservation.State.SETTLED
    assert record.reservation.tokens >= record.total_tokens
    assert DRAFT_6_OF_10 in _page(owner_client, copy)


def test_the_pages_button_gets_the_block_alone_with_its_message_none_left_for_the_next_page(owner_client, graded):
    # « Rédiger avec l'IA » asks through htmx: the page stays, and with it what the teacher types.
    copy = _copy(graded)

    response = owner_client.post(
        reverse("copy_appreciation", args=[copy.pk]), {"action": "draft"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    block = html.unescape(response.text)
    assert "<html" not in block and 'id="appreciation-body"' in block
    assert f">{DRAFT_6_OF_10}</textarea>" in block
    assert 'hx-swap-oob="innerHTML:#appreciation-notice"' in block
    assert "Appréciation rédigée par le modèle : relisez-la." in block
    # Shown by the page's script only when her unsaved text stays in the field.
    assert "data-appreciation-kept hidden" in block and "data-appreciation-restore hidden" in block
    assert "relisez-la" not in _page(owner_client, copy)


def test_changing_points_marks_the_appreciation_stale_and_one_click_redrafts_it(owner_client, graded):
    copy = _copy(graded)
    _draft(owner_client, copy)
    q2 = copy.grades.get(question__order=1)

    response = owner_client.post(
        reverse("grade_update", args=[q2.pk]), {"points": "1"}, headers={"Accept": "application/json"}
    )

    assert response.json()["appreciation_stale"] is True
    copy.refresh_from_db()
    assert copy.appreciation_stale and copy.appreciation == DRAFT_6_OF_10
    page = _page(owner_client, copy)
    assert "l'appréciation ne les reflète peut-être plus" in page
    assert "Rédiger à nouveau avec l'IA" in page

    _draft(owner_client, copy)

    copy.refresh_from_db()
    # 2/10 now, and Q1 (1/4) is the better of the two.
    redrafted = "Travail insuffisant. Point fort\u00a0: Exercice 1. À retravailler en priorité\u00a0: Exercice 2."
    assert (copy.appreciation, copy.appreciation_stale) == (redrafted, False)
    assert UsageRecord.objects.filter(phase="appreciation", copy=copy).count() == 2
    assert "data-appreciation-stale hidden" in _page(owner_client, copy)


def test_a_points_edit_before_any_draft_marks_nothing_stale(owner_client, graded):
    copy = _copy(graded)
    grade = copy.grades.first()
    response = owner_client.post(
        reverse("grade_update", args=[grade.pk]), {"points": "0"}, headers={"Accept": "application/json"}
    )
    assert response.json()["appreciation_stale"] is False


def test_the_teachers_appreciation_goes_to_every_export_and_the_annotated_pdf(owner_client, graded):
    copy = _copy(graded)
    _draft(owner_client, copy)
    mine = "Des progrès nets en calcul ; soigne la rédaction."
    owner_client.post(reverse("copy_appreciation", args=[copy.pk]), {"action": "save", "appreciation": mine})
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai) == (mine, DRAFT_6_OF_10)

    assert _csv_rows(owner_client, graded)[1][-1].startswith(mine)
    sheet = load_workbook(io.BytesIO(owner_client.get(reverse("exam_export", args=[graded.pk, "xlsx"])).content)).active
    assert str(sheet.cell(row=2, column=sheet.max_column).value).startswith(mine)
    pronote = owner_client.get(reverse("exam_export_pronote", args=[graded.pk, "csv"])).content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(pronote), delimiter=";"))[1][2] == mine
    exported = owner_client.get(reverse("exam_export", args=[graded.pk, "json"])).json()["copies"][0]
    assert (exported["appreciation"], exported["appreciation_ai"]) == (mine, DRAFT_6_OF_10)
    annotated = owner_client.get(reverse("copy_annotated", args=[copy.pk]))
    assert mine in pdfium.PdfDocument(annotated.content)[0].get_textpage().get_text_bounded()

    owner_client.post(reverse("copy_appreciation", args=[copy.pk]), {"action": "restore"})

    copy.refresh_from_db()
    assert copy.appreciation == DRAFT_6_OF_10
    assert _csv_rows(owner_client, graded)[1][-1].startswith(DRAFT_6_OF_10)


def test_an_unusable_draft_is_repaired_once_then_refused_and_both_calls_are_recorded(owner_client, graded, llm_server):
    copy = _copy(graded)
    llm_server.script(fault="malformed", match="[TASK:appreciation]", times=2)

    response = _draft(owner_client, copy)

    assert "Réponse inutilisable du modèle" in html.unescape(response.text)
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai) == ("", "")
    assert sorted(UsageRecord.objects.filter(copy=copy).exclude(phase="grading").values_list("phase", flat=True)) == [
        "appreciation",
        "repair",
    ]
    reservation = Reservation.objects.get(key__startswith=f"appreciation:{copy.pk}:")
    assert (reservation.state, reservation.outcome) == (Reservation.State.SETTLED, "failed")


def test_another_teacher_cannot_touch_the_appreciations(graded, other_client, llm_server):
    copy = _copy(graded)
    grade = copy.grades.first()
    llm_server.requests.clear()
    assert other_client.post(reverse("copy_appreciation", args=[copy.pk]), {"action": "draft"}).status_code == 404
    assert other_client.post(reverse("grade_feedback", args=[grade.pk]), {"feedback": "x"}).status_code == 404
    assert llm_server.requests == []
    assert not UsageRecord.objects.filter(phase="appreciation").exists()
