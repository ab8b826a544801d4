"""Operators' admin: exams, copies and jobs, with grades, audit and ledger rows read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import ApplicationError
from usage.admin import CopyUsageInline

from . import services
from .models import AppreciationRun, Copy, Exam, Grade, GradingJob, ModelAnswer, Question


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class QuestionInline(ReadOnlyInline):
    model = Question
    fields = ("order", "label", "max_points", "criteria")
    readonly_fields = fields


class CopyInline(ReadOnlyInline):
    model = Copy
    fk_name = "exam"
    fields = ("student_label", "status", "attempt", "failure", "flagged_manipulation")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("raison de l'échec"))
    def failure(self, copy: Copy) -> str:
        return copy.failure_text


class JobInline(ReadOnlyInline):
    model = GradingJob
    fields = ("status", "total_copies", "estimated_tokens", "started_at", "finished_at")
    readonly_fields = fields
    show_change_link = True


class AppreciationRunInline(ReadOnlyInline):
    model = AppreciationRun
    fields = ("status", "total", "drafted", "message", "created_at", "updated_at")
    readonly_fields = fields


@admin.action(description=_("Supprimer les fichiers des élèves (les notes restent)"))
def purge_student_files(modeladmin, request, queryset) -> None:
    purged = 0
    for exam in queryset:
        try:
            result = services.exam_files_purge(exam=exam, reason=f"admin:{request.user.pk}")
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{exam}: {exc}", messages.ERROR)
            continue
        if result.complete:
            purged += 1
        else:
            modeladmin.message_user(
                request,
                ngettext(
                    "%(exam)s : %(count)d fichier n'a pas pu être supprimé.",
                    "%(exam)s : %(count)d fichiers n'ont pas pu être supprimés.",
                    len(result.failed),
                )
                % {"exam": exam, "count": len(result.failed)},
                messages.ERROR,
            )
    modeladmin.message_user(
        request,
        ngettext(
            "Fichiers des élèves supprimés pour %(count)d correction.",
            "Fichiers des élèves supprimés pour %(count)d corrections.",
            purged,
        )
        % {"count": purged},
    )


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "mode", "status", "created_at", "files_purged_at")
    list_filter = ("status", "mode", "language", ("files_purged_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "subject", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("files_purged_at",)
    inlines = [QuestionInline, JobInline, AppreciationRunInline, CopyInline]
    actions = [purge_student_files]


class GradeInline(ReadOnlyInline):
    model = Grade
    fields = (
        "question",
        "points",
        "ai_points",
        "max_points",
        "resolution",
        "disagreement",
        "confidence",
        "reading",
        "reasoning",
        "feedback",
        "audit",
    )
    readonly_fields = fields


class ModelAnswerInline(ReadOnlyInline):
    model = ModelAnswer
    fields = ("attempt", "phase", "slot", "repair", "model", "raw", "parsed", "why_unusable", "created_at")
    readonly_fields = fields

    @admin.display(description="error")
    def why_unusable(self, answer: ModelAnswer) -> str:
        return answer.error_text


@admin.action(description=_("Relancer les copies en échec sélectionnées"))
def rerun_failed_copies(modeladmin, request, queryset) -> None:
    count = 0
    for copy in queryset.select_related("exam").filter(status__in=Copy.RERUNNABLE):
        try:
            services.copy_rerun(copy=copy)
            count += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{copy}: {exc}", messages.ERROR)
    modeladmin.message_user(
        request, ngettext("%(count)d copie relancée.", "%(count)d copies relancées.", count) % {"count": count}
    )


@admin.register(Copy)
class CopyAdmin(admin.ModelAdmin):
    list_display = ("student_label", "exam", "owner", "status", "attempt", "flagged_manipulation", "updated_at")
    list_filter = ("status", "flagged_manipulation", "reviewed", ("exam__owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("student_label", "exam__title", "exam__owner__email", "failure_reason")
    list_select_related = ("exam", "exam__owner")
    readonly_fields = ("exam", "job", "source", "attempt", "failure", "manipulation", "status")
    fields = (
        "exam",
        "student_label",
        "status",
        "job",
        "source",
        ("first_page", "last_page"),
        "attempt",
        "failure",
        "flagged_manipulation",
        "manipulation",
        "reviewed",
    )
    inlines = [GradeInline, ModelAnswerInline, CopyUsageInline]

    @admin.display(description=_("raison de l'échec"))
    def failure(self, copy: Copy) -> str:
        return copy.failure_text

    @admin.display(description=_("manipulation suspectée"))
    def manipulation(self, copy: Copy) -> str:
        return copy.manipulation_text

    actions = [rerun_failed_copies]

    @admin.display(description=_("enseignant"), ordering="exam__owner__email")
    def owner(self, obj: Copy):
        return obj.exam.owner


@admin.action(description=_("Annuler les corrections sélectionnées"))
def cancel_jobs(modeladmin, request, queryset) -> None:
    cancelled = 0
    for job in queryset.filter(status=GradingJob.Status.RUNNING).select_related("exam"):
        if services.job_cancel(job=job):
            cancelled += 1
    modeladmin.message_user(
        request,
        ngettext("%(count)d correction annulée.", "%(count)d corrections annulées.", cancelled) % {"count": cancelled},
    )


@admin.register(GradingJob)
class GradingJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "exam", "created_by", "status", "total_copies", "estimated_tokens", "started_at")
    list_filter = ("status", ("created_by", admin.RelatedOnlyFieldListFilter))
    search_fields = ("exam__title", "created_by__email", "reservation_key")
    list_select_related = ("exam", "created_by")
    readonly_fields = (
        "exam",
        "created_by",
        "status",
        "total_copies",
        "estimated_tokens",
        "reservation_key",
        "started_at",
        "finished_at",
    )
    actions = [cancel_jobs]

    def has_add_permission(self, request) -> bool:
        return False
