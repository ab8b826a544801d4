"""The grading engine: the LLM gateway and everything a copy goes through.

- `config`: which model plays which role (detection, grader A, grader B), from settings.
- `llm`: the only module that talks to litellm (imported lazily: it costs seconds).
- `render`: PDF pages to JPEG, one page at a time.
- `prompts`: the static prefix (identical for every copy of an exam) + the copy.
- `schema`: the structured answers (pydantic) and their normalisation.
- `grader`: single and double correction of one copy, verification round included.
- `detection`: barème extraction and class-PDF split proposals, on the detection model.
"""

from __future__ import annotations

from .errors import EngineError, InvalidAnswer, ModelMisconfigured, PermanentLLMError, TransientLLMError

__all__ = [
    "EngineError",
    "InvalidAnswer",
    "ModelMisconfigured",
    "PermanentLLMError",
    "TransientLLMError",
    "bareme_extract",
    "split_propose",
]


def __getattr__(name: str):
    # Re-exported lazily: grading.engine is imported by models-level code that must stay light.
    if name in ("bareme_extract", "split_propose"):
        from . import detection

        return getattr(detection, name)
    raise AttributeError(name)
