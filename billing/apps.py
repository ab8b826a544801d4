from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Facturation")

    def ready(self):
        from . import receivers  # noqa: F401  (connects the webhook receivers)
