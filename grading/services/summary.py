"""The class summary drafted by the grading model from the class's readings (one small call,
metered like every call: a reservation of its worst case first, each call's ledger row written
the moment it returns, phase "summary", before anything else), then edited by the teacher and
restorable to the draft."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User

from ..engine.schema import ClassSummaryDraft
from ..engine.summary import CLASS_SUMMARY_MAX_TOKENS, class_summary_request, class_summary_write
from ..errors import WorkflowError
from ..models import ClassSummary, Exam
from ..selectors.summary import class_summary_inputs
from .appreciation import metered_ask
from .estimate import role_ready

# The role whose model drafts it: the grading model (grader A in double correction).
SUMMARY_ROLE = "grader_a"
SUMMARY_MAX_CHARS = 3000


def class_summary_text(draft: ClassSummaryDraft, *, language: str) -> str:
    """The draft as the teacher edits it and the PDF prints it, headed in the exam's language."""
    with translation.override(language):
        strengths = _("Points forts")
        difficulties = _("Difficultés")
    lines = [strengths, *(f"- {item}" for item in draft.strengths), "", difficulties]
    lines += [f"- {item}" for item in draft.difficulties]
    return "\n".join(lines)


def exam_summary_draft(*, exam: Exam, user: User) -> ClassSummary:
    """Asks the grading model for the class's strengths and difficulties; they become the draft
    and the text (an earlier edit is replaced: the teacher asked again).

    Raises ApplicationError: no grades yet, allowance too small (QuotaExceeded), model
    misconfigured, provider down or unusable answer (EngineError)."""
    questions = class_summary_inputs(exam=exam)
    if not any(question["graded"] for question in questions):
        raise WorkflowError(_("Aucune copie corrigée : rien à résumer pour la classe."))
    config = role_ready(SUMMARY_ROLE)
    request = class_summary_request(config=config, title=exam.title, language=exam.language, questions=questions)
    answer = metered_ask(
        user=user,
        exam=exam,
        phase="summary",
        key=f"summary:{exam.pk}:{uuid.uuid4().hex[:12]}",
        request=request,
        max_tokens=CLASS_SUMMARY_MAX_TOKENS,
        write=class_summary_write,
    )
    draft = answer.value
    text = class_summary_text(draft, language=exam.language)
    with transaction.atomic():
        summary, _created = ClassSummary.objects.select_for_update().get_or_create(exam=exam)
        summary.text = summary.text_ai = text
        summary.model = answer.model
        summary.drafted_at = timezone.now()
        summary.edited_by, summary.edited_at = None, None
        summary.save()
    return summary


def exam_summary_edit(*, exam: Exam, user: User, text: str) -> ClassSummary:
    """The teacher's text (what the one-page PDF prints); the draft stays restorable."""
    text = text.strip()
    if len(text) > SUMMARY_MAX_CHARS:
        raise WorkflowError(_("La synthèse dépasse %(max)s caractères.") % {"max": SUMMARY_MAX_CHARS})
    with transaction.atomic():
        summary, _created = ClassSummary.objects.select_for_update().get_or_create(exam=exam)
        summary.text = text
        summary.edited_by, summary.edited_at = user, timezone.now()
        summary.save(update_fields=["text", "edited_by", "edited_at"])
    return summary


def exam_summary_restore(*, exam: Exam, user: User) -> ClassSummary:
    """Back to the model's draft."""
    summary = ClassSummary.objects.filter(exam=exam).first()
    if summary is None or not summary.text_ai:
        raise WorkflowError(_("Aucune synthèse proposée par le modèle à restaurer."))
    summary.text = summary.text_ai
    summary.edited_by, summary.edited_at = user, timezone.now()
    summary.save(update_fields=["text", "edited_by", "edited_at"])
    return summary
