"""The plans' token allowances: the one place they are written."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.TextChoices):
    FREE = "free", _("Gratuit")
    ESSENTIEL = "essentiel", _("Essentiel")
    PRO = "pro", _("Pro")
    MAX = "max", _("Max")


TIER_LIMITS: dict[str, int] = {
    Tier.FREE: 100_000,  # once, never resets
    Tier.ESSENTIEL: 1_200_000,  # per period
    Tier.PRO: 6_000_000,
    Tier.MAX: 24_000_000,
}


def tier_label(tier: str) -> str:
    """The tier's name as every page, email and admin column shows it (one source: Tier's labels)."""
    return str(Tier(tier).label)


# FREE is a one-shot trial; paid tiers reset at each billing period (or calendar month).
TIER_RESETS: dict[str, bool] = {tier: tier != Tier.FREE for tier in Tier}
