"""Private links that hand a copy back to its student, without an account, and who opened them."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .exams import Copy


class StudentLink(models.Model):
    """One link to one copy. Only the token's SHA-256 is stored: the link itself exists only in
    the page that printed it and in the email that carried it (a database dump opens nothing)."""

    DAYS_DEFAULT = 30  # how long a link stays open unless the teacher says otherwise
    DAYS_MAX = 365

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expire le"))
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    sent_to = models.EmailField(_("envoyé à"), blank=True)  # when it went out by email

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["copy", "-created_at"])]
        verbose_name = _("lien élève")
        verbose_name_plural = _("liens élèves")

    def __str__(self) -> str:
        return f"{self.copy} · {self.expires_at:%Y-%m-%d}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_open(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class StudentLinkAccess(models.Model):
    """One opening of a link (its page or its PDF). No IP address is kept: the teacher needs to
    know the copy was read, not from where, and the students are minors."""

    class What(models.TextChoices):
        PAGE = "page", _("page")
        PDF = "pdf", _("PDF annoté")
        REGRADE = "regrade", _("demande de relecture")

    link = models.ForeignKey(StudentLink, on_delete=models.CASCADE, related_name="accesses")
    what = models.CharField(max_length=8, choices=What.choices)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("consultation d'un lien élève")
        verbose_name_plural = _("consultations des liens élèves")

    def __str__(self) -> str:
        return f"{self.link_id} · {self.what} · {self.at:%Y-%m-%d %H:%M}"


class RegradeRequest(models.Model):
    """A student's request, from their link, for a second look at one question; the teacher's
    answer. Once per question; who answered and when is kept with it, and a change of points
    goes through the teacher's usual grade edit (GradeEdit)."""

    class Status(models.TextChoices):
        OPEN = "open", _("En attente de réponse")
        ANSWERED = "answered", _("Répondue")

    MESSAGE_MAX = 500
    ANSWER_MAX = 2000

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="regrade_requests")
    question = models.ForeignKey("grading.Question", on_delete=models.CASCADE, related_name="regrade_requests")
    link = models.ForeignKey(StudentLink, on_delete=models.SET_NULL, null=True, related_name="regrade_requests")
    message = models.TextField(_("message de l'élève"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    answer = models.TextField(_("réponse"), blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["copy", "question"], name="regrade_once_per_question")]
        verbose_name = _("demande de relecture")
        verbose_name_plural = _("demandes de relecture")

    def __str__(self) -> str:
        return f"{self.copy} · {self.question} · {self.status}"
