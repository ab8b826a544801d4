"""State changes of the teacher's workflow: exams, barème, uploads, grade edits."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from usage.services import usage_record

from .engine.detection import bareme_extract, split_propose
from .engine.errors import EngineError
from .engine.llm import LLMResult
from .errors import WorkflowError
from .jobs import copy_rerun, role_ready
from .models import Copy, Exam, Grade, GradeEdit, Page, Question, SourceFile, source_upload_to
from .tasks import copy_pages_render_task
from .validation import pdf_validate

__all__ = ["WorkflowError"]  # re-exported: views catch services.WorkflowError


def exam_create(*, owner, **fields) -> Exam:
    return Exam.objects.create(owner=owner, **fields)


def exam_update(*, exam: Exam, **fields) -> Exam:
    for name, value in fields.items():
        setattr(exam, name, value)
    exam.save()
    return exam


def exam_delete(*, exam: Exam) -> None:
    """Deletes the exam, its rows and its files in storage (after the commit)."""
    files = [exam.subject_file] if exam.subject_file else []
    for source in exam.sources.all():
        files.append(source.file)
    files.extend(page.image for page in Page.objects.filter(copy__exam=exam).only("image"))
    names = [(f.storage, f.name) for f in files if f and f.name]
    with transaction.atomic():
        exam.delete()
        transaction.on_commit(lambda: _files_delete(names))


def _files_delete(names) -> None:
    for storage, name in names:
        storage.delete(name)


def _bareme_editable(exam: Exam) -> None:
    if exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Le barème ne peut pas changer pendant une correction."))


def question_add(*, exam: Exam, label: str, max_points, criteria: str = "") -> Question:
    _bareme_editable(exam)
    with transaction.atomic():
        # Lock the exam so two quick adds do not take the same position.
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        last = exam.questions.aggregate(m=Max("order"))["m"]
        order = 0 if last is None else last + 1
        return Question.objects.create(exam=exam, order=order, label=label, max_points=max_points, criteria=criteria)


def question_update(*, question: Question, label: str, max_points, criteria: str = "") -> Question:
    _bareme_editable(question.exam)
    question.label = label
    question.max_points = max_points
    question.criteria = criteria
    question.save(update_fields=["label", "max_points", "criteria"])
    return question


def question_delete(*, question: Question) -> None:
    _bareme_editable(question.exam)
    question.delete()


def question_move(*, question: Question, direction: str) -> None:
    """Swaps the question with its neighbour; positions are renumbered 0..n-1."""
    exam = question.exam
    _bareme_editable(exam)
    with transaction.atomic():
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        ids = list(exam.questions.order_by("order", "id").values_list("id", flat=True))
        i = ids.index(question.pk)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(ids):
            ids[i], ids[j] = ids[j], ids[i]
        for position, pk in enumerate(ids):
            Question.objects.filter(pk=pk).update(order=position)


# --- Uploads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitRow:
    student_label: str
    first_page: int
    last_page: int


def student_label_from_filename(filename: str) -> str:
    stem = PurePath(filename).stem
    label = re.sub(r"[_\s]+", " ", stem).strip()
    return label[:200] or _("Élève")


def _pages_render_enqueue(copy_ids: list[int]) -> None:
    for pk in copy_ids:
        transaction.on_commit(lambda pk=pk: copy_pages_render_task.delay(pk))


def _file_store(upload: UploadedFile) -> str:
    """Saves the upload under an unguessable name (slow I/O: outside any transaction)."""
    storage = SourceFile._meta.get_field("file").storage
    upload.seek(0)
    return storage.save(source_upload_to(None, upload.name), upload)


def _source_upload(*, exam: Exam, upload: UploadedFile, whole_file_copy: bool) -> SourceFile:
    if exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Attendez la fin de la correction pour ajouter des copies."))
    if exam.files_purged_at is not None:
        # Retention deleted this exam's files: new copies would escape the date it shows.
        raise WorkflowError(_("Les fichiers de cette correction ont été supprimés : créez une nouvelle correction."))
    info = pdf_validate(upload)
    name = _file_store(upload)
    try:
        with transaction.atomic():
            source = SourceFile.objects.create(
                exam=exam,
                file=name,
                original_name=upload.name[:255],
                page_count=info.page_count,
                size_bytes=info.size_bytes,
                sha256=info.sha256,
            )
            if whole_file_copy:
                copy = Copy.objects.create(
                    exam=exam,
                    source=source,
                    student_label=student_label_from_filename(upload.name),
                    first_page=1,
                    last_page=info.page_count,
                )
                _pages_render_enqueue([copy.pk])
    except Exception:
        SourceFile._meta.get_field("file").storage.delete(name)
        raise
    return source


def source_upload_copy(*, exam: Exam, upload: UploadedFile) -> Copy:
    """One student's PDF: validated, stored, one copy over all its pages. Raises PdfInvalid."""
    return _source_upload(exam=exam, upload=upload, whole_file_copy=True).copies.get()


def source_upload_class(*, exam: Exam, upload: UploadedFile) -> SourceFile:
    """The whole class in one PDF: stored without copies until the teacher confirms a split."""
    return _source_upload(exam=exam, upload=upload, whole_file_copy=False)


def split_fixed(*, page_count: int, pages_per_student: int) -> list[SplitRow]:
    rows = []
    for n, first in enumerate(range(1, page_count + 1, pages_per_student), start=1):
        last = min(first + pages_per_student - 1, page_count)
        rows.append(SplitRow(student_label=_("Élève %(n)s") % {"n": n}, first_page=first, last_page=last))
    return rows


def split_check(*, rows: list[SplitRow], page_count: int) -> list[str]:
    """Errors of a split: ranges inside the file, in order, not overlapping, names given."""
    errors = []
    previous_last = 0
    for n, row in enumerate(rows, start=1):
        if not row.student_label.strip():
            errors.append(_("Ligne %(n)s : indiquez le nom de l'élève.") % {"n": n})
        if not 1 <= row.first_page <= row.last_page <= page_count:
            errors.append(
                _("Ligne %(n)s : les pages doivent aller de 1 à %(max)s, la première avant la dernière.")
                % {"n": n, "max": page_count}
            )
        elif row.first_page <= previous_last:
            errors.append(_("Ligne %(n)s : ces pages chevauchent la copie précédente.") % {"n": n})
        previous_last = max(previous_last, row.last_page)
    if not rows:
        errors.append(_("Indiquez au moins une copie."))
    return errors


def split_apply(*, source: SourceFile, rows: list[SplitRow]) -> list[Copy]:
    """Replaces the source's copies by the confirmed split. Raises WorkflowError."""
    errors = split_check(rows=rows, page_count=source.page_count)
    if errors:
        raise WorkflowError(" ".join(errors))
    exam = source.exam
    if exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Attendez la fin de la correction pour ajouter des copies."))
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers de cette correction ont été supprimés : créez une nouvelle correction."))
    with transaction.atomic():
        if Grade.objects.filter(copy__source=source).exists():
            raise WorkflowError(_("Ces copies sont déjà corrigées : leur découpage ne peut plus changer."))
        old_pages = [p.image.name for p in Page.objects.filter(copy__source=source) if p.image]
        source.copies.all().delete()
        copies = Copy.objects.bulk_create(
            Copy(
                exam=exam,
                source=source,
                student_label=row.student_label.strip()[:200],
                first_page=row.first_page,
                last_page=row.last_page,
            )
            for row in rows
        )
        transaction.on_commit(lambda: [default_storage.delete(name) for name in old_pages])
        _pages_render_enqueue([c.pk for c in copies])
    return copies


def copy_delete(*, copy: Copy) -> None:
    """Removes a copy; its source file goes too when no other copy uses it."""
    if copy.exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Attendez la fin de la correction pour retirer une copie."))
    names = [p.image.name for p in copy.pages.all() if p.image]
    with transaction.atomic():
        source = copy.source
        copy.delete()
        if source is not None and not source.copies.exists():
            names.append(source.file.name)
            source.delete()
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names if name])


def copy_rename(*, copy: Copy, student_label: str) -> Copy:
    copy.student_label = student_label.strip()[:200]
    copy.save(update_fields=["student_label", "updated_at"])
    return copy


def _detection_record(*, user, exam: Exam, label: str):
    """Writes each detection call (and its repair) to the ledger, under a key of its own."""
    base = f"detect:{label}:{exam.pk}:{uuid.uuid4().hex[:12]}"

    def record(result: LLMResult, repair: bool) -> None:
        usage_record(
            user=user,
            exam=exam,
            phase="repair" if repair else "detection",
            model=result.model,
            **result.ledger_tokens,
            idempotency_key=f"{base}:repair" if repair else base,
        )

    return record


def split_propose_for(*, source: SourceFile, user) -> tuple[list[SplitRow], str]:
    """The detection model's split proposal (cached: one LLM call per file), or one whole-file row."""
    whole = [SplitRow(_("Élève 1"), 1, source.page_count)]
    key = f"grading:split:{source.pk}:{source.sha256}"
    rows = cache.get(key)
    if rows is None:
        try:
            proposal = split_propose(
                name=source.file.name,
                config=role_ready("detection"),
                record=_detection_record(user=user, exam=source.exam, label="split"),
            )
        except EngineError as error:
            return whole, _(
                "La proposition automatique a échoué (%(reason)s) : indiquez les pages de chaque élève."
            ) % {"reason": error}
        rows = [SplitRow(c.student_label, c.first_page, c.last_page) for c in proposal.copies]
        cache.set(key, rows, 3600)
    return rows, _("Proposition automatique : vérifiez les noms et les pages avant de confirmer.")


# --- Review --------------------------------------------------------------------------------


def points_check(*, points: Decimal, max_points: Decimal, step: Decimal) -> None:
    if points < 0 or points > max_points:
        raise WorkflowError(
            _("La note doit être entre 0 et %(max)s.") % {"max": f"{max_points.normalize():f}".replace(".", ",")}
        )
    if step and (points / step) % 1 != 0:
        raise WorkflowError(
            _("La note doit être un multiple de %(step)s.") % {"step": f"{step.normalize():f}".replace(".", ",")}
        )


def _grade_set(*, grade: Grade, user, points: Decimal) -> Grade:
    with transaction.atomic():
        locked = Grade.objects.select_for_update().get(pk=grade.pk)
        before = locked.points
        if before == points:
            return locked
        locked.points = points
        locked.edited = points != locked.ai_points
        locked.save(update_fields=["points", "edited", "updated_at"])
        GradeEdit.objects.create(grade=locked, user=user, field="points", before=str(before), after=str(points))
    grade.points, grade.edited = locked.points, locked.edited
    return grade


def grade_edit(*, grade: Grade, user, points: Decimal) -> Grade:
    """The teacher's points for one answer, validated (0..max, rounding step) and audited."""
    points_check(points=points, max_points=grade.max_points, step=grade.copy.exam.rounding_step)
    return _grade_set(grade=grade, user=user, points=points)


def grade_restore(*, grade: Grade, user) -> Grade:
    """Back to the engine's points; the restore is audited like any edit."""
    return _grade_set(grade=grade, user=user, points=grade.ai_points)


def copy_reviewed_set(*, copy: Copy, reviewed: bool) -> Copy:
    copy.reviewed = reviewed
    copy.save(update_fields=["reviewed", "updated_at"])
    return copy


def copy_regrade(*, copy: Copy):
    """Sends one copy back to the engine (a new attempt). Raises WorkflowError, EngineError, QuotaExceeded."""
    if copy.exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers de cette copie ont été supprimés : elle ne peut plus être corrigée."))
    return copy_rerun(copy=copy)


# --- Barème from a subject / corrigé -------------------------------------------------------


def exam_subject_store(*, exam: Exam, upload: UploadedFile) -> Exam:
    """Validates and stores the subject / corrigé PDF, replacing any previous one. Raises PdfInvalid."""
    pdf_validate(upload)
    previous = exam.subject_file.name if exam.subject_file else ""
    storage = Exam._meta.get_field("subject_file").storage
    upload.seek(0)
    name = storage.save(source_upload_to(None, upload.name), upload)
    try:
        Exam.objects.filter(pk=exam.pk).update(subject_file=name)
    except Exception:
        storage.delete(name)
        raise
    exam.subject_file.name = name
    if previous:
        transaction.on_commit(lambda: storage.delete(previous))
    return exam


def bareme_propose(*, exam: Exam, user) -> list[dict]:
    """The detection model's reading of the subject: rows for the teacher to correct. Raises EngineError."""
    proposal = bareme_extract(
        name=exam.subject_file.name if exam.subject_file else "",
        language=exam.language,
        config=role_ready("detection"),
        record=_detection_record(user=user, exam=exam, label="bareme"),
    )
    return [{"label": q.label, "max_points": q.max_points, "criteria": q.criteria} for q in proposal.questions]


def bareme_replace(*, exam: Exam, rows: list[dict]) -> list[Question]:
    """Replaces the barème by the confirmed rows (only before any grade exists)."""
    _bareme_editable(exam)
    if not rows:
        raise WorkflowError(_("Gardez au moins une question."))
    with transaction.atomic():
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        if Grade.objects.filter(question__exam=exam).exists():
            raise WorkflowError(_("Des copies sont déjà notées sur ce barème : modifiez les questions une à une."))
        exam.questions.all().delete()
        return Question.objects.bulk_create(
            Question(exam=exam, order=i, label=r["label"], max_points=r["max_points"], criteria=r.get("criteria", ""))
            for i, r in enumerate(rows)
        )
