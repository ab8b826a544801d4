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
    for name in exports.__all__:
        value = getattr(exports, name)
        assert value is not None
        if callable(value):
            assert value.__module__.startswith("grading.exports."), name
    assert exports.PRONOTE_SCALES is exports.pronote.SCALES
    with pytest.raises(AttributeError):
        exports.no_such_export  # noqa: B018
