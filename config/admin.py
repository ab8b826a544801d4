"""The admin site: Corrigo's name, and an index grouped by what an operator looks for.

Django lists one section per app, alphabetically: two « Comptes » (allauth's addresses and our
users), and dj-stripe's 41 models in the middle of the page. Here the account models share one
section, the apps come in the order of a teacher's journey, and dj-stripe shows its everyday
models in one section whose title (and last row) opens the full list.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Sections of the index in order: the section's app, then the apps whose models join it.
SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("accounts", ("accounts", "account", "auth", "authtoken")),
    ("rosters", ("rosters",)),
    ("grading", ("grading",)),
    ("usage", ("usage",)),
    ("billing", ("billing",)),
    ("djstripe", ("djstripe",)),
    ("sites", ("sites",)),
]
# dj-stripe's models an operator opens day to day; the others stay one click away.
STRIPE_EVERYDAY = ("Customer", "Subscription", "Invoice", "Product", "Price", "Event", "WebhookEventTrigger")


class CorrigoAdminSite(admin.AdminSite):
    site_header = _("Corrigo — administration")
    site_title = _("Corrigo — administration")
    index_title = _("Corrigo — administration")

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps  # one app's own page lists all its models
        by_label = {app["app_label"]: app for app in apps}
        grouped: list[dict[str, Any]] = []
        placed: set[str] = set()
        for label, members in SECTIONS:
            present = [by_label[member] for member in members if member in by_label]
            if not present:
                continue
            section = by_label.get(label) or present[0]
            models = [model for app in present for model in app["models"]]
            placed.update(app["app_label"] for app in present)
            if label == "djstripe":
                models = self._stripe_models(section, models)
            grouped.append({**section, "models": models})
        # An app added later and not in SECTIONS still shows, at the end.
        grouped += [app for app in apps if app["app_label"] not in placed]
        return grouped

    @staticmethod
    def _stripe_models(section: dict[str, Any], models: list[dict[str, Any]]) -> list[dict[str, Any]]:
        everyday = sorted(
            (model for model in models if model["object_name"] in STRIPE_EVERYDAY),
            key=lambda model: STRIPE_EVERYDAY.index(model["object_name"]),
        )
        section["name"] = _("Stripe (dj-stripe)")
        everything = {
            "name": _("Tous les objets Stripe (%(count)d)") % {"count": len(models)},
            "object_name": "AllStripeObjects",
            "admin_url": section["app_url"],
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }
        return [*everyday, everything]


class CorrigoAdminConfig(AdminConfig):
    default_site = "config.admin.CorrigoAdminSite"
