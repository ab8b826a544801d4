"""Creates or updates the Corrigo plans (Products and Prices) in Stripe, then syncs them
into dj-stripe's tables. Safe to run at every deploy: a second run changes nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.services import billing_plans_sync


class Command(BaseCommand):
    help = "Create or update the Corrigo products and prices in Stripe (by lookup_key) and sync them locally."

    def handle(self, *args, **options):
        if not settings.STRIPE_SECRET_KEY and not settings.STRIPE_TEST_SECRET_KEY:
            raise CommandError("No Stripe key: set STRIPE_SECRET_KEY (billing is off without it).")
        for result in billing_plans_sync():
            self.stdout.write(
                f"{result.tier}: product {result.product_id} ({'created' if result.created_product else 'kept'}), "
                f"price {result.price_id} ({'created' if result.created_price else 'kept'})"
            )
