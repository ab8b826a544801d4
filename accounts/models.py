from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not extra["is_staff"] or not extra["is_superuser"]:
            raise ValueError("A superuser needs is_staff and is_superuser.")
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A teacher (or an operator). Logs in with an email address; no username."""

    class Language(models.TextChoices):
        FR = "fr", _("Français")
        EN = "en", _("English")

    username = None  # type: ignore[assignment]  # email login: AbstractUser's field removed
    email = models.EmailField(_("adresse e-mail"), unique=True)
    language = models.CharField(_("langue"), max_length=8, choices=Language.choices, default=Language.FR)
    notify_job_finished = models.BooleanField(_("m'écrire quand une correction est terminée"), default=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def __str__(self) -> str:
        return self.email


class School(models.Model):
    """An établissement that pays for its teachers.

    Decision (issue 16, item 4): a school buys a **pooled allowance** — `allowance_tokens` per
    period, shared by all its teachers — rather than Stripe seats. Why: a school's teachers use
    Corrigo very unevenly (a French teacher before the bac blanc, a PE teacher never), so a
    per-seat allowance would strand tokens with the quiet ones while the busy ones hit their
    limit; one pool is what a school's budget looks like (one order, one amount); and it works
    the same with billing off, where the operator sets the pool in the Django admin. Each
    teacher's calls are still ledgered against that teacher (usage.UsageRecord.user), and each
    row names the pool that paid (UsageRecord.school: the school's for the jobs they started
    as members), so the school admin sees usage per teacher and per month, and a teacher who
    leaves takes nothing of the pool along.

    With billing on, the school admin subscribes for the school (billing.services.schools):
    quantity = seats, the teachers it pays for, and the pool = the tier's allowance × seats —
    the price scales with the teachers, the allowance stays pooled. The period is the
    subscription's billing period, else the calendar month (settings.TIME_ZONE). Reservations are taken under this
    row's lock (usage.pools), so the pool is never exceeded by concurrent jobs of its teachers.
    """

    name = models.CharField(_("nom"), max_length=200)
    city = models.CharField(_("ville"), max_length=120, blank=True)
    uai = models.CharField(
        _("UAI"), max_length=8, blank=True, help_text=_("Le code UAI (ex-RNE) de l'établissement, ex. « 0751234A ».")
    )
    allowance_tokens = models.PositiveBigIntegerField(
        _("allocation mensuelle (jetons)"),
        default=0,
        help_text=_("Partagée par les enseignants de l'établissement, renouvelée chaque mois."),
    )
    admins = models.ManyToManyField(
        User, blank=True, related_name="schools_administered", verbose_name=_("administrateurs")
    )
    # When the school pays through Stripe (billing on), its subscription sets these and the pool:
    # allowance_tokens = the tier's allowance (usage.tiers) × seats, the subscription's quantity
    # (the teachers it pays for; still one pool, shared). Blank tier: no subscription pays, the
    # pool is what the operator set here (billing off), or 0 once a subscription has ended.
    tier = models.CharField(_("offre (abonnement)"), max_length=16, blank=True, default="")
    seats = models.PositiveIntegerField(
        _("postes payés"), default=0, help_text=_("Le nombre d'enseignants de l'abonnement Stripe (sa quantité).")
    )
    period_start = models.DateTimeField(_("début de période"), null=True, blank=True)
    period_end = models.DateTimeField(_("fin de période"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("établissement")
        verbose_name_plural = _("établissements")

    def __str__(self) -> str:
        return f"{self.name} ({self.city})" if self.city else self.name


class SchoolMembership(models.Model):
    """A teacher's time in a school: one open membership per teacher (left_at empty).

    Rows are kept when a teacher leaves (left_at set). Which pool paid for a call is written on
    its ledger row (usage.pools): a job started while a member spends the school's pool to its
    end, one started before joining or after leaving the teacher's own allowance.
    """

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="school_memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(left_at__isnull=True), name="one_school_per_teacher"
            )
        ]
        indexes = [models.Index(fields=["school", "left_at"])]
        verbose_name = _("enseignant d'un établissement")
        verbose_name_plural = _("enseignants des établissements")

    def __str__(self) -> str:
        return f"{self.user} · {self.school}"


class SchoolInvitation(models.Model):
    """An invitation sent by a school admin. Its link carries a signed token (schools.services)."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("adresse e-mail"))
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.school}"
