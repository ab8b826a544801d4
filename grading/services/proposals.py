"""The detection model's proposals (models.Proposal) started from a page and read by a task:
the web request validates and stores the file and enqueues, it never renders a page.

Idempotent: one proposal per subject / class PDF in flight (the exam's or the source's row is
locked while it is looked for, and a constraint holds it), so a double click gets the first
one back and nothing is stored, enqueued or paid twice. The task claims its proposal once
(pending → running), so a message delivered twice runs once. Every call the model answered is
in the ledger (services.detection.detection_record) whatever fails after it; a failure leaves
the barème and the copies as they were, and a subject that cannot be read is not kept.
"""

from __future__ import annotations

import logging

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.errors import ApplicationError
from core.i18n import translatable

from ..engine.sandbox import PdfRefused
from ..errors import WorkflowError
from ..models import Exam, Proposal, SourceFile
from ..tasks import proposal_run_task
from ..validation import pdf_validate
from .detection import bareme_read, split_read
from .exams import exam_subject_drop, exam_subject_save
from .subject_pages import subject_pages_ensure
from .uploads import SplitRow

logger = logging.getLogger(__name__)


def _enqueue(proposal: Proposal) -> None:
    transaction.on_commit(lambda: proposal_run_task.delay(proposal.pk))


def _in_flight(proposals) -> Proposal | None:
    """The proposal in flight among `proposals`; one whose worker was lost is failed first."""
    current = proposals.filter(status__in=Proposal.IN_FLIGHT).first()
    if current is not None and current.stale():
        current.fail(current.failure_text())
        return None
    return current


def bareme_proposal_start(*, exam: Exam, upload: UploadedFile | None = None) -> Proposal:
    """Stores the subject / corrigé (when given) and enqueues its reading. While one reading is
    in flight, the same file again (or none) gets that one back; another file is refused."""
    sha256 = pdf_validate(upload).sha256 if upload is not None else ""  # in the sandbox, no lock held
    stored = ""
    try:
        with transaction.atomic():
            locked = Exam.objects.select_for_update().get(pk=exam.pk)
            current = _in_flight(Proposal.objects.filter(exam=locked, kind=Proposal.Kind.BAREME))
            if current is not None:
                if upload is None or sha256 == current.sha256:
                    return current
                raise WorkflowError(
                    _("Un sujet est déjà en cours de lecture : attendez sa proposition avant d'en déposer un autre.")
                )
            if upload is not None:
                stored = exam_subject_save(exam=locked, upload=upload)
            elif not locked.subject_file:
                raise WorkflowError(_("Choisissez le PDF du sujet ou du corrigé."))
            # Only the latest proposal is kept: an older one's rows are superseded.
            Proposal.objects.filter(exam=locked, kind=Proposal.Kind.BAREME).delete()
            proposal = Proposal.objects.create(
                exam=locked, kind=Proposal.Kind.BAREME, file_name=locked.subject_file.name, sha256=sha256
            )
            _enqueue(proposal)
            # Rendered on the render queue while the model reads (enqueued when stored; a
            # subject read again whose pages the cache lost, now): shown beside the proposal.
            subject_pages_ensure(exam=locked)
    except Exception:
        if stored:  # the transaction that would have kept it failed
            Exam._meta.get_field("subject_file").storage.delete(stored)
        raise
    exam.subject_file.name = locked.subject_file.name
    return proposal


def split_proposal_start(*, source: SourceFile, again: bool = False) -> Proposal:
    """The class PDF's split proposal: the one it has (reopening the page pays nothing), else a
    new one enqueued; `again`: a failed one is started anew."""
    with transaction.atomic():
        locked = SourceFile.objects.select_for_update().get(pk=source.pk)
        proposals = Proposal.objects.filter(source=locked, kind=Proposal.Kind.SPLIT)
        current = _in_flight(proposals) or proposals.order_by("-pk").first()
        if current is not None and not (again and current.status == Proposal.Status.FAILED):
            return current
        proposals.delete()
        proposal = Proposal.objects.create(
            exam_id=locked.exam_id,
            source=locked,
            kind=Proposal.Kind.SPLIT,
            file_name=locked.file.name,
            sha256=locked.sha256,
        )
        _enqueue(proposal)
    return proposal


def split_proposal_rows(*, proposal: Proposal, page_count: int) -> tuple[list[SplitRow], str]:
    """The rows to review and the notice above them; a failed proposal gives one whole-file row."""
    if proposal.status == Proposal.Status.READY:
        rows = [SplitRow(r["student_label"], r["first_page"], r["last_page"]) for r in proposal.rows]
        return rows, _("Proposition automatique : vérifiez les noms et les pages avant de confirmer.")
    whole = [SplitRow(_("Élève 1"), 1, page_count)]
    return whole, _("La proposition automatique a échoué (%(reason)s) : indiquez les pages de chaque élève.") % {
        "reason": proposal.failure_text()
    }


def proposal_run(*, proposal_id: int) -> str:
    """The proposal's PDF rendered in the sandbox and read by the detection model (the task's
    service). Returns its status, or "skipped" when another delivery has it."""
    proposal = Proposal.objects.select_related("exam__owner", "source").filter(pk=proposal_id).first()
    if proposal is None or not proposal.claim():
        return "skipped"
    try:
        if proposal.kind == Proposal.Kind.BAREME:
            rows = bareme_read(exam=proposal.exam, name=proposal.file_name)
        else:
            assert proposal.source is not None  # noqa: S101 (a split proposal always has its source)
            rows = split_read(source=proposal.source)
    except PdfRefused as error:
        reason = error.message
        if proposal.kind == Proposal.Kind.BAREME and exam_subject_drop(exam=proposal.exam, name=proposal.file_name):
            reason = translatable(
                gettext_noop("%(reason)s Le fichier n'a pas été gardé : déposez-en une version lisible."), reason=reason
            )
        proposal.fail(reason)
    except ApplicationError as error:  # the model's answer, the provider, the configuration
        proposal.fail(error.message)
    except Exception:
        # A bug or a database hiccup: told on the page (the teacher starts again), never left
        # "en cours"; the exception itself goes to the log, not into the teacher's message.
        logger.exception("proposal %s: unexpected error", proposal_id)
        proposal.fail(translatable(gettext_noop("Erreur interne pendant la lecture du PDF ; vous pouvez recommencer.")))
    else:
        proposal.finish(rows)
    return proposal.status
