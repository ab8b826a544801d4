"""Regrade requests: from their private link, a student asks for a second look at one question
(a short message, once per question, a few per hour at most); the teacher answers on the copy
page and the student reads the answer on the same link."""

from __future__ import annotations

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import WorkflowError
from ..models import Question, RegradeRequest, StudentLink

RATE_MAX = 3  # requests per link …
RATE_WINDOW_S = 600  # … in ten minutes: a student asks about a question or two, a script more


def regrade_request_file(*, link: StudentLink, question_id: int, message: str) -> RegradeRequest:
    """The student's request on one question of the link's copy."""
    question = Question.objects.filter(pk=question_id, exam_id=link.copy.exam_id).first()
    if question is None:
        raise WorkflowError(_("Cette question n'existe pas dans cette copie."))
    message = message.strip()
    if not message:
        raise WorkflowError(_("Expliquez en quelques mots ce qui devrait être relu."))
    if len(message) > RegradeRequest.MESSAGE_MAX:
        raise WorkflowError(
            _("Votre message dépasse %(max)s caractères : raccourcissez-le.") % {"max": RegradeRequest.MESSAGE_MAX}
        )
    key = f"regrade-rate:{link.pk}"
    cache.add(key, 0, RATE_WINDOW_S)
    if cache.incr(key) > RATE_MAX:
        raise WorkflowError(_("Trop de demandes en peu de temps : réessayez dans quelques minutes."))
    try:
        with transaction.atomic():
            return RegradeRequest.objects.create(copy=link.copy, question=question, link=link, message=message)
    except IntegrityError:
        raise WorkflowError(_("Vous avez déjà demandé une relecture de cette question.")) from None


def regrade_request_answer(*, request: RegradeRequest, user, answer: str) -> RegradeRequest:
    """The teacher's answer (it can be rewritten: who and when are those of the last one)."""
    answer = answer.strip()
    if not answer:
        raise WorkflowError(_("Écrivez une réponse pour l'élève."))
    if len(answer) > RegradeRequest.ANSWER_MAX:
        raise WorkflowError(
            _("La réponse dépasse %(max)s caractères : raccourcissez-la.") % {"max": RegradeRequest.ANSWER_MAX}
        )
    request.answer = answer
    request.status = RegradeRequest.Status.ANSWERED
    request.answered_by = user
    request.answered_at = timezone.now()
    request.save(update_fields=["answer", "status", "answered_by", "answered_at"])
    return request
