"""From a teacher's admin page, reach their Stripe customer, subscriptions, invoices and
webhook events. accounts must not know about billing, so billing extends the User admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from djstripe.models import Customer, Event, Invoice, Subscription

from accounts.admin import UserAdmin
from usage.selectors import UsageSummary, usage_summary

from .models import PaymentFailureNotice

User = get_user_model()


def _admin_link(obj, label: str) -> str:
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


def _rows(objects, label) -> str:
    if not objects:
        return format_html("<p>{}</p>", _("Aucun"))
    items = format_html_join("", "<li>{}</li>", ((_admin_link(o, label(o)),) for o in objects))
    return format_html("<ul>{}</ul>", items)


def _grouped(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


class BillingUserAdmin(UserAdmin):
    """The users with their plan and this period's usage (columns), and their Stripe objects."""

    list_display = (*UserAdmin.list_display, "plan_display", "usage_display")
    list_per_page = 50  # each row reads its usage summary (a few small queries)
    readonly_fields = (*UserAdmin.readonly_fields, "billing_subscriptions", "billing_invoices", "billing_events")
    # The stubs type UserAdmin.fieldsets as its exact four sections: a fifth is still valid.
    fieldsets = (  # type: ignore[assignment]
        *UserAdmin.fieldsets,
        (_("Facturation"), {"fields": ("billing_subscriptions", "billing_invoices", "billing_events")}),
    )

    def _summary(self, user) -> UsageSummary:
        # Both columns read the same summary: computed once per row.
        summary = user.__dict__.get("_usage_summary")
        if summary is None:
            summary = user.__dict__["_usage_summary"] = usage_summary(user=user)
        return summary

    @admin.display(description=_("offre"))
    def plan_display(self, user) -> str:
        return self._summary(user).tier_label

    @admin.display(description=_("jetons utilisés sur la période"))
    def usage_display(self, user) -> str:
        summary = self._summary(user)
        return f"{_grouped(summary.tokens_used)} / {_grouped(summary.limit)}"

    def _customer_ids(self, user) -> list[str]:
        return list(Customer.objects.filter(subscriber=user).values_list("id", flat=True))

    @admin.display(description=_("Abonnements Stripe"))
    def billing_subscriptions(self, user):
        subscriptions = Subscription.objects.filter(customer__subscriber=user).order_by("-created")
        return _rows(list(subscriptions), lambda s: f"{s.id} · {s.stripe_data.get('status', '')}")

    @admin.display(description=_("Factures"))
    def billing_invoices(self, user):
        invoices = Invoice.objects.filter(customer__subscriber=user).order_by("-created")[:50]
        return _rows(
            list(invoices),
            lambda i: f"{i.stripe_data.get('number') or i.id} · {i.stripe_data.get('status', '')}",
        )

    @admin.display(description=_("Événements webhook (50 derniers)"))
    def billing_events(self, user):
        customer_ids = self._customer_ids(user)
        if not customer_ids:
            return _rows([], str)
        events = Event.objects.filter(
            Q(data__object__customer__in=customer_ids) | Q(data__object__id__in=customer_ids)
        ).order_by("-created")[:50]
        return _rows(list(events), lambda e: f"{e.type} · {e.id}")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, BillingUserAdmin)


@admin.register(PaymentFailureNotice)
class PaymentFailureNoticeAdmin(admin.ModelAdmin):
    list_display = ("invoice_id", "attempt_count", "user", "created_at")
    search_fields = ("invoice_id", "user__email")
    readonly_fields = ("user", "invoice_id", "attempt_count", "created_at")
