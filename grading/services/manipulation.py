"""Whether a copy tried to manipulate its grader, and what it wrote to do so."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..engine.grader import CopyOutcome
from ..engine.injection import injection_find
from ..models import Copy, ModelAnswer


def copy_manipulation(*, copy: Copy, outcome: CopyOutcome) -> tuple[bool, str]:
    """(flag, reason): the models' own flag, or — whatever the models said, since a model that
    obeys the copy also keeps quiet about it — instruction-like text addressed to the grader
    found locally in the copy's text layer or in what any model read on its pages."""
    texts = [page.text for page in copy.pages.all()]  # in index order (prefetched for grading)
    answers = ModelAnswer.objects.filter(copy=copy, attempt=copy.attempt, parsed__isnull=False)
    for answer in answers.order_by("id"):
        grades = answer.get_grades()
        if grades is not None:
            texts += [question.reading for question in grades.questions]
    texts += [item.reading for item in outcome.questions]
    quote = injection_find(texts)
    reasons = []
    if quote:
        reasons.append(_("Texte adressé au correcteur : « %(quote)s »") % {"quote": quote})
    if outcome.manipulation and outcome.manipulation_reason:
        reasons.append(outcome.manipulation_reason)
    return bool(quote) or outcome.manipulation, " — ".join(reasons)
