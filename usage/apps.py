from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = _("Consommation")

    def ready(self) -> None:
        from .models import ModelPrice
        from .pricing import operator_cards_forget

        # A price saved or deleted here applies at once in this process (usage.pricing).
        post_save.connect(operator_cards_forget, sender=ModelPrice, dispatch_uid="usage-prices-forget")
        post_delete.connect(operator_cards_forget, sender=ModelPrice, dispatch_uid="usage-prices-forget-deleted")
