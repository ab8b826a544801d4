"""Fixtures shared with the grading tests: the scripted LLM server, every role pointed at it."""

from tests.grading.conftest import _llm_server_process, llm_server  # noqa: F401
