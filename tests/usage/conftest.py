from __future__ import annotations

import itertools

import pytest

from grading.models import Exam
from usage.services import usage_record

_keys = itertools.count()


@pytest.fixture
def exam_of():
    def make(owner, title="Contrôle de fractions"):
        return Exam.objects.create(owner=owner, title=title)

    return make


@pytest.fixture
def spend():
    """Records one LLM call of `tokens` tokens (prompt + completion) for `user`."""

    def record(user, tokens, *, completion=0, cached=0, phase="grading", exam=None, reservation_key=None, **extra):
        return usage_record(
            user=user,
            phase=phase,
            model=extra.pop("model", "gpt-4o-mini"),
            prompt_tokens=tokens - completion,
            completion_tokens=completion,
            cached_read_tokens=cached,
            idempotency_key=extra.pop("key", f"call-{next(_keys)}"),
            exam=exam,
            reservation_key=reservation_key,
            **extra,
        )

    return record
