"""The usage ledger, allowances and reservations.

A user's period usage and an exam's cost are aggregates of UsageRecord rows: there is no
counter to drift. `Allowance` is the per-user row locked (SELECT … FOR UPDATE) while a
reservation is taken, so concurrent job starts are serialised per user.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .tiers import TIER_LIMITS, TIER_RESETS, Tier

COST: dict[str, Any] = {"max_digits": 16, "decimal_places": 10, "default": 0}


class Allowance(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="allowance")
    tier = models.CharField(_("offre"), max_length=12, choices=Tier.choices, default=Tier.FREE)
    # The Stripe billing period when subscribed; empty → the calendar month (paid tiers)
    # or the whole account life (FREE).
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_tier_display()}"

    @property
    def limit(self) -> int:
        return TIER_LIMITS[self.tier]

    @property
    def resets(self) -> bool:
        return TIER_RESETS[self.tier]


class UsageRecord(models.Model):
    """One LLM call. Append-only: rows are never updated or deleted by the application."""

    class Phase(models.TextChoices):
        DETECTION = "detection", _("Détection")
        GRADING = "grading", _("Correction")
        VERIFICATION = "verification", _("Vérification")
        REPAIR = "repair", _("Réparation")
        APPRECIATION = "appreciation", _("Appréciation")
        CLASS_SUMMARY = "summary", _("Synthèse de classe")

    # Looked up by the (user, created_at) index below: no index of its own (as `school`).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage_records", db_index=False
    )
    exam = models.ForeignKey("grading.Exam", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    copy = models.ForeignKey("grading.Copy", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    phase = models.CharField(max_length=12, choices=Phase.choices)
    model = models.CharField(max_length=200)
    prompt_tokens = models.PositiveIntegerField(default=0)  # all input tokens, cached ones included
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)  # part of completion_tokens
    total_tokens = models.PositiveIntegerField(default=0)
    prompt_cost = models.DecimalField(**COST)  # uncached input
    completion_cost = models.DecimalField(**COST)
    cached_cost = models.DecimalField(**COST)  # cache reads and writes
    total_cost = models.DecimalField(**COST)
    savings = models.DecimalField(**COST)  # cached tokens at the input price − what they cost
    # False when the model had no price at the time of the call (its price was removed while a
    # job ran): the tokens still count against the allowance, the cost fields are zero.
    priced = models.BooleanField(default=True)
    # The job reservation this call spends from, when it belongs to a grading job.
    reservation = models.ForeignKey(
        "usage.Reservation", on_delete=models.SET_NULL, null=True, blank=True, related_name="records"
    )
    # The school whose pool paid for this call (usage.pools); empty: the teacher's own allowance.
    # A job's calls go to the pool its reservation was taken on, whatever happens to the
    # teacher's membership while it runs; a call outside a job, to their school at that moment.
    school = models.ForeignKey(
        "accounts.School", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # A pool's use is the sum of its period's rows (usage.pools.Pool.used, on every hold
        # past a job's own reservation and every usage bar): covering indexes let PostgreSQL
        # sum them from the index alone. A school's month at 10× (100 000 rows among 5 million):
        # 360 ms with heap reads, 16–20 ms index-only (issue 18). SQLite ignores INCLUDE.
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                include=["school", "total_tokens", "total_cost"],
                name="usage_user_period",
            ),
            models.Index(
                fields=["school", "created_at"],
                include=["user", "total_tokens", "total_cost"],
                name="usage_school_period",
            ),
        ]
        verbose_name = _("appel LLM")
        verbose_name_plural = _("registre de consommation")

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Usage records are append-only.")
        super().save(*args, **kwargs)


class Reservation(models.Model):
    """Tokens held for a grading job from its start until it is settled, exactly once."""

    class State(models.TextChoices):
        HELD = "held", _("Réservé")
        SETTLED = "settled", _("Réglé")

    class Outcome(models.TextChoices):
        FINISHED = "finished", _("Terminé")
        FAILED = "failed", _("Échec")
        CANCELLED = "cancelled", _("Annulé")
        EXPIRED = "expired", _("Expiré")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reservations")
    key = models.CharField(max_length=64, unique=True)
    exam = models.ForeignKey("grading.Exam", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The pool the tokens are held on: the school's the teacher belonged to when the job started
    # (a copy's hold: its job's), empty for their own allowance. The job spends it to its end.
    school = models.ForeignKey(
        "accounts.School", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    tokens = models.PositiveBigIntegerField()
    tokens_used = models.PositiveBigIntegerField(default=0)  # filled when settled
    state = models.CharField(max_length=8, choices=State.choices, default=State.HELD)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "state"]), models.Index(fields=["school", "state"])]
        verbose_name = _("réservation")
        verbose_name_plural = _("réservations")

    def __str__(self) -> str:
        return f"{self.key} · {self.tokens}"


class ModelPrice(models.Model):
    """An operator's price for a model missing from litellm's price map (USD per token)."""

    PER_TOKEN = _("USD par jeton (0.000003 = 3 $ par million de jetons).")
    DEFAULTS_TO_INPUT = _("USD par jeton ; vide = le prix d'entrée.")

    model = models.CharField(
        _("modèle"), max_length=200, unique=True, help_text=_("Le nom exact passé à litellm, ex. « ollama/llama3.1 ».")
    )
    input_per_token = models.DecimalField(
        _("entrée"), max_digits=16, decimal_places=12, validators=[MinValueValidator(0)], help_text=PER_TOKEN
    )
    output_per_token = models.DecimalField(
        _("sortie"), max_digits=16, decimal_places=12, validators=[MinValueValidator(0)], help_text=PER_TOKEN
    )
    cache_read_per_token = models.DecimalField(
        _("lecture du cache"),
        max_digits=16,
        decimal_places=12,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=DEFAULTS_TO_INPUT,
    )
    cache_write_per_token = models.DecimalField(
        _("écriture du cache"),
        max_digits=16,
        decimal_places=12,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=DEFAULTS_TO_INPUT,
    )

    class Meta:
        verbose_name = _("prix d'un modèle")
        verbose_name_plural = _("prix des modèles")

    def __str__(self) -> str:
        return self.model
