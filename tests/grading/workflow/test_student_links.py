"""Handing the copies back by private link: a student opens their own copy (page and annotated
PDF) without an account, and nothing else; links expire, are revoked per copy or per exam,
are stored hashed, every opening is logged; "Envoyer aux élèves" emails the students of the
class list who have an address, in the exam's language. Copies are uploaded, read and graded
through the engine and the scripted server, as a teacher's class would be."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from unittest import mock

import pypdfium2 as pdfium
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grading.models import StudentLink, StudentLinkAccess

from .classes import class_imported, copies_graded, copies_uploaded, copy_student_confirm, exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

ROSTER = "Élève;E-mail\nABADIE Léa;lea.abadie@college.example\nMARTIN Lucas;\n"
LINK_RE = re.compile(r"https?://[^\s<\"]+/r/([A-Za-z0-9_-]+)/")


@pytest.fixture
def graded(owner_client, teacher, llm_server):
    school_class = class_imported(owner_client, roster=ROSTER)
    exam = exam_for_class(owner_client, school_class)
    copies = copies_uploaded(
        owner_client, exam, {"lea.pdf": ("Léa Abadie", "COPIE-A"), "lucas.pdf": ("Lucas Martin", "COPIE-M")}
    )
    students = {s.last_name: s for s in school_class.students.all()}
    copy_student_confirm(owner_client, copies["lea.pdf"], students["ABADIE"])
    copy_student_confirm(owner_client, copies["lucas.pdf"], students["MARTIN"])
    copies_graded(
        exam,
        teacher,
        llm_server,
        {"COPIE-A": [3.5, 5], "COPIE-M": [1, 2]},
        feedback={"COPIE-A": "Calcul juste, rédaction à soigner.", "COPIE-M": "Relis la leçon sur les angles."},
    )
    for copy in copies.values():
        copy.refresh_from_db()
    return exam, copies["lea.pdf"], copies["lucas.pdf"]


def _printed(client, exam, days: int = 30) -> dict[str, str]:
    """The printable list: student label → token."""
    response = client.post(reverse("exam_links_print", args=[exam.pk]), {"days": days})
    assert response.status_code == 200
    page = response.content.decode()
    slips = re.findall(r"<strong>([^<]+)</strong>[^<]*<br>\s*<code>([^<]+)</code>", page)
    return {label: LINK_RE.search(url).group(1) for label, url in slips}


def test_a_link_opens_that_students_copy_and_nothing_else(owner_client, graded):
    exam, lea, lucas = graded
    tokens = _printed(owner_client, exam)
    assert set(tokens) == {lea.student_label, lucas.student_label}
    client = Client()  # the student's browser: no account

    page = client.get(reverse("student_copy", args=[tokens[lea.student_label]]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Calcul juste, rédaction à soigner." in text and "Total : 8,5 / 10" in text
    assert lucas.student_label not in text and "Relis la leçon" not in text
    assert page["Referrer-Policy"] == "same-origin" and "no-store" in page["Cache-Control"]
    pdf = client.get(reverse("student_copy_pdf", args=[tokens[lea.student_label]]))
    assert pdf["Content-Type"] == "application/pdf"
    summary = pdfium.PdfDocument(pdf.content)[0].get_textpage().get_text_bounded()
    assert lea.student_label in summary and "8,5 / 10" in summary
    # Every opening is logged on the link it came through.
    link = StudentLink.objects.get(copy=lea)
    assert list(link.accesses.order_by("at").values_list("what", flat=True)) == ["page", "pdf"]
    assert not StudentLinkAccess.objects.filter(link__copy=lucas).exists()


def test_the_token_is_random_long_and_stored_only_as_its_hash(owner_client, graded):
    exam, lea, _lucas = graded
    first = _printed(owner_client, exam)[lea.student_label]
    second = _printed(owner_client, exam)[lea.student_label]

    assert first != second and len(first) >= 43  # 32 random bytes, base64url
    stored = set(StudentLink.objects.filter(copy=lea).values_list("token_hash", flat=True))
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in (first, second)}
    assert not StudentLink.objects.filter(token_hash__in=[first, second]).exists()


def test_a_wrong_guessed_expired_or_revoked_token_is_a_404(owner_client, graded):
    exam, lea, lucas = graded
    tokens = _printed(owner_client, exam, days=3)
    token = tokens[lea.student_label]
    client = Client()  # the student's browser: no account
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (flipped, "x" * 43, token.upper() if token.upper() != token else token.lower(), "a" * 200):
        assert client.get(reverse("student_copy", args=[wrong])).status_code == 404
        assert client.get(reverse("student_copy_pdf", args=[wrong])).status_code == 404

    # Expired: three days and a minute later (the clock moved, nothing else).
    later = timezone.now() + timedelta(days=3, minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get(reverse("student_copy", args=[token])).status_code == 404
    assert client.get(reverse("student_copy", args=[token])).status_code == 200

    # Revoked for one copy: the other still opens.
    owner_client.post(reverse("copy_links_revoke", args=[lea.pk]))
    assert client.get(reverse("student_copy", args=[token])).status_code == 404
    assert client.get(reverse("student_copy", args=[tokens[lucas.student_label]])).status_code == 200
    # Revoked for the whole exam.
    owner_client.post(reverse("exam_links_revoke", args=[exam.pk]))
    assert client.get(reverse("student_copy", args=[tokens[lucas.student_label]])).status_code == 404
    assert not StudentLinkAccess.objects.filter(link__copy=lea, at__gt=later).exists()


def test_the_expiry_is_the_teachers_within_bounds(owner_client, graded):
    exam, lea, _lucas = graded
    for days in (0, 366, "abc"):
        response = owner_client.post(reverse("exam_links_print", args=[exam.pk]), {"days": days})
        assert response.status_code == 302
    assert not StudentLink.objects.exists()
    _printed(owner_client, exam, days=7)
    expires = StudentLink.objects.get(copy=lea).expires_at
    assert timedelta(days=7) - timedelta(minutes=5) < expires - timezone.now() <= timedelta(days=7)
    page = owner_client.get(reverse("exam_links", args=[exam.pk])).content.decode()
    assert 'value="30"' in page  # the default offered


def test_sending_emails_the_students_with_an_address_in_the_exams_language(
    owner_client, graded, eager_celery, django_capture_on_commit_callbacks
):
    exam, lea, lucas = graded
    exam.language = "en"
    exam.save(update_fields=["language"])

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("exam_links_send", args=[exam.pk]), {"days": 14}, follow=True)

    assert "Envoi du lien à 1 élève en cours." in response.content.decode()
    to_students = [m for m in mail.outbox if m.to != [exam.owner.email]]
    assert len(to_students) == 1
    message = to_students[0]
    assert message.to == ["lea.abadie@college.example"] and message.reply_to == [exam.owner.email]
    assert message.subject == f"Your marked copy: {exam.title}"
    assert "Hello Léa," in message.body
    token = LINK_RE.search(message.body).group(1)
    assert StudentLink.objects.get(copy=lea).sent_to == "lea.abadie@college.example"
    assert not StudentLink.objects.filter(copy=lucas).exists()  # no address: the printed list
    client = Client()  # the student's browser: no account
    page = client.get(reverse("student_copy", args=[token]))
    assert page.status_code == 200 and 'lang="en"' in page.content.decode()
    assert "Question by question" in page.content.decode()
    links = owner_client.get(reverse("exam_links", args=[exam.pk])).content.decode()
    assert "lea.abadie@college.example" in links
