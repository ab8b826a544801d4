"""Operators' views: allowances (tier by hand when billing is off), model prices, the read-only
ledger with CSV export and an exam filter, and a report of usage per user and month."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Allowance, ModelPrice, Reservation, UsageRecord
from .selectors import (
    UsageSummary,
    month_start,
    usage_by_user_month,
    usage_summary,
    usage_top_spenders,
    usd_to_eur,
)
from .services import usage_plan_set
from .tiers import TIER_LIMITS, Tier

LEDGER_COLUMNS = (
    "id",
    "created_at",
    "user__email",
    "exam_id",
    "copy_id",
    "phase",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "prompt_cost",
    "completion_cost",
    "cached_cost",
    "total_cost",
    "savings",
    "priced",
    "reservation__key",
    "idempotency_key",
)


def _tier_limits_text() -> str:
    return " · ".join(f"{Tier(tier).label} : {limit:,}".replace(",", "\u202f") for tier, limit in TIER_LIMITS.items())


def _rate_text() -> str:
    """The conversion the teachers' pages use (settings.USD_EUR_RATE, set by the operator)."""
    return str(_("Taux de conversion (USD_EUR_RATE) : 1 $ = %(rate)s €")) % {
        "rate": number_format(settings.USD_EUR_RATE)
    }


@admin.register(Allowance)
class AllowanceAdmin(admin.ModelAdmin):
    list_display = ("user", "tier", "limit_display", "used_display", "remaining_display", "period_display")
    list_filter = ("tier",)
    list_select_related = ("user",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    readonly_fields = ("tier_limits", "usd_eur_rate", "used_display", "remaining_display", "updated_at")
    fields = (
        "user",
        "tier",
        "period_start",
        "period_end",
        "tier_limits",
        "usd_eur_rate",
        "used_display",
        "remaining_display",
    )

    @admin.display(description=_("allocation (jetons)"))
    def limit_display(self, obj: Allowance) -> int:
        return obj.limit

    def _summary(self, obj: Allowance) -> UsageSummary:
        # Two columns read the same summary: compute it once per row.
        summary = obj.__dict__.get("_usage_summary")
        if summary is None:
            summary = obj.__dict__["_usage_summary"] = usage_summary(user=obj.user)
        return summary

    @admin.display(description=_("utilisés sur la période"))
    def used_display(self, obj: Allowance) -> int | str:
        return self._summary(obj).tokens_used if obj.pk else "—"

    @admin.display(description=_("période"))
    def period_display(self, obj: Allowance) -> str:
        """The period usage is counted over, as the checks compute it: the stored dates are
        blank until billing sets them (a paid tier then counts by calendar month)."""
        summary = self._summary(obj)
        if not summary.has_monthly_reset or summary.period_start is None or summary.period_end is None:
            return str(_("une seule fois, sans renouvellement"))
        start, end = (timezone.localtime(d) for d in (summary.period_start, summary.period_end))
        return f"{date_format(start, 'SHORT_DATE_FORMAT')} → {date_format(end, 'SHORT_DATE_FORMAT')}"

    @admin.display(description=_("reste"))
    def remaining_display(self, obj: Allowance) -> int | str:
        return self._summary(obj).remaining if obj.pk else "—"

    @admin.display(description=_("limites des offres"))
    def tier_limits(self, obj: Allowance | None = None) -> str:
        return _tier_limits_text()

    @admin.display(description=_("conversion en euros"))
    def usd_eur_rate(self, obj: Allowance | None = None) -> str:
        return _rate_text()

    def save_model(self, request: HttpRequest, obj: Allowance, form, change: bool) -> None:
        # Through the service, as billing does: the same validation and the same effect.
        if not change:
            super().save_model(request, obj, form, change)
        usage_plan_set(user=obj.user, tier=obj.tier, period_start=obj.period_start, period_end=obj.period_end)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {**(extra_context or {}), "subtitle": f"{_tier_limits_text()} · {_rate_text()}"}
        return super().changelist_view(request, extra_context)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model", "input_per_token", "output_per_token", "cache_read_per_token", "cache_write_per_token")
    search_fields = ("model",)


class _IdFilter(admin.SimpleListFilter):
    """?<field>=<id>, linked from the rows (no list of choices: there are too many)."""

    field = ""

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"#{value}")] if value and value.isdigit() else []

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{f"{self.field}_id": int(value)})
        return queryset


class ExamLedgerFilter(_IdFilter):
    title = _("correction")
    parameter_name = field = "exam"


class UserLedgerFilter(_IdFilter):
    title = _("utilisateur")
    parameter_name = field = "user"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class CopyUsageInline(admin.TabularInline):
    """The ledger rows of one copy, read-only, for grading's copy admin (usage owns the rows)."""

    model = UsageRecord
    fk_name = "copy"
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "phase",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cached_read_tokens",
        "cache_write_tokens",
        "total_cost",
        "idempotency_key",
    )
    readonly_fields = fields
    verbose_name = _("appel LLM")
    verbose_name_plural = _("registre de consommation")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class _Echo:
    def write(self, value: str) -> str:
        return value


def ledger_csv_response(queryset, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = queryset.order_by("created_at", "id").values_list(*LEDGER_COLUMNS)

    def lines():
        yield writer.writerow(LEDGER_COLUMNS)
        for row in rows.iterator(chunk_size=2000):
            yield writer.writerow(value.isoformat() if hasattr(value, "isoformat") else value for value in row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    """The ledger: append-only, so read-only here too."""

    change_list_template = "admin/usage/usagerecord/change_list.html"
    list_display = (
        "created_at",
        "user",
        "exam_link",
        "phase",
        "model",
        "prompt_tokens",
        "cached_read_tokens",
        "cache_write_tokens",
        "completion_tokens",
        "total_cost",
        "total_cost_eur",
        "savings",
        "priced",
    )
    list_filter = (ExamLedgerFilter, UserLedgerFilter, "phase", "priced", "created_at", "model")
    search_fields = ("user__email", "model", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    actions = ("export_csv",)

    @admin.display(description=_("correction"), ordering="exam_id")
    def exam_link(self, obj: UsageRecord) -> str:
        if obj.exam_id is None:
            return "—"
        url = reverse("admin:usage_usagerecord_changelist") + f"?exam={obj.exam_id}"
        return format_html('<a href="{}">#{}</a>', url, obj.exam_id)

    @admin.display(description=_("coût total (€)"), ordering="total_cost")
    def total_cost_eur(self, obj: UsageRecord) -> str:
        return number_format(usd_to_eur(obj.total_cost), 6)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {**(extra_context or {}), "subtitle": _rate_text()}
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Exporter en CSV"))
    def export_csv(self, request: HttpRequest, queryset) -> StreamingHttpResponse:
        return ledger_csv_response(queryset, "ledger.csv")

    def get_urls(self):
        return [
            path("export.csv", self.admin_site.admin_view(self.export_view), name="usage_usagerecord_export"),
            path("report/", self.admin_site.admin_view(self.report_view), name="usage_usagerecord_report"),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The whole ledger as the change list shows it (same filters and search)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return ledger_csv_response(changelist.get_queryset(request), "ledger.csv")

    def report_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        this_month = month_start(now)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Consommation par utilisateur et par mois"),
            "opts": self.model._meta,
            "per_month": list(usage_by_user_month(start=month_start(now, -11))),
            "top_month": list(usage_top_spenders(start=this_month)),
            "top_all": list(usage_top_spenders()),
            "month_start": this_month,
        }
        return TemplateResponse(request, "admin/usage/usagerecord/report.html", context)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "exam_id", "tokens", "tokens_used", "state", "outcome", "created_at", "settled_at")
    list_filter = ("state", "outcome")
    search_fields = ("key", "user__email")
