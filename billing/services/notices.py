"""The email a teacher gets when Stripe fails to take a payment (once per attempt)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.urls import reverse
from djstripe.models import Invoice

from accounts.services import user_email_send

from ..models import PaymentFailureNotice
from .base import absolute
from .schools import school_of_customer


def billing_payment_failure_notify(*, invoice_id: str) -> bool:
    """Emails the teacher once per failed attempt of an invoice still unpaid. True if sent."""
    invoice = Invoice.objects.filter(id=invoice_id).select_related("customer__subscriber").first()
    if invoice is None or invoice.customer is None:
        return False
    data = invoice.stripe_data
    user = invoice.customer.subscriber
    billing_url = absolute(reverse("billing_invoices"))
    school = school_of_customer(invoice.customer.id) if user is None else None
    if school is not None:
        # A school's invoice: its first admin is told, and manages the subscription from its page.
        user = school.admins.order_by("pk").first()
        billing_url = absolute(reverse("school_detail", args=[school.pk]))
    # The invoice was synced from Stripe just now: if it is paid or void meanwhile, the
    # failure is history and an alarm would be wrong.
    if user is None or data.get("status") != "open":
        return False
    try:
        with transaction.atomic():
            PaymentFailureNotice.objects.create(
                user=user, invoice_id=invoice_id, attempt_count=data.get("attempt_count") or 0
            )
    except IntegrityError:
        return False
    context = {
        "amount": (data.get("amount_due") or 0) / 100,
        "currency": (data.get("currency") or "eur").upper(),
        "hosted_invoice_url": data.get("hosted_invoice_url") or "",
        "billing_url": billing_url,
    }
    transaction.on_commit(
        lambda: user_email_send(user=user, template_name="billing/email/payment_failed.txt", context=context)
    )
    return True
