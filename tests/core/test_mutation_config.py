"""`make mutation` copies the project into mutmut's `mutants/` directory: every app Django
loads must be copied, or every run stops at django.setup() (it did when schools and public
were added after [tool.mutmut] was written)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_app_of_the_project_is_copied_for_mutation_testing():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    copied = {path.rstrip("/") for path in config["source_paths"] + config["also_copy"]}
    ours = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}

    assert ours - copied == set()
    assert {"config", "templates", "locale", "static"} <= copied
