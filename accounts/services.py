"""Accounts services: a teacher's preferences, and speaking to a teacher in their language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from .models import User


def user_preferences_update(*, user: User, data: dict[str, Any]) -> User:
    for field in ("first_name", "last_name", "language", "notify_job_finished"):
        if field in data:
            setattr(user, field, data[field])
    user.full_clean()
    user.save(update_fields=["first_name", "last_name", "language", "notify_job_finished"])
    return user


def user_language(user: User) -> str:
    """The language a teacher reads: their profile's, else the site's (LANGUAGE_CODE)."""
    return user.language or settings.LANGUAGE_CODE


@contextmanager
def user_language_override(user: User) -> Iterator[str]:
    """Activates the teacher's language for the block (emails, pages rendered by a worker,
    messages stored for them), whatever the current request or thread speaks."""
    language = user_language(user)
    with translation.override(language):
        yield language


def user_email_send(*, user: User, template_name: str, context: dict[str, Any]) -> None:
    """Emails the teacher, in their language, from one gettext'd text template.

    The template's first line is the subject, the rest the body (`user` is in its context);
    it is rendered with autoescape off by the template itself (`{% autoescape off %}`)."""
    with user_language_override(user):
        text = render_to_string(template_name, {"user": user, **context})
    subject, _newline, body = text.strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", None, [user.email])
