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

    warmed, offered = [], []
    monkeypatch.setattr(receivers, "llm_warm", lambda: warmed.append(True))
    # A grading worker offers its room to the others (services.passing_on) under its node name.
    monkeypatch.setattr(receivers.process_room, "beat", lambda *, node: offered.append(node))

    def ready(*names: str) -> None:
        receivers.on_worker_ready(
            sender=SimpleNamespace(
                hostname=f"w{len(warmed)}@host", task_consumer=SimpleNamespace(queues=[Queue(n) for n in names])
            )
        )

    ready(settings.CORRIGO_RENDER_QUEUE)
    assert (warmed, offered) == ([], [])
    ready(settings.CELERY_TASK_DEFAULT_QUEUE)
    assert (warmed, offered) == ([True], ["w0@host"])
    ready(settings.CELERY_TASK_DEFAULT_QUEUE, settings.CORRIGO_RENDER_QUEUE)  # a worker started by hand
    assert (warmed, offered) == ([True, True], ["w0@host", "w1@host"])


WARMED = """
import gc, json, os
import django
django.setup()
from grading.engine.config import RoleConfig
from grading.engine.llm import _litellm, llm_complete
from grading.engine.warmup import llm_warm
thread = llm_warm()
assert not thread.daemon and thread.name == "litellm-warm"  # joined before the interpreter finalizes
thread.join(timeout=300)
frozen = gc.get_freeze_count()
import litellm
model_table_collected = any(obj is litellm.model_cost for obj in gc.get_objects(generation=2))
config = RoleConfig(role="grader_a", model="gpt-4o", api_base=os.environ["LLM_URL"], api_key="sk-test")
llm_complete(config=config, messages=[{{"role": "user", "content": "Bonjour"}}])
print(json.dumps([_litellm.cache_info().currsize, frozen, model_table_collected, len(gc.get_objects())]))
"""


def test_warming_imports_litellm_on_its_own_thread_and_leaves_what_the_process_holds_out_of_the_collector():
    """A full garbage collection walked every object the worker holds (litellm's model tables,
    pydantic's schemas: ~500 000) while the process's threads waited, 0.4-1.2 s in the middle of a
    class. After the warm-up they are frozen, and so is what the first call loads (the HTTP stack):
    the first real call leaves a few thousand objects to the collector, not 30 000. In a process of
    its own (this one's heap is the test run's)."""
    from tests.support.llm_server import LLMServer

    server = LLMServer().start()
    try:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "LLM_URL": server.url}
        completed = subprocess.run(
            [sys.executable, "-c", WARMED.format()], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        server.stop()
    assert completed.returncode == 0, completed.stderr
    imported, frozen, model_table_collected, tracked = json.loads(completed.stdout.strip().splitlines()[-1])
    assert imported == 1
    assert frozen > 100_000
    assert not model_table_collected
    assert tracked < 15_000
