"""The paid plans and their Stripe Prices, found by `lookup_key`.

Amounts live here (not in the Stripe dashboard) so `billing_plans_sync` can create or
correct them; the tier → allowance mapping stays in usage (usage.tiers).
"""

from __future__ import annotations

from dataclasses import dataclass

from usage.selectors import CLASS_COPIES, TIER_LIMITS, TIER_RESETS, Tier, tier_label, typical_copies_in


@dataclass(frozen=True)
class Plan:
    tier: str
    lookup_key: str
    product_id: str
    name: str
    unit_amount: int  # cents
    currency: str = "eur"
    interval: str = "month"

    @property
    def tokens(self) -> int:
        return TIER_LIMITS[self.tier]

    @property
    def amount(self) -> float:
        return self.unit_amount / 100


PLANS: dict[str, Plan] = {
    Tier.ESSENTIEL: Plan(Tier.ESSENTIEL, "corrigo_essentiel_monthly", "corrigo_essentiel", "Corrigo Essentiel", 900),
    Tier.PRO: Plan(Tier.PRO, "corrigo_pro_monthly", "corrigo_pro", "Corrigo Pro", 2700),
    Tier.MAX: Plan(Tier.MAX, "corrigo_max_monthly", "corrigo_max", "Corrigo Max", 7200),
}

_BY_LOOKUP_KEY = {plan.lookup_key: plan for plan in PLANS.values()}

# Rank used when a customer has several live subscriptions: the best one wins.
TIER_RANK: dict[str, int] = {Tier.FREE: 0, Tier.ESSENTIEL: 1, Tier.PRO: 2, Tier.MAX: 3}


def tier_for_price(price: dict | None) -> str | None:
    """The tier a Stripe Price stands for: its lookup_key, else the tier in its metadata."""
    if not price:
        return None
    plan = _BY_LOOKUP_KEY.get(price.get("lookup_key") or "")
    if plan is not None:
        return plan.tier
    tier = (price.get("metadata") or {}).get("corrigo_tier")
    return tier if tier in PLANS else None


@dataclass(frozen=True)
class PlanRow:
    """One card of the plans as the pricing page and the front page show them."""

    tier: str
    label: str
    tokens: int
    resets: bool  # renewed each period; the free allowance is given once
    plan: Plan | None  # None for the free tier

    @property
    def copies(self) -> int:
        """Typical copies (4 pages, double correction) the allowance grades."""
        return typical_copies_in(self.tokens)

    @property
    def class_copies(self) -> int:
        """The class the free allowance is sized on (usage.tiers)."""
        return CLASS_COPIES


def plan_rows() -> list[PlanRow]:
    """Every tier, free first, with its allowance (usage.tiers) and its price (PLANS)."""
    tiers = [Tier.FREE, *PLANS]
    return [
        PlanRow(
            tier=tier, label=tier_label(tier), tokens=TIER_LIMITS[tier], resets=TIER_RESETS[tier], plan=PLANS.get(tier)
        )
        for tier in tiers
    ]
