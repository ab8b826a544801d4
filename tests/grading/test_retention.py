"""Retention: an exam's students' files are deleted (on demand or once idle), its grades stay."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone, translation

from grading import services, tasks
from grading.errors import FilesPurged, PurgeRefused
from grading.models import Exam, Grade, GradeEdit, GradingJob, ModelAnswer, Page, SourceFile
from grading.services.subject_pages import subject_page_key
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory, jpeg_bytes
from tests.grading.workflow.pdfs import pdf_bytes
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CORRIGO_RETENTION_DAYS = 365


def _exam_with_files(owner, *, title="Fractions", copies=2) -> Exam:
    """An exam with a subject file and, per copy, a source PDF, two page images and grades."""
    exam = ExamFactory(owner=owner, title=title)
    exam.subject_file.save("sujet.pdf", ContentFile(pdf_bytes(1)), save=True)
    question = QuestionFactory(exam=exam, max_points=Decimal("4"))
    for n in range(copies):
        source = SourceFile.objects.create(exam=exam, original_name=f"eleve{n}.pdf", page_count=2)
        source.file.save("copie.pdf", ContentFile(pdf_bytes(2)), save=True)
        copy = CopyFactory(exam=exam, source=source, student_label=f"Élève {n}", last_page=2)
        for index in (1, 2):
            page = Page(copy=copy, index=index, width=200, height=280, text="x = 3")
            page.image.save("p.jpg", ContentFile(jpeg_bytes()), save=True)
        grade = GradeFactory(copy=copy, question=question, points=Decimal("3"), feedback="Bonne méthode.")
        GradeEdit.objects.create(grade=grade, user=owner, before="2.50", after="3")
        ModelAnswer.objects.create(copy=copy, phase="grading", slot="a", model="m", error="réponse tronquée")
        UsageRecord.objects.create(
            user=owner, exam=exam, copy=copy, phase="grading", model="m", idempotency_key=f"{exam.pk}-{n}"
        )
    return exam


def _stored_names(exam: Exam) -> list[str]:
    names = [exam.subject_file.name] if exam.subject_file else []
    names += [s.file.name for s in SourceFile.objects.filter(exam=exam).exclude(file="")]
    names += [p.image.name for p in Page.objects.filter(copy__exam=exam)]
    return names


def _age(exam: Exam, days: int) -> None:
    then = timezone.now() - timedelta(days=days)
    Exam.objects.filter(pk=exam.pk).update(updated_at=then)
    SourceFile.objects.filter(exam=exam).update(created_at=then)
    exam.copies.update(updated_at=then)
    Grade.objects.filter(copy__exam=exam).update(updated_at=then)


# --- The service ---------------------------------------------------------------------------


def test_the_purge_deletes_every_file_from_storage_and_clears_the_references(teacher):
    exam = _exam_with_files(teacher)
    names = _stored_names(exam)
    assert len(names) == 1 + 2 + 4
    assert all(default_storage.exists(name) for name in names)

    result = services.exam_files_purge(exam=exam, reason="test")

    assert result.complete
    assert result.deleted == 7
    assert not any(default_storage.exists(name) for name in names)
    exam.refresh_from_db()
    assert not exam.subject_file
    assert exam.files_purged_at is not None
    assert not Page.objects.filter(copy__exam=exam).exists()  # the text layer is the student's writing too
    assert list(SourceFile.objects.filter(exam=exam).values_list("file", flat=True)) == ["", ""]


def test_the_purge_deletes_the_subjects_pages_from_the_cache(teacher):
    exam = _exam_with_files(teacher)
    assert tasks.subject_pages_render_task.apply(args=[exam.pk, exam.subject_file.name]).get() == 1
    keys = [subject_page_key(exam, 1), subject_page_key(exam, 1).removesuffix(":1")]  # the page, the summary
    assert all(cache.get(key) is not None for key in keys)

    assert services.exam_files_purge(exam=exam, reason="test").complete

    assert [cache.get(key) for key in keys] == [None, None]


def test_the_purge_keeps_grades_edits_audit_and_ledger(teacher):
    exam = _exam_with_files(teacher)
    services.exam_files_purge(exam=exam, reason="test")

    assert exam.copies.count() == 2
    assert Grade.objects.filter(copy__exam=exam, points=Decimal("3"), feedback="Bonne méthode.").count() == 2
    assert GradeEdit.objects.filter(grade__copy__exam=exam).count() == 2
    assert ModelAnswer.objects.filter(copy__exam=exam).count() == 2
    assert UsageRecord.objects.filter(exam=exam).count() == 2


def test_the_purge_is_idempotent_and_keeps_the_first_date(teacher):
    exam = _exam_with_files(teacher)
    services.exam_files_purge(exam=exam, reason="test")
    exam.refresh_from_db()
    first = exam.files_purged_at

    again = services.exam_files_purge(exam=exam, reason="test")

    assert again.complete and again.deleted == 0
    exam.refresh_from_db()
    assert exam.files_purged_at == first


def test_the_purge_does_not_count_as_activity(teacher):
    exam = _exam_with_files(teacher)
    _age(exam, 10)
    before = Exam.objects.get(pk=exam.pk).updated_at
    services.exam_files_purge(exam=exam, reason="test")
    assert Exam.objects.get(pk=exam.pk).updated_at == before


def test_a_storage_error_keeps_the_reference_of_that_file_and_the_exam_unpurged(teacher, monkeypatch):
    exam = _exam_with_files(teacher)
    failing = SourceFile.objects.filter(exam=exam).first().file.name
    storage_class = type(default_storage._wrapped if hasattr(default_storage, "_wrapped") else default_storage)
    real_delete = storage_class.delete

    def delete(self, name):
        if name == failing:
            raise OSError("disque indisponible")
        return real_delete(self, name)

    monkeypatch.setattr(storage_class, "delete", delete)
    result = services.exam_files_purge(exam=exam, reason="test")

    assert not result.complete
    assert result.failed == [failing]
    exam.refresh_from_db()
    assert exam.files_purged_at is None
    # What the database still names is exactly what storage still holds.
    assert _stored_names(exam) == [failing]
    assert default_storage.exists(failing)

    monkeypatch.setattr(storage_class, "delete", real_delete)
    retry = services.exam_files_purge(exam=exam, reason="test")
    assert retry.complete
    assert not default_storage.exists(failing)
    exam.refresh_from_db()
    assert exam.files_purged_at is not None


def test_a_file_already_missing_from_storage_counts_as_deleted(teacher):
    exam = _exam_with_files(teacher, copies=1)
    page = Page.objects.filter(copy__exam=exam).first()
    default_storage.delete(page.image.name)

    assert services.exam_files_purge(exam=exam, reason="test").complete
    assert _stored_names(exam) == []


def test_the_purge_waits_for_a_running_job(teacher):
    exam = _exam_with_files(teacher, copies=1)
    GradingJob.objects.create(exam=exam, created_by=teacher)
    with pytest.raises(PurgeRefused):
        services.exam_files_purge(exam=exam, reason="test")
    assert all(default_storage.exists(name) for name in _stored_names(exam))


# --- Expiry --------------------------------------------------------------------------------


def test_only_exams_idle_past_the_retention_period_are_purged(teacher, other_teacher):
    old = _exam_with_files(teacher, title="Ancienne", copies=1)
    recent = _exam_with_files(other_teacher, title="Récente", copies=1)
    _age(old, 400)
    _age(recent, 300)
    old_names, recent_names = _stored_names(old), _stored_names(recent)

    assert services.exam_files_purge_expired() == 1

    assert not any(default_storage.exists(name) for name in old_names)
    assert all(default_storage.exists(name) for name in recent_names)
    assert Exam.objects.get(pk=old.pk).files_purged_at is not None
    assert Exam.objects.get(pk=recent.pk).files_purged_at is None
    # Nothing left to do: a second night purges nothing.
    assert services.exam_files_purge_expired() == 0


def test_a_recent_job_or_upload_keeps_an_old_exam(teacher, settings):
    graded = _exam_with_files(teacher, title="Corrigée récemment", copies=1)
    uploaded = _exam_with_files(teacher, title="Copie ajoutée récemment", copies=1)
    _age(graded, 400)
    _age(uploaded, 400)
    job = GradingJob.objects.create(exam=graded, created_by=teacher, status=GradingJob.Status.FINISHED)
    GradingJob.objects.filter(pk=job.pk).update(
        started_at=timezone.now() - timedelta(days=400), finished_at=timezone.now() - timedelta(days=2)
    )
    SourceFile.objects.filter(exam=uploaded).update(created_at=timezone.now() - timedelta(days=1))

    assert services.exam_files_purge_expired() == 0
    settings.CORRIGO_RETENTION_DAYS = 1  # the recent activity is older than that
    assert services.exam_files_purge_expired() == 2


def test_reviewing_or_editing_grades_keeps_an_old_exam(teacher, settings):
    reviewed = _exam_with_files(teacher, title="Revue récemment", copies=1)
    edited = _exam_with_files(teacher, title="Note modifiée récemment", copies=1)
    _age(reviewed, 400)
    _age(edited, 400)
    reviewed.copies.update(updated_at=timezone.now() - timedelta(days=3))
    Grade.objects.filter(copy__exam=edited).update(updated_at=timezone.now() - timedelta(days=3))

    assert services.exam_files_purge_expired() == 0
    settings.CORRIGO_RETENTION_DAYS = 1  # the recent activity is older than that
    assert services.exam_files_purge_expired() == 2


def test_an_old_exam_with_a_running_job_is_not_purged(teacher):
    exam = _exam_with_files(teacher, copies=1)
    GradingJob.objects.create(exam=exam, created_by=teacher)
    _age(exam, 400)
    GradingJob.objects.filter(exam=exam).update(started_at=timezone.now() - timedelta(days=400))
    assert services.exam_files_purge_expired() == 0
    assert all(default_storage.exists(name) for name in _stored_names(exam))


def test_zero_days_keeps_files_for_ever(teacher, settings):
    settings.CORRIGO_RETENTION_DAYS = 0
    exam = _exam_with_files(teacher, copies=1)
    _age(exam, 4000)
    assert services.exam_files_purge_expired() == 0
    assert all(default_storage.exists(name) for name in _stored_names(exam))


def test_the_daily_task_runs_the_expiry_and_is_scheduled(teacher):
    from grading.tasks import exam_files_purge_expired_task

    exam = _exam_with_files(teacher, copies=1)
    _age(exam, 400)
    assert exam_files_purge_expired_task.apply().get() == 1
    entry = next(
        e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == exam_files_purge_expired_task.name
    )
    schedule = entry["schedule"]  # a crontab: once a day, every day
    assert (len(schedule.hour), len(schedule.minute), len(schedule.day_of_week)) == (1, 1, 7)


# --- The teacher's pages -------------------------------------------------------------------


def test_the_teacher_confirms_then_purges_from_the_exam_page(owner_client, teacher):
    exam = _exam_with_files(teacher)
    names = _stored_names(exam)
    page = owner_client.get(reverse("exam_detail", args=[exam.pk])).text
    url = reverse("exam_files_purge", args=[exam.pk])
    assert url in page

    confirm = owner_client.get(url)
    assert confirm.status_code == 200
    assert "définitive" in confirm.text
    assert all(default_storage.exists(name) for name in names)  # a GET deletes nothing

    response = owner_client.post(url, follow=True)

    assert not any(default_storage.exists(name) for name in names)
    date = timezone.localtime(Exam.objects.get(pk=exam.pk).files_purged_at)
    assert "Les fichiers des élèves ont été supprimés" in response.text
    assert "Fichiers des élèves supprimés le" in response.text
    assert str(date.year) in response.text
    assert url not in response.text


def test_another_teacher_gets_404_and_deletes_nothing(client, other_teacher, teacher):
    exam = _exam_with_files(teacher, copies=1)
    client.force_login(other_teacher)
    url = reverse("exam_files_purge", args=[exam.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert all(default_storage.exists(name) for name in _stored_names(exam))
    assert Exam.objects.get(pk=exam.pk).files_purged_at is None


def test_the_purge_page_needs_a_login(client, teacher):
    exam = _exam_with_files(teacher, copies=1)
    response = client.post(reverse("exam_files_purge", args=[exam.pk]))
    assert response.status_code == 302
    assert Exam.objects.get(pk=exam.pk).files_purged_at is None


def test_files_of_a_purged_exam_answer_404(owner_client, teacher):
    exam = _exam_with_files(teacher, copies=1)
    copy = exam.copies.get()
    source_url = reverse("source_file", args=[copy.source_id])
    page_url = reverse("page_image", args=[copy.pk, 1])
    assert owner_client.get(source_url).status_code == 200
    assert owner_client.get(page_url).status_code == 200

    services.exam_files_purge(exam=exam, reason="test")

    assert owner_client.get(source_url).status_code == 404
    assert owner_client.get(page_url).status_code == 404
    copy_page = owner_client.get(reverse("copy_detail", args=[copy.pk])).text
    assert "Fichiers des élèves supprimés le" in copy_page
    assert source_url not in copy_page


def test_a_file_deleted_before_its_reference_answers_404_not_500(owner_client, teacher):
    exam = _exam_with_files(teacher, copies=1)
    copy = exam.copies.get()
    default_storage.delete(copy.source.file.name)
    assert owner_client.get(reverse("source_file", args=[copy.source_id])).status_code == 404


def test_exports_from_grades_still_work_after_the_purge(owner_client, teacher):
    exam = _exam_with_files(teacher)
    services.exam_files_purge(exam=exam, reason="test")

    response = owner_client.get(reverse("exam_export", args=[exam.pk, "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows[1:]] == ["Élève 0", "Élève 1"]
    assert rows[1][1] == "3"
    assert owner_client.get(reverse("exam_export", args=[exam.pk, "xlsx"])).status_code == 200
    data = json.loads(owner_client.get(reverse("exam_export", args=[exam.pk, "json"])).content)
    assert data["exam"]["files_purged_at"]
    assert data["copies"][0]["grades"][0]["edits"]


def test_the_annotated_pdfs_say_the_files_were_purged(owner_client, teacher):
    exam = _exam_with_files(teacher, copies=1)
    copy = exam.copies.get()
    assert owner_client.get(reverse("copy_annotated", args=[copy.pk])).content.startswith(b"%PDF")
    services.exam_files_purge(exam=exam, reason="test")

    response = owner_client.get(reverse("copy_annotated", args=[copy.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("copy_detail", args=[copy.pk])
    assert "les PDF annotés ne sont plus disponibles" in response.text

    response = owner_client.get(reverse("exam_export", args=[exam.pk, "zip"]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("exam_review", args=[exam.pk])
    assert "les PDF annotés ne sont plus disponibles" in response.text


def test_a_class_pdf_never_split_goes_entirely(teacher):
    exam = _exam_with_files(teacher, copies=1)
    unsplit = SourceFile.objects.create(exam=exam, original_name="classe.pdf", page_count=4)
    unsplit.file.save("classe.pdf", ContentFile(pdf_bytes(4)), save=True)
    name = unsplit.file.name

    services.exam_files_purge(exam=exam, reason="test")

    assert not default_storage.exists(name)
    assert not SourceFile.objects.filter(pk=unsplit.pk).exists()
    assert SourceFile.objects.filter(exam=exam).count() == 1  # the graded copy's source row stays


def test_a_purged_exam_takes_no_new_copies_and_no_new_grading(owner_client, teacher):
    exam = _exam_with_files(teacher, copies=1)
    services.exam_files_purge(exam=exam, reason="test")
    source = SourceFile.objects.get(exam=exam)
    rows = {
        "rows-TOTAL_FORMS": "1",
        "rows-INITIAL_FORMS": "0",
        "rows-0-student_label": "Autre",
        "rows-0-first_page": "1",
        "rows-0-last_page": "2",
    }
    Grade.objects.filter(copy__exam=exam).delete()  # an ungraded split could otherwise be redone
    response = owner_client.post(reverse("source_split", args=[source.pk]), rows, follow=True)
    assert "créez une nouvelle correction" in response.text
    assert list(exam.copies.values_list("student_label", flat=True)) == ["Élève 0"]

    upload = ContentFile(pdf_bytes(1), name="Nouvel élève.pdf")
    response = owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [upload]}, follow=True)
    assert "créez une nouvelle correction" in response.text
    assert exam.copies.count() == 1
    assert SourceFile.objects.filter(exam=exam).exclude(file="").count() == 0

    response = owner_client.post(reverse("exam_start", args=[exam.pk]), follow=True)
    assert "correction impossible" in response.text
    assert not GradingJob.objects.filter(exam=exam).exists()


def test_the_messages_are_translated(client, teacher):
    exam = _exam_with_files(teacher, copies=1)
    teacher.language = "en"  # the teacher's own language, applied by accounts.middleware
    teacher.save(update_fields=["language"])
    client.force_login(teacher)
    assert "Delete the student files" in client.get(reverse("exam_files_purge", args=[exam.pk])).text
    client.post(reverse("exam_files_purge", args=[exam.pk]))
    page = client.get(reverse("exam_detail", args=[exam.pk])).text
    assert "Student files were deleted" in page
    assert "Student files deleted on" in page
    purged_at = Exam.objects.get(pk=exam.pk).files_purged_at
    with translation.override("en"):
        assert "annotated PDFs are no longer available" in FilesPurged(purged_at).message


# --- Through S3 ----------------------------------------------------------------------------


@pytest.fixture
def s3_storage(tmp_path, settings):
    """The default storage switched to S3Storage on moto's server (real HTTP, S3 API)."""
    import uuid

    import boto3

    from tests.support.servers import moto_s3_start

    server = moto_s3_start(tmp_path)
    bucket = f"corrigo-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": server.url,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "addressing_style": "path",
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    yield lambda: [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    server.stop()


@pytest.mark.slow
def test_the_purge_deletes_the_objects_from_s3(teacher, s3_storage):
    exam = _exam_with_files(teacher, copies=1)
    assert type(exam.subject_file.storage._wrapped).__name__ == "S3Storage"
    assert sorted(s3_storage()) == sorted(_stored_names(exam))
    assert len(s3_storage()) == 4

    result = services.exam_files_purge(exam=exam, reason="test")

    assert result.complete and result.deleted == 4
    assert s3_storage() == []
    assert _stored_names(exam) == []
    assert Grade.objects.filter(copy__exam=exam).count() == 1


# --- Operators -----------------------------------------------------------------------------


def test_an_operator_purges_selected_exams_from_the_admin(client, teacher, other_teacher):
    from tests.factories import UserFactory

    chosen = _exam_with_files(teacher, title="Choisie", copies=1)
    other = _exam_with_files(other_teacher, title="Autre", copies=1)
    chosen_names, other_names = _stored_names(chosen), _stored_names(other)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:grading_exam_changelist"),
        {"action": "purge_student_files", "_selected_action": [chosen.pk]},
        follow=True,
    )

    assert "Fichiers des élèves supprimés pour 1 correction." in response.text
    assert not any(default_storage.exists(name) for name in chosen_names)
    assert all(default_storage.exists(name) for name in other_names)
    assert Exam.objects.get(pk=chosen.pk).files_purged_at is not None
    assert Grade.objects.filter(copy__exam=chosen).count() == 1
    listing = client.get(reverse("admin:grading_exam_changelist"), {"files_purged_at__isempty": "0"}).text
    assert "Choisie" in listing and "Autre" not in listing
