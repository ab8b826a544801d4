"""Handing the copies back: a private link per copy (issued, revoked, opened) and the email
that carries it to the student.

A link is a random token of TOKEN_BYTES (256 bits, secrets.token_urlsafe) whose SHA-256 alone
is stored (StudentLink.digest): the link exists only in the printed list and the email. It
opens its copy's page and annotated PDF until it expires (chosen by the teacher, 30 days by
default) or is revoked, for that copy or for the whole exam; every opening is logged
(StudentLinkAccess). A token that opens nothing is told apart from none: both are a 404.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..errors import WorkflowError
from ..models import Copy, Exam, StudentLink, StudentLinkAccess
from ..selectors.links import returnable_copies
from ..tasks import exam_links_send_task

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
LINK_DAYS_DEFAULT = StudentLink.DAYS_DEFAULT
LINK_DAYS_MAX = StudentLink.DAYS_MAX
TOKEN_MAX_CHARS = 100  # token_urlsafe(32) is 43 characters; anything much longer is not one


@dataclass(frozen=True)
class IssuedLink:
    copy: Copy
    link: StudentLink
    url: str  # with the token: shown once, never stored


@dataclass(frozen=True)
class LinksSent:
    sent: int
    failed: int


def link_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("student_copy", args=[token])


def _days_check(days: int) -> None:
    if not 1 <= days <= LINK_DAYS_MAX:
        raise WorkflowError(_("La durée d'un lien va de 1 à %(max)s jours.") % {"max": LINK_DAYS_MAX})


def copy_link_issue(*, copy: Copy, user, days: int = LINK_DAYS_DEFAULT, sent_to: str = "") -> IssuedLink:
    _days_check(days)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = StudentLink.objects.create(
        copy=copy,
        token_hash=StudentLink.digest(token),
        created_by=user,
        expires_at=timezone.now() + timedelta(days=days),
        sent_to=sent_to,
    )
    return IssuedLink(copy=copy, link=link, url=link_url(token))


def exam_links_issue(*, exam: Exam, user, days: int = LINK_DAYS_DEFAULT) -> list[IssuedLink]:
    """A new link for every graded copy (earlier links stay open until they expire or are revoked)."""
    _days_check(days)
    copies = list(returnable_copies(exam=exam))
    if not copies:
        raise WorkflowError(_("Aucune copie corrigée à rendre."))
    with transaction.atomic():
        return [copy_link_issue(copy=copy, user=user, days=days) for copy in copies]


def copy_links_revoke(*, copy: Copy) -> int:
    return StudentLink.objects.filter(copy=copy, revoked_at__isnull=True).update(revoked_at=timezone.now())


def exam_links_revoke(*, exam: Exam) -> int:
    return StudentLink.objects.filter(copy__exam=exam, revoked_at__isnull=True).update(revoked_at=timezone.now())


def link_open(*, token: str, what: str, user_agent: str = "") -> StudentLink | None:
    """The link a token opens, its opening logged; None when it opens nothing (unknown,
    expired, revoked, or its copy no longer graded)."""
    if not token or len(token) > TOKEN_MAX_CHARS:
        return None
    link = (
        StudentLink.objects.select_related("copy__exam", "copy__source")
        .filter(token_hash=StudentLink.digest(token))
        .first()
    )
    if link is None or not link.is_open(timezone.now()) or link.copy.status != Copy.Status.DONE:
        return None
    StudentLinkAccess.objects.create(link=link, what=what, user_agent=user_agent[:300])
    return link


def exam_links_send_start(*, exam: Exam, user, days: int = LINK_DAYS_DEFAULT) -> None:
    """Enqueues the emails (the tokens are made by the worker and never cross the broker)."""
    _days_check(days)
    transaction.on_commit(lambda: exam_links_send_task.delay(exam.pk, user.pk, days))


def exam_links_send(*, exam: Exam, user, days: int = LINK_DAYS_DEFAULT) -> LinksSent:
    """One email per graded copy whose student has an address in the class list, in the
    exam's language, with a new link. A failed email's link is revoked at once."""
    sent = failed = 0
    for copy in returnable_copies(exam=exam).exclude(student__isnull=True).exclude(student__email=""):
        address = copy.student.email if copy.student else ""
        issued = copy_link_issue(copy=copy, user=user, days=days, sent_to=address)
        with translation.override(exam.language):
            text = render_to_string(
                "grading/email/student_link.txt",
                {"exam": exam, "copy": copy, "url": issued.url, "expires_at": issued.link.expires_at},
            )
        subject, _newline, body = text.strip().partition("\n")
        message = EmailMessage(
            subject.strip(), body.strip() + "\n", None, [address], reply_to=[user.email] if user.email else None
        )
        try:
            message.send()
        except Exception:
            logger.exception("student link email failed", extra={"copy": copy.pk})
            StudentLink.objects.filter(pk=issued.link.pk).update(revoked_at=timezone.now())
            failed += 1
        else:
            sent += 1
    return LinksSent(sent=sent, failed=failed)
