"""The gateway turns litellm's errors, and only them, into the application's: a provider's
failure (over real HTTP, from the scripted server) becomes a TransientLLMError to retry or a
PermanentLLMError that says why; a bug in the caller is not dressed up as a provider's refusal."""

from __future__ import annotations

import pytest

from grading.engine.config import role_config
from grading.engine.errors import EngineError, PermanentLLMError, TransientLLMError
from grading.engine.llm import llm_complete

MESSAGES = [{"role": "user", "content": "Bonjour"}]


@pytest.mark.parametrize("fault", ["500", "timeout"])  # a 429 waits for its Retry-After: test_rate_limits
def test_a_provider_that_cannot_answer_now_is_a_transient_error_asked_once(llm_server, fault):
    llm_server.script(fault=fault)
    with pytest.raises(TransientLLMError) as raised:
        llm_complete(config=role_config("grader_a"), messages=MESSAGES)
    assert raised.value.__cause__ is not None  # the provider's error stays in the log's traceback
    assert len(llm_server.requests) == 1  # litellm's own retries are off: the task owns retrying


@pytest.mark.usefixtures("french")
def test_a_refused_request_is_a_permanent_error_with_the_providers_reason(llm_server):
    llm_server.script(fault="400")
    with pytest.raises(PermanentLLMError) as raised:
        llm_complete(config=role_config("grader_a"), messages=MESSAGES)
    assert "Le modèle a refusé la requête" in raised.value.message
    assert "Invalid request: unsupported parameter." in raised.value.message
    assert len(llm_server.requests) == 1


def test_a_bug_in_the_call_reaches_the_caller_as_itself(llm_server):
    # Messages of the wrong type: litellm fails before sending anything, with Python's own error.
    with pytest.raises(Exception) as raised:
        llm_complete(config=role_config("grader_a"), messages="Bonjour")  # type: ignore[arg-type]
    assert not isinstance(raised.value, EngineError)
    assert llm_server.requests == []


def test_an_answer_after_a_failure_is_returned(llm_server):
    llm_server.script(fault="500")
    llm_server.script('{"ok": true}')
    with pytest.raises(TransientLLMError):
        llm_complete(config=role_config("grader_a"), messages=MESSAGES)
    result = llm_complete(config=role_config("grader_a"), messages=MESSAGES)
    assert result.content == '{"ok": true}'
    assert result.prompt_tokens == llm_server.requests[1].usage["prompt_tokens"]
