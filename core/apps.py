from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .sites import site_sync

        # Sent for the sites app (core has no models, so no post_migrate of its own), after
        # django.contrib.sites' own receiver, which creates example.com on a new database.
        post_migrate.connect(site_sync, sender=apps.get_app_config("sites"), dispatch_uid="core.site_sync")
