"""What a Celery worker loads before its first task: the exports' libraries (openpyxl, pypdf,
reportlab) and daphne's Twisted load only where they are used, so a grading process stays about
60 MB lighter (`make bench` prints the export worker's memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grading import exports

HEAVY = ("openpyxl", "pypdf", "reportlab", "twisted", "daphne", "litellm")

WORKER_START = """
import json, sys
import django
django.setup()
from config.celery import app
app.loader.import_default_modules()
import grading.tasks
print(json.dumps(sorted(name for name in {heavy} if name in sys.modules)))
"""


def _loaded_after(script: str, settings_module: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
    completed = subprocess.run(
        [sys.executable, "-c", script.format(heavy=HEAVY)], env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("settings_module", ["config.settings.dev", "config.settings.test"])
def test_a_worker_starts_without_the_exports_libraries_daphne_or_litellm(settings_module):
    assert _loaded_after(WORKER_START, settings_module) == []


def test_the_annotated_pdfs_load_their_libraries_when_they_are_asked_for():
    script = WORKER_START.replace(
        "import grading.tasks", "from grading import exports\nexports.exam_annotated_zip_write"
    )
    assert _loaded_after(script, "config.settings.test") == ["pypdf", "reportlab"]


def test_every_exported_name_resolves_to_its_module():
    assert sorted(exports.__all__) == sorted(exports._MODULES)  # one list of names, kept in step
    for name in exports.__all__:
        value = getattr(exports, name)
        assert value is not None
        if callable(value):
            assert value.__module__.startswith("grading.exports."), name
    assert exports.PRONOTE_SCALES is exports.pronote.SCALES
    with pytest.raises(AttributeError):
        exports.no_such_export  # noqa: B018


def test_the_render_queue_takes_no_task_that_asks_a_model():
    """The render process loads what exports need, never litellm (≈ 200 MB): the tasks that ask
    a model (names read, proposals) go to the grading processes, files and exports to it."""
    from django.conf import settings

    from config.celery import app

    def queue(name: str) -> str:
        route = app.amqp.router.route({}, name)
        return route["queue"].name

    render, grading = settings.CORRIGO_RENDER_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE
    assert {
        name: queue(name)
        for name in (
            "grading.tasks.copy_pages_render_task",
            "grading.tasks.source_thumbnails_render_task",
            "grading.tasks.subject_pages_render_task",
            "grading.tasks.export_build_task",
            "grading.tasks.copy_name_read_task",
            "grading.proposal_run",
            "grading.tasks.copy_grade_task",
        )
    } == {
        "grading.tasks.copy_pages_render_task": render,
        "grading.tasks.source_thumbnails_render_task": render,
        "grading.tasks.subject_pages_render_task": render,
        "grading.tasks.export_build_task": render,
        "grading.tasks.copy_name_read_task": grading,
        "grading.proposal_run": grading,
        "grading.tasks.copy_grade_task": grading,
    }


def test_a_grading_worker_imports_litellm_as_soon_as_it_is_ready_and_the_render_worker_never(monkeypatch):
    from types import SimpleNamespace

    from django.conf import settings
    from kombu import Queue

    from grading import receivers

    warmed = []
    monkeypatch.setattr(receivers, "llm_warm", lambda: warmed.append(True))

    def ready(*names: str) -> None:
        receivers.on_worker_ready(
            sender=SimpleNamespace(task_consumer=SimpleNamespace(queues=[Queue(n) for n in names]))
        )

    ready(settings.CORRIGO_RENDER_QUEUE)
    assert warmed == []
    ready(settings.CELERY_TASK_DEFAULT_QUEUE)
    assert warmed == [True]
    ready(settings.CELERY_TASK_DEFAULT_QUEUE, settings.CORRIGO_RENDER_QUEUE)  # a worker started by hand
    assert warmed == [True, True]


def test_warming_imports_litellm_on_its_own_thread():
    from grading.engine.llm import _litellm, llm_warm

    thread = llm_warm()
    assert thread.daemon and thread.name == "litellm-warm"
    thread.join(timeout=300)
    assert _litellm.cache_info().currsize == 1
