"""Names stay here: what the scripted provider received for grading holds no name of the class
list in its text, and page 1's name band is blank once the name is read (exam option)."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from core.text import fold
from grading import services, tasks
from grading.engine.name_band import NAME_BAND_SHARE
from grading.models import Copy
from tests.grading.helpers import grades_json
from tests.support.pdfs import text_pdf

from .classes import class_imported, exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french", "eager_tasks")]

ROSTER = "DUBOIS Chloé\nMARTIN Lucas\nN'DIAYE Awa\n"
PAGES = [
    "Nom : Chloé Dubois   Classe : 3e B   COPIE-D",
    "Exercice 1 : fait avec Lucas Martin et N'Diaye Awa, x = 4",
    "Exercice 2 : la pierre roule, Dubois conclut.",
]


def _graded_requests(client, exam, llm_server, teacher) -> tuple[Copy, list]:
    upload = SimpleUploadedFile("scan.pdf", text_pdf(PAGES))
    response = client.post(
        reverse("copies_upload", args=[exam.pk]), {"files": [upload]}, headers={"Accept": "application/json"}
    )
    copy_id = response.json()["created"][0]["id"]
    tasks.copy_pages_render_task.apply(args=[copy_id])  # renders, then reads the name
    llm_server.script(grades_json([3, 5]), match="[TASK:grade_copy]")
    job = services.job_start(exam=exam, user=teacher)
    copy = Copy.objects.get(pk=copy_id)
    services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")
    copy.refresh_from_db()
    grading = [r for r in llm_server.requests if "[TASK:grade_copy]" in r.text]
    return copy, grading


def _images(request) -> list[Image.Image]:
    urls = [
        p["image_url"]["url"]
        for m in request.body["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p.get("type") == "image_url"
    ]
    return [Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("L") for url in urls]


def _darkest(image: Image.Image, top: int, bottom: int) -> int:
    return image.crop((0, top, image.width, bottom)).getextrema()[0]


def test_the_grading_request_carries_no_name_of_the_class_list(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, class_imported(owner_client, roster=ROSTER))

    copy, (request,) = _graded_requests(owner_client, exam, llm_server, teacher)

    assert copy.status == Copy.Status.DONE and copy.student_label == "DUBOIS Chloé"
    text = fold(request.text)
    for name in ("dubois", "chloe", "martin", "lucas", "diaye", "awa"):
        assert name not in text.split(), name
    assert "Nom : [NAME] [NAME] Classe : 3e B COPIE-D" in request.text
    assert "fait avec [NAME] [NAME] et [NAME] [NAME], x = 4" in request.text
    assert "la pierre roule, [NAME] conclut." in request.text


def test_page_one_goes_to_grading_with_its_name_band_blank(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, class_imported(owner_client, roster=ROSTER))

    copy, (request,) = _graded_requests(owner_client, exam, llm_server, teacher)

    first, second = _images(request)[-3:-1]
    band = round(first.height * NAME_BAND_SHARE)
    assert _darkest(first, 0, band) > 240  # blank where the name was written
    stored = Image.open(copy.pages.get(index=1).image).convert("L")
    assert _darkest(stored, 0, band) < 100  # the stored page still shows it
    assert _darkest(second, 0, band) < 100  # other pages are sent whole


def test_without_the_option_the_band_is_sent_but_the_text_is_still_masked(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, class_imported(owner_client, roster=ROSTER))
    exam.mask_names = False
    exam.save(update_fields=["mask_names"])

    _copy, (request,) = _graded_requests(owner_client, exam, llm_server, teacher)

    first = _images(request)[-3]
    assert _darkest(first, 0, round(first.height * NAME_BAND_SHARE)) < 100
    assert "Nom : [NAME] [NAME]" in request.text


def test_without_a_class_the_name_read_is_masked_too(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, None)

    copy, (request,) = _graded_requests(owner_client, exam, llm_server, teacher)

    assert copy.student_label == "Chloé Dubois"
    assert "Nom : [NAME] [NAME]" in request.text
    assert "Lucas Martin" in request.text  # no class list: only the copy's own name is known


def test_the_name_reading_call_is_the_only_one_that_sees_the_name(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, class_imported(owner_client, roster=ROSTER))

    _graded_requests(owner_client, exam, llm_server, teacher)

    seeing = [r for r in llm_server.requests if "Dubois" in r.text]
    assert len(seeing) == 1 and "[TASK:read_name]" in seeing[0].text
