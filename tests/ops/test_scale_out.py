"""Scale-out: web and workers are separate processes that share only PostgreSQL, Redis and
S3-compatible storage (moto's server mode, a real S3 HTTP server). No disk is shared: each
process gets its own empty MEDIA_ROOT, which must stay empty.

The web side is this test process (Django's test client, S3 settings on); workers are real
Celery processes whose S3 settings come from their environment, as in production.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading import services
from grading.models import Copy, ExportFile, GradingJob, ModelAnswer, Page, SourceFile
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env, roles_settings
from tests.grading.workflow.pdfs import pdf_bytes
from tests.support.deadlines import wait_until
from tests.support.llm_server import LLMServer
from tests.support.servers import celery_worker_start, moto_s3_start, s3_settings_env
from usage.models import UsageRecord

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def s3(tmp_path):
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
    server.extra.update(bucket=bucket, client=client, env=s3_settings_env(server, bucket))
    yield server
    server.stop()


def _keys(s3) -> list[str]:
    return [o["Key"] for o in s3.extra["client"].list_objects_v2(Bucket=s3.extra["bucket"]).get("Contents", [])]


@pytest.fixture
def llm(settings):
    server = LLMServer(latency=0.3).start()
    settings.CORRIGO_DEMO_MODE = False
    settings.CORRIGO_LLM = roles_settings(server)
    yield server
    server.stop()


@pytest.fixture
def web_on_s3(settings, s3, tmp_path):
    """This process as the web role: files through S3, an empty local MEDIA_ROOT."""
    env = s3.extra["env"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env["AWS_STORAGE_BUCKET_NAME"],
                "endpoint_url": env["AWS_S3_ENDPOINT_URL"],
                "region_name": env["AWS_S3_REGION_NAME"],
                "access_key": env["AWS_ACCESS_KEY_ID"],
                "secret_key": env["AWS_SECRET_ACCESS_KEY"],
                "addressing_style": "path",
                "file_overwrite": False,
            },
        },
    }
    settings.MEDIA_ROOT = str(tmp_path / "web-media")
    return tmp_path / "web-media"


def _workers(tmp_path, s3, llm, names: list[str]):
    services = []
    for name in names:
        media = tmp_path / f"{name}-media"
        env = {**s3.extra["env"], **roles_env(llm), "MEDIA_ROOT": str(media)}
        services.append(celery_worker_start(tmp_path, name=name, concurrency=1, **env))
    return services


def _wait(predicate, *, what: str = "") -> None:
    wait_until(predicate, base=90, what=what)


def _graded_by(worker) -> int:
    return len(set(re.findall(r"copy_grade_task\[([0-9a-f-]+)\] succeeded", worker.log())))


def _no_local_files(*roots) -> list[str]:
    return [str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_one_grading_job_is_shared_by_two_worker_processes_and_each_copy_is_graded_once(
    llm, s3, web_on_s3, teacher, tmp_path
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copies = [copy_with_pages(exam, pages=1) for _ in range(8)]
    first, second = _workers(tmp_path, s3, llm, ["first", "second"])
    try:
        job = services.job_start(exam=exam, user=teacher)
        _wait(
            lambda: GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED,
            what=f"the job to finish\n{first.log()[-3000:]}\n{second.log()[-3000:]}",
        )
    finally:
        first.stop()
        second.stop()

    # Both workers took copies, and together exactly one task per copy.
    assert _graded_by(first) >= 1 and _graded_by(second) >= 1, (_graded_by(first), _graded_by(second))
    assert _graded_by(first) + _graded_by(second) == len(copies)
    # Every copy graded once: one grading answer, one ledger row, one call to the model.
    for copy in copies:
        assert Copy.objects.get(pk=copy.pk).status == Copy.Status.DONE
        assert ModelAnswer.objects.filter(copy=copy, phase=ModelAnswer.Phase.GRADING).count() == 1
        assert UsageRecord.objects.filter(copy=copy).count() == 1
    assert len(llm.requests) == len(copies)
    # The workers read the page images from S3: no process wrote to its local disk.
    assert {p.image.name for p in Page.objects.filter(copy__exam=exam)} <= set(_keys(s3))
    assert _no_local_files(web_on_s3, tmp_path / "first-media", tmp_path / "second-media") == []


def test_upload_render_grade_download_and_export_go_through_s3(llm, s3, web_on_s3, teacher, client, tmp_path):
    client.force_login(teacher)
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    scans = {"lea.pdf": pdf_bytes(2), "tom.pdf": pdf_bytes(1)}
    (worker,) = _workers(tmp_path, s3, llm, ["solo"])
    try:
        uploaded = client.post(
            reverse("copies_upload", args=[exam.pk]),
            {"files": [SimpleUploadedFile(name, data, content_type="application/pdf") for name, data in scans.items()]},
        )
        assert uploaded.status_code == 302
        # The worker renders the pages from the PDFs it downloads from S3.
        _wait(lambda: Page.objects.filter(copy__exam=exam).count() == 3, what=f"pages\n{worker.log()[-3000:]}")
        started = client.post(reverse("exam_start", args=[exam.pk]))
        assert started.status_code == 302
        job = GradingJob.objects.get(exam=exam)
        _wait(
            lambda: GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED,
            what=f"the job\n{worker.log()[-3000:]}",
        )
        # The annotated PDFs' zip is built by the worker, from the scans it reads from S3, and
        # stored back there.
        assert client.post(reverse("exam_export_start", args=[exam.pk]), {"fmt": "zip"}).status_code == 302
        export = ExportFile.objects.get(exam=exam)
        _wait(lambda: ExportFile.objects.get(pk=export.pk).finished, what=f"the zip\n{worker.log()[-3000:]}")
    finally:
        worker.stop()

    assert set(Copy.objects.filter(exam=exam).values_list("status", flat=True)) == {Copy.Status.DONE}
    keys = set(_keys(s3))
    sources = list(SourceFile.objects.filter(exam=exam))
    pages = list(Page.objects.filter(copy__exam=exam))
    assert {s.file.name for s in sources} | {p.image.name for p in pages} <= keys

    # Downloads come back from S3 through the owner-checked views.
    for source in sources:
        response = client.get(reverse("source_file", args=[source.pk]))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) in scans.values()
    page = pages[0]
    image = client.get(reverse("page_image", args=[page.copy_id, page.index]))
    assert image.status_code == 200
    body = b"".join(image.streaming_content) if image.streaming else image.content
    assert body[:3] == b"\xff\xd8\xff"  # a JPEG rendered by the worker

    # Tables are built on request from the grades.
    students = list(Copy.objects.filter(exam=exam).values_list("student_label", flat=True))
    csv_export = client.get(reverse("exam_export", args=[exam.pk, "csv"]))
    assert csv_export.status_code == 200
    assert all(student in csv_export.content.decode("utf-8-sig") for student in students)
    export.refresh_from_db()
    assert export.status == ExportFile.Status.DONE, export.failure_reason
    assert export.file.name in _keys(s3)
    zip_export = client.get(reverse("export_download", args=[export.pk]))
    assert zip_export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(zip_export.streaming_content))) as archive:
        pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
        assert len(pdfs) == len(scans)
        assert all(archive.read(name).startswith(b"%PDF") for name in pdfs)
    assert _no_local_files(web_on_s3, tmp_path / "solo-media") == []
