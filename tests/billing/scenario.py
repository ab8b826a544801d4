"""The life of one subscription, step by step, as Stripe would live it.

Each step changes the fake Stripe's state and returns the events Stripe would send for
it, with payloads snapshotted at that moment (so late events carry stale objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from djstripe.models import Customer

from tests.billing.fake_stripe import DAY, FakeStripe
from usage.tiers import Tier


@dataclass
class Step:
    name: str
    tier: str  # the tier the teacher must have once every event up to here is in
    status: str
    events: list[dict] = field(default_factory=list)


class SubscriptionStory:
    def __init__(self, fake: FakeStripe, prices: dict, user):
        self.fake = fake
        self.prices = prices
        self.user = user
        self.customer = fake.customer_create(email=user.email, metadata={"djstripe_subscriber": str(user.pk)})
        Customer.objects.create(id=self.customer["id"], subscriber=user, livemode=False)
        self.sub: dict | None = None
        self.failed_invoice: dict | None = None

    def subscribe(self) -> Step:
        f = self.fake
        session = f.checkout_session_create(
            {
                "mode": "subscription",
                "customer": self.customer["id"],
                "client_reference_id": str(self.user.pk),
                "metadata": {"corrigo_user_id": str(self.user.pk)},
            }
        )
        self.sub = f.subscription_create(
            customer_id=self.customer["id"],
            price=self.prices["essentiel"],
            metadata={"corrigo_user_id": str(self.user.pk)},
        )
        session.update(status="complete", payment_status="paid", subscription=self.sub["id"])
        invoice = f.invoice_create(self.sub)
        return Step(
            "subscribe",
            Tier.ESSENTIEL,
            "active",
            [
                f.event("customer.subscription.created", self.sub),
                f.event("invoice.paid", invoice),
                f.event("invoice.payment_succeeded", invoice),
                f.event("checkout.session.completed", session),
            ],
        )

    def upgrade(self) -> Step:
        f = self.fake
        f.clock += 3600
        f.subscription_price_change(self.sub["id"], self.prices["max"])
        invoice = f.invoice_create(self.sub)
        return Step(
            "upgrade",
            Tier.MAX,
            "active",
            [f.event("customer.subscription.updated", self.sub), f.event("invoice.paid", invoice)],
        )

    def downgrade(self) -> Step:
        f = self.fake
        f.clock += 3600
        f.subscription_price_change(self.sub["id"], self.prices["pro"])
        return Step("downgrade", Tier.PRO, "active", [f.event("customer.subscription.updated", self.sub)])

    def payment_failed(self) -> Step:
        f = self.fake
        f.clock += 30 * DAY
        f.subscription_renew(self.sub["id"])
        self.failed_invoice = f.invoice_create(self.sub, status="open", attempt_count=1)
        f.subscription_status(self.sub["id"], "past_due")
        return Step(
            "payment_failed",
            Tier.PRO,
            "past_due",
            [
                f.event("invoice.payment_failed", self.failed_invoice),
                f.event("customer.subscription.updated", self.sub),
            ],
        )

    def recovered(self) -> Step:
        f = self.fake
        f.clock += 2 * DAY
        f.invoice_pay(self.failed_invoice["id"])
        f.subscription_status(self.sub["id"], "active")
        return Step(
            "recovered",
            Tier.PRO,
            "active",
            [
                f.event("invoice.paid", self.failed_invoice),
                f.event("invoice.payment_succeeded", self.failed_invoice),
                f.event("customer.subscription.updated", self.sub),
            ],
        )

    def cancelled(self) -> Step:
        f = self.fake
        f.clock += 5 * DAY
        f.subscription_status(self.sub["id"], "canceled")
        return Step("cancelled", Tier.FREE, "canceled", [f.event("customer.subscription.deleted", self.sub)])

    def steps(self):
        return [self.subscribe, self.upgrade, self.downgrade, self.payment_failed, self.recovered, self.cancelled]
