from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = _("Correction")

    def ready(self) -> None:
        # Imported here: models cannot be imported before the app registry is ready.
        from core.realtime import realtime_group_kind_register

        from . import receivers  # noqa: F401 (connects them)
        from .models import Exam

        # Only an exam's owner may listen to its progress group (`exam-<id>`).
        realtime_group_kind_register("exam", lambda user, pk: Exam.objects.filter(pk=pk, owner=user).exists())
