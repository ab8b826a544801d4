"""« Rédiger les appréciations manquantes »: the appréciation of every graded copy that has none,
drafted in a Celery task, one call per copy exactly as the copy page's button makes it
(copy_appreciation_ask: the call's worst case held on the allowance first, each call in the
ledger). The pass stops cleanly, with a message, when the next copy's hold does not fit or the
model fails; what it drafted stays. It never writes over text: a copy is written only if it
still has no appréciation when its draft comes back (the teacher may type one meanwhile).
Clicked twice, the second click finds the pass running; clicked again afterwards, it drafts
only what is still missing."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from core.errors import ApplicationError
from core.i18n import Text, text_dump, translatable

from ..errors import WorkflowError
from ..models import AppreciationRun, Copy, Exam
from ..selectors.appreciations import appreciations_missing
from ..tasks import exam_appreciations_task
from .appreciation import copy_appreciation_ask

LOST = gettext_noop("Interrompue : le traitement a été perdu.")
MESSAGE_MAX = 4000


def exam_appreciations_start(*, exam: Exam, user: User) -> tuple[AppreciationRun, bool]:
    """Starts the pass (its task once committed) and returns it with True, or returns the pass
    already running with False. WorkflowError when no copy is missing its appréciation."""
    with transaction.atomic():
        # Two clicks at once: the exam's row lock lets the second see the first's pass.
        Exam.objects.select_for_update().filter(pk=exam.pk).exists()
        current = AppreciationRun.objects.filter(exam=exam, status=AppreciationRun.Status.RUNNING).first()
        if current is not None and not current.lost():
            return current, False
        if current is not None:
            _finish(current, AppreciationRun.Status.STOPPED, translatable(LOST))
        total = appreciations_missing(exam=exam).count()
        if not total:
            raise WorkflowError(_("Toutes les copies corrigées ont déjà une appréciation."))
        run = AppreciationRun.objects.create(exam=exam, created_by=user, total=total)
        transaction.on_commit(lambda: exam_appreciations_task.delay(run.pk))
    return run, True


def _finish(run: AppreciationRun, status: str, message: str = "") -> str:
    # Only a running pass ends: one taken for lost and replaced keeps its « interrompue » if its
    # worker comes back and reaches the end. The message is kept as its source (core.i18n).
    AppreciationRun.objects.filter(pk=run.pk, status=AppreciationRun.Status.RUNNING).update(
        status=status, message=text_dump(message, limit=MESSAGE_MAX), updated_at=timezone.now()
    )
    return status


def exam_appreciations_run(*, run_id: int) -> str:
    """The task's body: drafts the missing appréciations one copy after the other."""
    run = AppreciationRun.objects.select_related("exam", "created_by").filter(pk=run_id).first()
    if run is None or not run.running:
        return "gone"
    try:
        return _drafts(run)
    except Exception:
        # Not left « en cours » (polled, blocking a new click) until it counts as lost.
        unexpected = translatable(gettext_noop("Erreur inattendue."))
        _finish(run, AppreciationRun.Status.STOPPED, _stopped_because(unexpected, run))
        raise


def _drafts(run: AppreciationRun) -> str:
    after = 0
    while True:
        copy = appreciations_missing(exam=run.exam).filter(pk__gt=after).first()
        if copy is None:
            return _finish(run, AppreciationRun.Status.DONE)
        after = copy.pk
        try:
            draft = copy_appreciation_ask(copy=copy, user=run.created_by)
        except ApplicationError as error:
            # QuotaExceeded comes before the call (its hold does not fit): nothing is spent.
            return _finish(run, AppreciationRun.Status.STOPPED, _stopped_because(error.message, run))
        # Written only where there is still nothing: the teacher's text typed meanwhile stays.
        written = Copy.objects.filter(pk=copy.pk, appreciation="", appreciation_ai="").update(
            appreciation=draft, appreciation_ai=draft, appreciation_stale=False, updated_at=timezone.now()
        )
        AppreciationRun.objects.filter(pk=run.pk).update(drafted=F("drafted") + written, updated_at=timezone.now())
        run.refresh_from_db(fields=["drafted", "status"])
        if not run.running:  # taken for lost and replaced by a new click: that pass goes on
            return run.status


def _stopped_because(reason: str, run: AppreciationRun) -> Text:
    if not run.drafted:
        stopped = translatable(gettext_noop("Aucune appréciation n'a été rédigée."))
    else:
        stopped = Text.ngettext(
            "Rédaction arrêtée après %(drafted)s appréciation sur %(total)s : elle est gardée, relancez pour la suite.",
            "Rédaction arrêtée après %(drafted)s appréciations sur %(total)s : "
            "elles sont gardées, relancez pour la suite.",
            run.drafted,
            drafted=run.drafted,
            total=run.total,
        )
    return translatable(gettext_noop("%(reason)s %(stopped)s"), reason=reason, stopped=stopped)
