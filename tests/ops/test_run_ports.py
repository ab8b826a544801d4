"""`make run` (scripts/run.py) with a port already taken stops before starting anything,
naming the port and the variable that moves it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.deadlines import scaled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _run(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CORRIGO_") and k != "REDIS_URL"}
    return subprocess.run(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env={**clean, "HOST": "127.0.0.1", **env},
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_busy_web_port_is_named_with_the_variable_that_changes_it(busy_port):
    result = _run(PORT=str(busy_port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Port {busy_port} (the web server) is already in use" in lines[0]
    assert "PORT=" in lines[0] and "make run" in lines[0]
    assert result.stdout == ""  # nothing was started


def test_a_busy_demo_server_port_is_named_with_the_variable_that_changes_it(busy_port):
    result = _run(PORT=str(_free_port()), DEMO_LLM_PORT=str(busy_port))
    assert result.returncode == 1
    assert f"Port {busy_port} (the demo LLM server) is already in use" in result.stderr
    assert "DEMO_LLM_PORT=" in result.stderr
