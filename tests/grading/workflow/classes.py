"""A class exam built the way a teacher builds it: class list imported through its page, exam
created with the class, barème typed, copies uploaded as PDFs with a text layer (the name in
the header of page 1), pages rendered by the service the task calls, graded by the engine
against the scripted server (one worker's work, run here), matched students confirmed."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading import services, tasks
from grading.models import Copy, Exam
from rosters.models import SchoolClass
from tests.grading.helpers import grades_json
from tests.support.pdfs import text_pdf


def class_imported(client, *, name: str = "3e B", roster: str) -> SchoolClass:
    response = client.post(reverse("class_create"), {"name": name, "level": "3e", "school_year": "2026-2027"})
    school_class = SchoolClass.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])
    assert client.post(reverse("roster_import", args=[school_class.pk]), {"text": roster}).status_code == 302
    return school_class


def exam_for_class(
    client, school_class: SchoolClass | None, *, questions=(("Exercice 1", "4"), ("Exercice 2", "6")), step="0.5"
) -> Exam:
    form = {"title": "Contrôle de géométrie", "language": "fr", "mode": "single", "rounding_step": step}
    if school_class is not None:
        form |= {"school_class": school_class.pk, "mask_names": "on"}
    response = client.post(reverse("exam_create"), form)
    exam = Exam.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])
    for label, points in questions:
        client.post(reverse("question_add", args=[exam.pk]), {"new-label": label, "new-max_points": points})
    assert exam.questions.count() == len(questions)
    return exam


def copy_pdf(name: str, marker: str, pages: int = 2) -> bytes:
    """A copy whose page 1 starts with the student's name, then a line unique to the copy."""
    return text_pdf(
        [f"Nom : {name}   Classe : 3e B   {marker}"] + [f"{marker} suite page {n}" for n in range(2, pages + 1)]
    )


def copies_uploaded(client, exam: Exam, copies: dict[str, tuple[str, str]]) -> dict[str, Copy]:
    """`copies`: file name → (name written on the copy, marker). Pages rendered as the task does."""
    files = [
        SimpleUploadedFile(file, copy_pdf(*written), content_type="application/pdf") for file, written in copies.items()
    ]
    response = client.post(
        reverse("copies_upload", args=[exam.pk]), {"files": files}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.content
    uploaded = {}
    for item in response.json()["created"]:
        copy = Copy.objects.get(pk=item["id"])
        services.copy_pages_render(copy=copy)
        uploaded[copy.source.original_name] = copy
    return uploaded


def copies_uploaded_read(client, exam: Exam, copies: dict[str, tuple[str, str]]) -> dict[str, Copy]:
    """Uploaded, then each copy's render task run (with `eager_tasks`, its name is read too)."""
    files = [SimpleUploadedFile(file, copy_pdf(*written)) for file, written in copies.items()]
    response = client.post(
        reverse("copies_upload", args=[exam.pk]), {"files": files}, headers={"Accept": "application/json"}
    )
    uploaded = {}
    for item in response.json()["created"]:
        tasks.copy_pages_render_task.apply(args=[item["id"]])
        copy = Copy.objects.get(pk=item["id"])
        uploaded[copy.source.original_name] = copy
    return uploaded


def copies_graded(exam: Exam, teacher, llm_server, points: dict[str, list[float]], feedback=None) -> None:
    """`points`: marker → points per question; `feedback`: marker → the first question's
    feedback. A job starts, and each copy is graded by the engine as a worker would."""
    for marker, values in points.items():
        text = grades_json(values)
        if feedback and marker in feedback:
            text = text.replace('"feedback": "Conseil pour q1."', json.dumps({"feedback": feedback[marker]})[1:-1])
        llm_server.script(text, match=marker)
    job = services.job_start(exam=exam, user=teacher)
    for copy in exam.copies.all():
        copy.refresh_from_db()
        services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")


def copy_student_confirm(client, copy: Copy, student) -> None:
    """The teacher picks the student in the copy's roster drop-down."""
    response = client.post(reverse("copy_student", args=[copy.pk]), {"student": student.pk if student else ""})
    assert response.status_code == 302


def total(copy: Copy) -> Decimal:
    return sum((g.points for g in copy.grades.all()), Decimal(0))
