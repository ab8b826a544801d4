"""The typical class the FREE allowance is sized on (usage.tiers): a brevet blanc of four
exercises, a one-page subject, 4-page copies in double correction. The benchmark grades it
(`make bench` prints its tokens per copy) and the tests check the estimator's figures for it
against usage.tiers."""

from __future__ import annotations

from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.pdfs import text_pdf

EXERCISES = [("Fractions", 4), ("Pythagore", 6), ("Fonctions", 5), ("Probabilités", 5)]


def typical_exam_create(*, owner, title: str = "Brevet blanc de mathématiques"):
    """The typical exam, without copies (typical_copies_add adds them). Its subject is stored as
    an upload is (services.exam_subject_save), which enqueues the render of its pages."""
    from grading.models import Exam, Question
    from grading.services.exams import exam_subject_save

    exam = Exam.objects.create(
        owner=owner,
        title=title,
        subject="Mathématiques",
        level="3e",
        mode=Exam.Mode.DOUBLE,
        rounding_step=Decimal("0.5"),
        instructions=(
            "Accepter toute méthode correcte. Pénaliser l'absence d'unité de 0,5 point. "
            "Valoriser la rédaction et les justifications. "
        )
        * 6,
    )
    subject = text_pdf(
        [
            "Exercice 1 (4 points) : calculer A = 3/4 + 5/6 et donner le resultat sous forme irreductible.",
            "Exercice 2 (6 points) : un triangle ABC rectangle en B, AB = 6 cm, BC = 8 cm. Calculer AC.",
        ]
    )
    exam_subject_save(exam=exam, upload=SimpleUploadedFile("sujet.pdf", subject, content_type="application/pdf"))
    for order, (label, points) in enumerate(EXERCISES):
        Question.objects.create(
            exam=exam,
            order=order,
            label=f"Exercice {order + 1} — {label}",
            max_points=Decimal(points),
            criteria=f"Méthode attendue pour {label.lower()}, résultat exact, unités et justification.",
        )
    return exam


def typical_copies_add(exam, *, copies: int, pages: int = 4, image=None, first: int = 1) -> list:
    """`copies` scanned copies (no text layer) of `pages` pages, « Élève 01 »…; `image(label,
    number)` gives each page's JPEG (the benchmark's are scan-sized)."""
    from grading.models import Copy, Page
    from tests.factories import jpeg_bytes

    image = image or (lambda label, number: jpeg_bytes(f"{label} page {number}"))
    made = []
    for number in range(first, first + copies):
        copy = Copy.objects.create(exam=exam, student_label=f"Élève {number:02d}")
        for index in range(1, pages + 1):
            page = Page(copy=copy, index=index, width=990, height=1400)
            page.image.save("p.jpg", ContentFile(image(copy.student_label, index)), save=False)
            page.save()
        made.append(copy)
    return made
