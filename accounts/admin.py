from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from .forms import AdminLoginForm
from .models import School, SchoolInvitation, SchoolMembership, User

admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display: tuple[str, ...] = (
        "email",
        "first_name",
        "last_name",
        "language",
        "is_staff",
        "is_active",
        "date_joined",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "language")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profil"), {"fields": ("first_name", "last_name", "language", "notify_job_finished")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class SchoolMembershipInline(admin.TabularInline):
    model = SchoolMembership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "joined_at", "left_at")
    verbose_name = _("enseignant")
    verbose_name_plural = _("enseignants (un départ se note dans « left at » : son historique reste compté)")


class SchoolInvitationInline(admin.TabularInline):
    model = SchoolInvitation
    extra = 0
    fields = ("email", "invited_by", "created_at", "accepted_at", "accepted_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # invitations are sent from the school admin's page, which emails the link


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    """With billing off, the operator creates schools, names their admins and sets the pool here.
    With billing on, a school's subscription sets its plan and pool (billing.services.schools)."""

    list_display = ("name", "city", "uai", "allowance_tokens", "tier", "seats", "teacher_count")
    search_fields = ("name", "city", "uai")
    autocomplete_fields = ("admins",)
    fields = ("name", "city", "uai", "allowance_tokens", "admins", "tier", "seats", "period_start", "period_end")
    # Set by the school's Stripe subscription (billing on), which also sets the pool.
    readonly_fields = ("tier", "seats", "period_start", "period_end")
    inlines = (SchoolMembershipInline, SchoolInvitationInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(open_memberships=Count("memberships", filter=Q(memberships__left_at__isnull=True)))
        )

    @admin.display(description=_("enseignants"), ordering="open_memberships")
    def teacher_count(self, obj: School) -> int:
        return obj.open_memberships  # type: ignore[attr-defined]  # annotated by get_queryset
