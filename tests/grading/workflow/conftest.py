from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    # Each test stores its files in its own folder, so "nothing left behind" is checkable.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def media_files(_media_root):
    def files() -> list:
        return sorted(p for p in _media_root.rglob("*") if p.is_file()) if _media_root.exists() else []

    return files
