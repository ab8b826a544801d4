"""Our reactions to Stripe webhooks, on top of dj-stripe's own handlers.

dj-stripe verifies the signature, stores the Event (once per event id) and syncs the
object; these receivers then run in the same transaction, so a failure rolls everything
back and Stripe's retry processes the event again from scratch. They read from the payload
only *which* subscription or invoice is concerned, and fetch its current state by id.
"""

from __future__ import annotations

from djstripe.event_handlers import djstripe_receiver

from . import services


@djstripe_receiver("checkout.session.completed")
def on_checkout_completed(sender, event, **kwargs):
    services.billing_checkout_completed(session=event.data["object"])


@djstripe_receiver("customer.deleted")
def on_customer_deleted(sender, event, **kwargs):
    services.billing_customer_deleted(customer_id=event.data["object"]["id"])


@djstripe_receiver(
    [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    ]
)
def on_subscription_changed(sender, event, **kwargs):
    services.billing_subscription_sync(subscription_id=event.data["object"]["id"])


@djstripe_receiver(["invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"])
def on_invoice_payment(sender, event, **kwargs):
    invoice = event.data["object"]
    subscription_id = services.invoice_subscription_id(invoice)
    if subscription_id:
        services.billing_subscription_sync(subscription_id=subscription_id)
    if event.type == "invoice.payment_failed" and invoice.get("id"):
        services.billing_payment_failure_notify(invoice_id=invoice["id"])
