"""Billing keeps its Stripe state in dj-stripe's tables; this is what dj-stripe has no place for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentFailureNotice(models.Model):
    """One email per failed attempt of an invoice, however many times Stripe tells us."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    invoice_id = models.CharField(max_length=255)
    attempt_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice_id", "attempt_count"], name="billing_notice_once_per_attempt")
        ]
        verbose_name = _("avis d'échec de paiement")
        verbose_name_plural = _("avis d'échec de paiement")

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.attempt_count}"


class CustomerOwner(models.Model):
    """Which teacher a Stripe customer belongs to, kept for good.

    dj-stripe forgets it (Customer.subscriber = None) when `customer.deleted` arrives, and a
    subscription created outside Checkout carries no Corrigo metadata: without this row, a
    `customer.subscription.deleted` arriving after `customer.deleted` names nobody and the
    teacher kept the paid tier. Filled when a customer is created or linked to a teacher.
    """

    customer_id = models.CharField(max_length=255, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("client Stripe d'un enseignant")
        verbose_name_plural = _("clients Stripe des enseignants")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.user_id}"


class SchoolCustomer(models.Model):
    """Which school a Stripe customer pays for, kept for good.

    A school's customer has no dj-stripe subscriber (that is a teacher: the school admin's own
    plan must never be decided by the school's subscription), so this row is how a webhook
    about it finds its school. Filled when billing creates the school's customer.
    """

    customer_id = models.CharField(max_length=255, unique=True)
    school = models.ForeignKey("accounts.School", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("client Stripe d'un établissement")
        verbose_name_plural = _("clients Stripe des établissements")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.school_id}"
