"""Exports built by a worker (issue 14, item 5): the annotated PDFs' zip always, the tables of a
class above CORRIGO_EXPORT_SYNC_MAX_COPIES; progress, a download for the exam's owner only,
expiry in beat. Classes are scanned as one PDF, split into copies, graded by the engine
against the scripted server (its demo answers), as in production."""

from __future__ import annotations

import io
import os
import re
import signal
import zipfile
from datetime import timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grading import exports, selectors, services
from grading.engine import render, sandbox
from grading.exports import sources
from grading.models import Copy, ExportFile, SourceFile
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env
from tests.support.counts import COPIES, agreed
from tests.support.deadlines import wait_until
from tests.support.pdfs import text_pdf
from tests.support.servers import celery_worker_start

pytestmark = pytest.mark.usefixtures("french")

PAGES = 2


def _class(teacher, count: int, *, title: str = "Brevet blanc"):
    """`count` copies of PAGES pages cut from one class PDF, their pages rendered."""
    exam = exam_with_bareme(owner=teacher, questions=2, title=title)
    texts = [f"Nom : Élève {n // PAGES + 1}   page {n % PAGES + 1}" for n in range(count * PAGES)]
    source = SourceFile.objects.create(exam=exam, original_name="classe.pdf", page_count=len(texts))
    source.file.save("classe.pdf", ContentFile(text_pdf(texts)), save=True)
    for number in range(count):
        copy = copy_with_pages(exam, pages=PAGES, label=f"Élève {number + 1}", text=f"copie {number + 1}")
        copy.source, copy.first_page, copy.last_page = source, number * PAGES + 1, (number + 1) * PAGES
        copy.save()
    return exam


def _graded(exam, teacher):
    """Graded through the engine as the copy task does (the scripted server's demo answers)."""
    job = services.job_start(exam=exam, user=teacher)
    for copy in exam.copies.all():
        services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    return exam


def _zip_names(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_zip_and_only_the_exams_owner_downloads_it(
    client, teacher, other_teacher, llm_server, tmp_path, settings
):
    exam = _class(teacher, 3)
    worker = celery_worker_start(tmp_path, name="exports", concurrency=2, **roles_env(llm_server))
    try:
        client.force_login(teacher)
        assert client.post(reverse("exam_start", args=[exam.pk])).status_code == 302
        wait_until(
            lambda: set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE},
            base=60,
            what=f"the copies graded\n{worker.log()[-3000:]}",
        )
        # The review page's zip button leads to the exports page, which asks a worker for it.
        asked = client.get(reverse("exam_export", args=[exam.pk, "zip"]))
        assert asked.url == reverse("exam_exports", args=[exam.pk]) + "?fmt=zip"
        started = client.post(reverse("exam_export_start", args=[exam.pk]), {"fmt": "zip"})
        export = ExportFile.objects.get(exam=exam)
        assert started.url == reverse("exam_exports", args=[exam.pk]) + f"#export-{export.pk}"
        wait_until(
            lambda: ExportFile.objects.get(pk=export.pk).finished,
            base=60,
            what=f"the zip built\n{worker.log()[-3000:]}",
        )
    finally:
        worker.stop()

    export.refresh_from_db()
    assert export.status == ExportFile.Status.DONE, export.failure_reason
    # Written to storage (MEDIA_ROOT here, S3 in tests/ops/test_scale_out.py) under a random name.
    stored = Path(settings.MEDIA_ROOT) / export.file.name
    assert stored.is_file() and export.file.name.startswith("exports/")
    assert stored.stat().st_size == export.size_bytes

    page = client.get(reverse("exam_exports", args=[exam.pk])).content.decode()
    download_url = reverse("export_download", args=[export.pk])
    assert download_url in page
    # Ready: the line stops polling.
    line = client.get(reverse("export_status", args=[export.pk]), headers={"HX-Request": "true"}).content.decode()
    assert download_url in line and "hx-trigger" not in line

    response = client.get(download_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="brevet-blanc.zip"' in response["Content-Disposition"]
    files = _zip_names(_body(response))
    assert sorted(name.rsplit("-", 1)[0] for name in files) == ["eleve-1", "eleve-2", "eleve-3"]
    for name, pdf in files.items():
        document = pdfium.PdfDocument(pdf)
        # The summary page, then the copy's own two pages of the class PDF.
        assert len(document) == 1 + PAGES
        number = name.split("-")[1]
        assert f"Élève {number}" in document[1].get_textpage().get_text_bounded()

    client.force_login(other_teacher)
    for url in (download_url, reverse("export_status", args=[export.pk]), reverse("exam_exports", args=[exam.pk])):
        assert client.get(url).status_code == 404
    client.logout()
    assert client.get(download_url).url.startswith(reverse("account_login"))


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", [choice for choice, _label in ExportFile.Format.choices])
def test_an_exports_queries_do_not_grow_with_the_class(fmt, teacher, llm_server):
    counts = []
    for size in (2, 5):
        exam = _graded(_class(teacher, size, title=f"Classe de {size}"), teacher)
        export = services.export_start(exam=exam, user=teacher, fmt=fmt)
        with CaptureQueriesContext(connection) as queries:
            services.export_build(export=export)
        assert export.status == ExportFile.Status.DONE, export.failure_reason
        counts.append(len(queries))
        if fmt == ExportFile.Format.ZIP:
            with export.file.open("rb") as handle:
                assert len(_zip_names(handle.read())) == size
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_the_zip_reports_its_progress_copy_by_copy(owner_client, teacher, llm_server, monkeypatch):
    exam = _graded(_class(teacher, 3), teacher)
    export = services.export_start(exam=exam, user=teacher, fmt="zip")
    url = reverse("export_status", args=[export.pk])
    waiting = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in waiting and "En préparation" in waiting

    seen = []
    original = services.exports.export_progress_set

    def line(language: str) -> str:
        teacher.language = language
        teacher.save(update_fields=["language"])
        return owner_client.get(url, headers={"HX-Request": "true"}).content.decode()

    def spy(*, export_id, done, total):
        original(export_id=export_id, done=done, total=total)
        french, english = line("fr"), line("en")
        said = f"{done} {agreed(done, 'fr', COPIES)} sur {total}" in french and f"copies: {done} of {total}" in english
        seen.append((done, total, said and 'hx-trigger="every 2s"' in french))

    monkeypatch.setattr("grading.services.exports.export_progress_set", spy)
    services.export_build(export=export)
    assert seen == [(1, 3, True), (2, 3, True), (3, 3, True)]  # « 1 copie sur 3 », « 2 copies sur 3 »


@pytest.mark.django_db
def test_tables_stay_in_the_request_up_to_the_line_and_go_to_a_worker_above(owner_client, teacher, settings):
    exam = exam_with_bareme(owner=teacher, questions=1)
    for _ in range(3):
        copy_with_pages(exam, pages=1)
    settings.CORRIGO_EXPORT_SYNC_MAX_COPIES = 3
    assert owner_client.get(reverse("exam_export", args=[exam.pk, "csv"]))["Content-Type"].startswith("text/csv")
    pronote = owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "xlsx"]))
    assert pronote.status_code == 200 and "attachment" in pronote["Content-Disposition"]
    settings.CORRIGO_EXPORT_SYNC_MAX_COPIES = 2
    assert owner_client.get(reverse("exam_export", args=[exam.pk, "csv"])).url == (
        reverse("exam_exports", args=[exam.pk]) + "?fmt=csv"
    )
    assert owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "xlsx"]) + "?scale=bareme").url == (
        reverse("exam_exports", args=[exam.pk]) + "?fmt=pronote-xlsx&scale=bareme"
    )
    # Whatever the size, the zip goes to a worker.
    settings.CORRIGO_EXPORT_SYNC_MAX_COPIES = 100
    assert owner_client.get(reverse("exam_export", args=[exam.pk, "zip"])).status_code == 302


@pytest.mark.django_db
def test_an_export_is_downloadable_until_it_expires_then_beat_deletes_it(owner_client, teacher, llm_server):
    exam = _graded(_class(teacher, 1), teacher)
    export = services.export_start(exam=exam, user=teacher, fmt="csv")
    services.export_build(export=export)
    path = Path(export.file.path)
    assert path.is_file()
    assert owner_client.get(reverse("export_download", args=[export.pk])).status_code == 200

    at = export.expires_at
    just_before = at - timedelta(microseconds=1)
    assert selectors.export_get(user=teacher, pk=export.pk, now=just_before) == export
    with pytest.raises(Http404):
        selectors.export_get(user=teacher, pk=export.pk, now=at)
    assert services.exports_expire(now=just_before) == 0
    assert path.is_file()
    assert services.exports_expire(now=at) == 1
    assert not path.exists() and not ExportFile.objects.filter(pk=export.pk).exists()

    # Past its time and not yet deleted by beat: no longer served.
    late = services.export_start(exam=exam, user=teacher, fmt="csv")
    services.export_build(export=late)
    ExportFile.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert owner_client.get(reverse("export_download", args=[late.pk])).status_code == 404


@pytest.mark.django_db
def test_an_export_whose_worker_was_lost_fails_after_two_hours(teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    export = services.export_start(exam=exam, user=teacher, fmt="csv")
    created = ExportFile.objects.get(pk=export.pk).created_at
    services.exports_expire(now=created + timedelta(hours=2) - timedelta(microseconds=1))
    assert ExportFile.objects.get(pk=export.pk).status == ExportFile.Status.PENDING
    services.exports_expire(now=created + timedelta(hours=2))
    assert ExportFile.objects.get(pk=export.pk).status == ExportFile.Status.FAILED
    # A late delivery of its task finds it taken and builds nothing.
    assert services.export_build(export=ExportFile.objects.get(pk=export.pk)).status == ExportFile.Status.FAILED
    assert not ExportFile.objects.get(pk=export.pk).file


@pytest.mark.django_db
def test_a_pending_export_has_no_download_and_a_purge_takes_the_zips(owner_client, teacher, llm_server):
    exam = _graded(_class(teacher, 1), teacher)
    pending = services.export_start(exam=exam, user=teacher, fmt="zip")
    assert owner_client.get(reverse("export_download", args=[pending.pk])).status_code == 404
    services.export_build(export=pending)
    table = services.export_start(exam=exam, user=teacher, fmt="json")
    services.export_build(export=table)
    zip_path = Path(ExportFile.objects.get(pk=pending.pk).file.path)
    assert zip_path.is_file()

    services.exam_files_purge(exam=exam, reason="test")
    # The zip holds the copies' pages: it goes with them; the grades' tables stay.
    assert not zip_path.exists() and not ExportFile.objects.filter(pk=pending.pk).exists()
    assert owner_client.get(reverse("export_download", args=[table.pk])).status_code == 200
    refused = owner_client.post(reverse("exam_export_start", args=[exam.pk]), {"fmt": "zip"}, follow=True)
    assert "les PDF annotés ne sont plus disponibles" in refused.content.decode()
    assert not ExportFile.objects.filter(exam=exam, fmt="zip").exists()


def _texts(pdf: bytes) -> list[str]:
    return [page.get_textpage().get_text_bounded() for page in pdfium.PdfDocument(pdf)]


def _zip_built(exam, teacher) -> dict[str, bytes]:
    export = services.export_start(exam=exam, user=teacher, fmt="zip")
    services.export_build(export=export)
    assert export.status == ExportFile.Status.DONE, export.failure_reason
    with export.file.open("rb") as handle:
        return _zip_names(handle.read())


def _scanned_pages(texts: list[str]) -> list[tuple[int, int]]:
    """(student, page) of the class PDF's text on each page after the summary: its own pages,
    not their images (which have no text layer)."""
    found = [re.search(r"Nom : Élève (\d+) +page (\d+)", text) for text in texts[1:]]
    return [(int(match[1]), int(match[2])) if match else (0, 0) for match in found]


def _sandbox_ops(monkeypatch) -> list[tuple[str, int]]:
    """The sandbox children started from now on: (operation, items)."""
    started: list[tuple[str, int]] = []
    run = render.sandbox_run

    def counted(op, **request):
        started.append((op, len(request.get("items", []))))
        return run(op, **request)

    monkeypatch.setattr(render, "sandbox_run", counted)
    return started


@pytest.mark.django_db
@pytest.mark.mutation  # the batches' rule (sources.py): run by `make mutation` though it grades
def test_a_class_pdf_is_merged_a_batch_at_a_time_each_copy_with_its_own_pages(teacher, llm_server, monkeypatch):
    exam = _graded(_class(teacher, 5), teacher)
    monkeypatch.setattr(sources, "OVERLAY_BATCH_PAGES", 2 * PAGES)  # two copies a child
    started = _sandbox_ops(monkeypatch)
    files = _zip_built(exam, teacher)

    # The file's geometry read once, its pages merged by three children (2 + 2 + 1 copies).
    assert started == [("geometry", 0), ("overlays", 2), ("overlays", 2), ("overlays", 1)]
    assert len(files) == 5
    for copy in exam.copies.all():
        texts = _texts(files[exports.copy_annotated_filename(copy)])
        number = copy.first_page // PAGES + 1
        assert copy.student_label in texts[0]
        assert _scanned_pages(texts) == [(number, 1), (number, 2)]
        # The same pages and notes as the copy's own download, merged alone.
        assert texts == _texts(exports.copy_annotated_pdf(copy=copy))


@pytest.mark.django_db
@pytest.mark.mutation  # the geometry kept (sources.py)
def test_a_class_pdfs_geometry_is_read_for_its_first_copys_download_only(teacher, llm_server, monkeypatch):
    exam = _graded(_class(teacher, 3), teacher)
    started = _sandbox_ops(monkeypatch)

    for copy in exam.copies.order_by("first_page"):
        number = copy.first_page // PAGES + 1
        assert _scanned_pages(_texts(exports.copy_annotated_pdf(copy=copy))) == [(number, 1), (number, 2)]

    # The first download read the whole file's geometry; the next ones found it kept.
    assert started == [("geometry", 0), ("overlays", 1), ("overlays", 1), ("overlays", 1)]


@pytest.mark.django_db
@pytest.mark.mutation  # the geometry kept (sources.py)
def test_a_download_without_the_cache_reads_its_geometry_and_still_has_its_pages(
    teacher, llm_server, monkeypatch, caplog
):
    from redis.exceptions import RedisError

    exam = _graded(_class(teacher, 2), teacher)
    started = _sandbox_ops(monkeypatch)

    def unreachable(*args, **kwargs):
        raise RedisError("Connection refused")

    monkeypatch.setattr("django.core.cache.backends.redis.RedisCache.get", unreachable)
    for copy in exam.copies.order_by("first_page"):
        number = copy.first_page // PAGES + 1
        assert _scanned_pages(_texts(exports.copy_annotated_pdf(copy=copy))) == [(number, 1), (number, 2)]

    assert started == [("geometry", 0), ("overlays", 1), ("geometry", 0), ("overlays", 1)]
    assert "PDF geometry cache unavailable" in caplog.text


@pytest.mark.django_db
@pytest.mark.mutation
def test_a_child_killed_in_the_middle_of_a_batch_leaves_the_rest_merged_one_by_one(
    teacher, llm_server, monkeypatch, caplog
):
    exam = _graded(_class(teacher, 4), teacher)
    frames = sandbox._Child.frames
    killed: list[int] = []

    def killed_after_the_first_copy(self):
        for header, payload in frames(self):
            yield header, payload
            if "bytes" in header and not killed:  # one copy merged, then the child dies (a crash, the OOM killer)
                killed.append(self.process.pid)
                os.kill(self.process.pid, signal.SIGKILL)

    monkeypatch.setattr(sandbox._Child, "frames", killed_after_the_first_copy)
    files = _zip_built(exam, teacher)

    assert len(killed) == 1
    assert "annotated PDFs: 1 of 4 merged, the rest one by one" in caplog.text
    for copy in exam.copies.all():
        # Every copy still has its scanned pages, none fell back to its page images.
        number = copy.first_page // PAGES + 1
        texts = _texts(files[exports.copy_annotated_filename(copy)])
        assert _scanned_pages(texts) == [(number, 1), (number, 2)]
