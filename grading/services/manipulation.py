"""Whether a copy tried to manipulate its grader, and what it wrote to do so."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from core.i18n import translatable

from ..engine.grader import CopyOutcome
from ..engine.injection import injection_find
from ..engine.schema import CopyGrades
from ..models import Copy


def copy_manipulation(*, copy: Copy, outcome: CopyOutcome, answers: list[CopyGrades]) -> tuple[bool, str]:
    """(flag, reason): the models' own flag, or — whatever the models said, since a model that
    obeys the copy also keeps quiet about it — instruction-like text addressed to the grader
    found locally in the copy's text layer or in what any model read on its pages.

    `answers`: every usable answer of the copy's attempt, in the order they were stored (the
    copy's run replayed or stored each of them: services.copy_grading)."""
    texts = [page.text for page in copy.pages.all()]  # in index order (prefetched for grading)
    for grades in answers:
        texts += [question.reading for question in grades.questions]
    texts += [item.reading for item in outcome.questions]
    quote = injection_find(texts)
    said = outcome.manipulation_reason if outcome.manipulation else ""  # the model's words, kept as they are
    reason: str = said
    if quote:
        # Kept as its source (core.i18n): read in the language of whoever reads the copy.
        reason = translatable(gettext_noop("Texte adressé au correcteur : « %(quote)s »"), quote=quote)
        if said:
            reason = translatable(gettext_noop("%(found)s — %(said)s"), found=reason, said=said)
    return bool(quote) or outcome.manipulation, reason
