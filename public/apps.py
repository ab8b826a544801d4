from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublicConfig(AppConfig):
    """The pages an anonymous visitor reads: front page, privacy, legal notice."""

    name = "public"
    verbose_name = _("Pages publiques")
