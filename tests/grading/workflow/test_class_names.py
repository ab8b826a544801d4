"""Names read on the copies (the first page's top band, one detection call each, in the
ledger), matched to the class list, confirmed or fixed by the teacher; a class PDF's split
carries the names it reads."""

from __future__ import annotations

import base64
import html
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from grading.engine.name_band import NAME_BAND_SHARE
from grading.models import Copy
from tests.factories import allowance_leave
from tests.support.pdfs import text_pdf
from usage.models import UsageRecord

from .classes import class_imported, copies_uploaded_read, copy_student_confirm, exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

ROSTER = "ABADIE Léa\nDUBOIS Chloé\nMARTIN Lucas\nMARTIN Manon\nZAÏDI Inès\n"


_upload = copies_uploaded_read


@pytest.fixture
def class_exam(owner_client):
    return exam_for_class(owner_client, class_imported(owner_client, roster=ROSTER))


def test_each_copy_gets_its_student_from_the_name_on_its_first_page(owner_client, class_exam, llm_server, eager_tasks):
    copies = _upload(owner_client, class_exam, {"scan1.pdf": ("Zaidi Ines", "C1"), "scan2.pdf": ("Chloé Dubois", "C2")})

    zaidi, dubois = (Copy.objects.get(pk=copies[name].pk) for name in ("scan1.pdf", "scan2.pdf"))
    assert (zaidi.student.last_name, zaidi.student_label, zaidi.read_name) == ("ZAÏDI", "ZAÏDI Inès", "Zaidi Ines")
    assert zaidi.match_score == pytest.approx(100.0)
    assert dubois.student_label == "DUBOIS Chloé"
    # The name read, beside the list's, quoted as French writes it: a line never breaks inside « ».
    page = html.unescape(owner_client.get(reverse("exam_detail", args=[class_exam.pk])).content.decode())
    assert "(lu\u00a0: «\u00a0Zaidi Ines\u00a0»)" in page
    rows = UsageRecord.objects.filter(exam=class_exam).order_by("id")
    assert [(r.phase, r.copy_id) for r in rows] == [("detection", zaidi.pk), ("detection", dubois.pk)]
    assert [r.prompt_tokens for r in rows] == [request.usage["prompt_tokens"] for request in llm_server.requests]


def test_only_the_top_band_of_page_one_is_sent_to_read_the_name(owner_client, class_exam, llm_server, eager_tasks):
    copy = _upload(owner_client, class_exam, {"scan1.pdf": ("Zaidi Ines", "C1")})["scan1.pdf"]

    (request,) = llm_server.requests
    images = [p for m in request.body["messages"] for p in m["content"] if p.get("type") == "image_url"]
    assert len(images) == 1
    band = Image.open(io.BytesIO(base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])))
    page = copy.pages.get(index=1)
    assert band.width == page.width
    assert band.height == round(page.height * NAME_BAND_SHARE)
    assert "[TASK:read_name]" in request.text and "C1 suite page 2" not in request.text


def test_an_ambiguous_name_waits_for_the_teacher_who_picks_from_the_list(
    owner_client, class_exam, llm_server, eager_tasks
):
    copy = _upload(owner_client, class_exam, {"scan1.pdf": ("Martin", "C1")})["scan1.pdf"]
    copy.refresh_from_db()
    assert (copy.student, copy.student_label, copy.read_name) == (None, "Martin", "Martin")
    page = owner_client.get(reverse("exam_detail", args=[class_exam.pk])).content.decode()
    assert "à confirmer" in page and "MARTIN Manon</option>" in page

    manon = class_exam.school_class.students.get(first_name="Manon")
    copy_student_confirm(owner_client, copy, manon)

    copy.refresh_from_db()
    assert (copy.student, copy.student_label, copy.read_name) == (manon, "MARTIN Manon", "Martin")


def test_the_teacher_can_undo_a_match_and_the_copy_keeps_the_name_read(
    owner_client, class_exam, llm_server, eager_tasks
):
    copy = _upload(owner_client, class_exam, {"scan1.pdf": ("Chloé Dubois", "C1")})["scan1.pdf"]

    copy_student_confirm(owner_client, copy, None)

    copy.refresh_from_db()
    assert (copy.student, copy.student_label) == (None, "Chloé Dubois")


def test_a_student_already_given_to_a_copy_is_not_proposed_for_another(
    owner_client, class_exam, llm_server, eager_tasks
):
    copies = _upload(owner_client, class_exam, {"a.pdf": ("Chloé Dubois", "C1"), "b.pdf": ("Chloe Dubois", "C2")})

    first, second = (Copy.objects.get(pk=copies[name].pk) for name in ("a.pdf", "b.pdf"))
    assert first.student is not None and second.student is None
    assert second.student_label == "Chloe Dubois"


def test_a_student_of_another_class_cannot_be_picked(owner_client, class_exam, llm_server, eager_tasks):
    copy = _upload(owner_client, class_exam, {"scan1.pdf": ("Martin", "C1")})["scan1.pdf"]
    other = class_imported(owner_client, name="4e A", roster="MARTIN Lucas\n")

    response = owner_client.post(reverse("copy_student", args=[copy.pk]), {"student": other.students.get().pk})

    assert response.status_code == 404
    copy.refresh_from_db()
    assert copy.student is None


def test_without_a_class_the_name_read_is_the_copys_label(owner_client, llm_server, eager_tasks):
    exam = exam_for_class(owner_client, None)

    copy = _upload(owner_client, exam, {"copie-04.pdf": ("Hugo Lefèvre", "C1")})["copie-04.pdf"]

    copy.refresh_from_db()
    assert (copy.student_label, copy.read_name, copy.student) == ("Hugo Lefèvre", "Hugo Lefèvre", None)


def test_no_name_is_read_when_the_allowance_left_cannot_pay_for_it(
    owner_client, class_exam, llm_server, eager_tasks, teacher
):
    from grading.services.names import NAME_READ_TOKENS

    allowance_leave(teacher, NAME_READ_TOKENS - 1)  # one token short of what a name-reading call may take

    copy = _upload(owner_client, class_exam, {"scan1.pdf": ("Chloé Dubois", "C1")})["scan1.pdf"]

    copy.refresh_from_db()
    assert llm_server.requests == [] and copy.read_name == "" and copy.student_label == "scan1"


def test_a_name_is_read_with_exactly_its_worst_case_left_and_gives_back_what_it_did_not_spend(
    owner_client, class_exam, llm_server, eager_tasks, teacher
):
    from grading.services.names import NAME_READ_TOKENS
    from usage.models import Reservation, UsageRecord
    from usage.selectors import usage_summary

    allowance_leave(teacher, NAME_READ_TOKENS)

    copy = _upload(owner_client, class_exam, {"scan1.pdf": ("Chloé Dubois", "C1")})["scan1.pdf"]

    copy.refresh_from_db()
    assert len(llm_server.requests) == 1 and copy.read_name == "Chloé Dubois"
    (held,) = Reservation.objects.filter(user=teacher, key__startswith=f"name:{copy.pk}:")
    (call,) = UsageRecord.objects.filter(user=teacher, phase="detection")
    assert (held.state, held.outcome, held.tokens_used) == ("settled", "finished", call.total_tokens)
    assert call.reservation == held and 0 < call.total_tokens <= NAME_READ_TOKENS
    assert usage_summary(user=teacher).remaining == NAME_READ_TOKENS - call.total_tokens


def test_a_class_pdf_split_carries_the_names_and_the_matched_students(
    owner_client, class_exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    pages = ["Nom : Léa Abadie   Classe : 3e B", "suite", "Nom : L. Martin   Classe : 3e B", "Nom : Martin"]
    upload = SimpleUploadedFile("classe.pdf", text_pdf(pages))
    with django_capture_on_commit_callbacks(execute=True):  # the split proposal's task, run here
        response = owner_client.post(reverse("class_upload", args=[class_exam.pk]), {"file": upload})

    page = owner_client.get(response.url)

    rows = page.context["formset"].initial
    students = {s.first_name: s.pk for s in class_exam.school_class.students.all()}
    assert [(r["student_label"], r["first_page"], r["last_page"], r["student"]) for r in rows] == [
        ("Léa Abadie", 1, 2, students["Léa"]),
        ("L. Martin", 3, 3, students["Lucas"]),
        ("Martin", 4, 4, None),
    ]
    form = {"rows-TOTAL_FORMS": "3", "rows-INITIAL_FORMS": "3"}
    for n, row in enumerate(rows):
        form |= {f"rows-{n}-{key}": value or "" for key, value in row.items()}
    form["rows-2-student"] = students["Manon"]
    owner_client.post(response.url, form)

    copies = list(class_exam.copies.order_by("first_page"))
    assert [(c.student_label, c.read_name, c.student_id) for c in copies] == [
        ("ABADIE Léa", "Léa Abadie", students["Léa"]),
        ("MARTIN Lucas", "L. Martin", students["Lucas"]),
        ("MARTIN Manon", "Martin", students["Manon"]),
    ]
    assert UsageRecord.objects.filter(exam=class_exam, phase="detection").count() == 1


def test_a_split_giving_one_student_two_copies_is_refused(owner_client, class_exam, llm_server):
    upload = SimpleUploadedFile("classe.pdf", text_pdf(["Nom : Léa Abadie", "Nom : Chloé Dubois"]))
    url = owner_client.post(reverse("class_upload", args=[class_exam.pk]), {"file": upload}).url
    lea = class_exam.school_class.students.get(first_name="Léa").pk
    form = {"rows-TOTAL_FORMS": "2", "rows-INITIAL_FORMS": "2"}
    form |= {"rows-0-student_label": "A", "rows-0-first_page": 1, "rows-0-last_page": 1, "rows-0-student": lea}
    form |= {"rows-1-student_label": "B", "rows-1-first_page": 2, "rows-1-last_page": 2, "rows-1-student": lea}

    response = owner_client.post(url, form, follow=True)

    assert "Un même élève est choisi pour deux copies." in response.content.decode()
    assert not class_exam.copies.exists()


@pytest.mark.parametrize(
    ("label", "placeholder"),
    [
        ("Élève 3", True),
        (" Student 12 ", True),  # the split page shown in English
        ("Élève Martin", False),
        ("Élève 3 Martin", False),
        ("Martin 3", False),
        ("Élèves 3", False),
        ("Élève", False),
    ],
)
def test_only_the_split_pages_own_placeholder_counts_as_no_name(label, placeholder):
    from grading.services.uploads import placeholder_is

    assert placeholder_is(label) is placeholder
