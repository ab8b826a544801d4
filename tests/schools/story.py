"""The life of a school's subscription, as Stripe would live it after the school admin's
Checkout (started through the real view): a trial, its end, more teachers on a higher plan, a
failed payment and its recovery, the cancellation. Each step returns the events Stripe would
send, with payloads snapshotted at that moment (late events carry stale objects)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from tests.billing.fake_stripe import DAY, FakeStripe
from usage.tiers import TIER_LIMITS, Tier


@dataclass
class SchoolStep:
    name: str
    tier: str  # the school's tier once every event up to here is in ("" once the subscription ended)
    seats: int
    status: str
    events: list[dict] = field(default_factory=list)

    @property
    def pool(self) -> int:
        return TIER_LIMITS[self.tier] * self.seats if self.tier else 0


class SchoolSubscriptionStory:
    def __init__(self, fake: FakeStripe, prices: dict, school, admin_client, *, seats: int = 3):
        self.fake = fake
        self.prices = prices
        self.school = school
        self.admin_client = admin_client
        self.seats = seats
        self.sub: dict | None = None
        self.failed_invoice: dict | None = None

    def checkout(self) -> dict:
        """The school admin chooses ESSENTIEL for `seats` teachers on the school's page."""
        response = self.admin_client.post(
            reverse("billing_school_checkout", args=[self.school.pk, Tier.ESSENTIEL]), {"seats": str(self.seats)}
        )
        assert response.status_code == 303, response
        [params] = self.fake.calls("POST", "/v1/checkout/sessions")[-1:]
        return params

    def subscribe(self) -> SchoolStep:
        """Checkout completed with a 14-day trial: Stripe creates the subscription trialing."""
        f = self.fake
        params = self.checkout()
        session = next(o for o in f.objects.values() if o.get("object") == "checkout.session")
        self.sub = f.subscription_create(
            customer_id=params["customer"],
            price=self.prices[Tier.ESSENTIEL],
            metadata=params["subscription_data"]["metadata"],
            quantity=int(params["line_items"][0]["quantity"]),
            status="trialing",
        )
        session.update(status="complete", payment_status="no_payment_required", subscription=self.sub["id"])
        return SchoolStep(
            "subscribe",
            Tier.ESSENTIEL,
            self.seats,
            "trialing",
            [f.event("customer.subscription.created", self.sub), f.event("checkout.session.completed", session)],
        )

    def trial_ends(self) -> SchoolStep:
        f = self.fake
        f.clock += 3600
        f.subscription_status(self.sub["id"], "active")
        invoice = f.invoice_create(self.sub)
        return SchoolStep(
            "trial_ends",
            Tier.ESSENTIEL,
            self.seats,
            "active",
            [f.event("customer.subscription.updated", self.sub), f.event("invoice.paid", invoice)],
        )

    def upgrade(self) -> SchoolStep:
        """Two more teachers, on PRO (the admin changes both in the portal)."""
        f = self.fake
        f.clock += 3600
        f.subscription_price_change(self.sub["id"], self.prices[Tier.PRO])
        f.subscription_quantity_change(self.sub["id"], self.seats + 2)
        invoice = f.invoice_create(self.sub)
        return SchoolStep(
            "upgrade",
            Tier.PRO,
            self.seats + 2,
            "active",
            [f.event("customer.subscription.updated", self.sub), f.event("invoice.paid", invoice)],
        )

    def payment_failed(self) -> SchoolStep:
        f = self.fake
        f.clock += 30 * DAY
        f.subscription_renew(self.sub["id"])
        self.failed_invoice = f.invoice_create(self.sub, status="open", attempt_count=1)
        f.subscription_status(self.sub["id"], "past_due")
        return SchoolStep(
            "payment_failed",
            Tier.PRO,
            self.seats + 2,
            "past_due",
            [
                f.event("invoice.payment_failed", self.failed_invoice),
                f.event("customer.subscription.updated", self.sub),
            ],
        )

    def recovered(self) -> SchoolStep:
        f = self.fake
        f.clock += 2 * DAY
        f.invoice_pay(self.failed_invoice["id"])
        f.subscription_status(self.sub["id"], "active")
        return SchoolStep(
            "recovered",
            Tier.PRO,
            self.seats + 2,
            "active",
            [
                f.event("invoice.paid", self.failed_invoice),
                f.event("invoice.payment_succeeded", self.failed_invoice),
                f.event("customer.subscription.updated", self.sub),
            ],
        )

    def cancelled(self) -> SchoolStep:
        f = self.fake
        f.clock += 5 * DAY
        f.subscription_status(self.sub["id"], "canceled")
        return SchoolStep("cancelled", "", 0, "canceled", [f.event("customer.subscription.deleted", self.sub)])

    def steps(self):
        return [self.subscribe, self.trial_ends, self.upgrade, self.payment_failed, self.recovered, self.cancelled]
