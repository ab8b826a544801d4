"""Schools' writes: a teacher joins (through an invitation) or leaves a school.

The School, its memberships and invitations are accounts' models (usage reads them to find the
pool a teacher spends: usage.pools); this app holds what school admins do with them. Why a
pooled allowance rather than seats: accounts.models.School.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import School, SchoolInvitation, SchoolMembership, User
from core.errors import ApplicationError

# An invitation's link works this long, once. Long enough for a teacher who reads their mail
# at the week-end; an admin re-invites after that (a new link, the old one refused).
INVITATION_MAX_AGE = timedelta(days=14)
_SALT = "schools.invitation"


class SchoolError(ApplicationError):
    """A school action refused, with a message for the person who tried it."""


def school_teacher_add(*, school: School, user: User) -> SchoolMembership:
    """Opens `user`'s membership of `school`: from now on their calls spend the school's pool.

    Refused when the teacher already belongs to a school (one school per teacher); joining the
    same school again is a no-op."""
    with transaction.atomic():
        School.objects.select_for_update().get(pk=school.pk)
        current = SchoolMembership.objects.filter(user=user, left_at__isnull=True).select_related("school").first()
        if current is not None:
            if current.school_id == school.pk:
                return current
            raise SchoolError(
                _("Vous êtes déjà enseignant de %(school)s : quittez-le d'abord.") % {"school": current.school.name}
            )
        return SchoolMembership.objects.create(school=school, user=user)


def school_teacher_remove(*, school: School, user: User) -> bool:
    """Closes `user`'s membership of `school` now; they fall back to their own tier.

    What they spent while a member stays the school's (the ledger rows of their membership);
    the school row is locked as usage.pools locks it, so no reservation is checked against a
    membership being closed. True when a membership was closed."""
    with transaction.atomic():
        School.objects.select_for_update().get(pk=school.pk)
        closed = SchoolMembership.objects.filter(school=school, user=user, left_at__isnull=True).update(
            left_at=timezone.now()
        )
    return bool(closed)


def school_invitation_token(invitation: SchoolInvitation) -> str:
    """The signed token of an invitation's link: its id and email, timestamped (INVITATION_MAX_AGE)."""
    return signing.dumps({"id": invitation.pk, "email": invitation.email}, salt=_SALT, compress=True)


def school_invitation_url(invitation: SchoolInvitation) -> str:
    path = reverse("school_invitation_accept", kwargs={"invitation_token": school_invitation_token(invitation)})
    return settings.SITE_URL.rstrip("/") + path


def school_invitation_create(*, school: School, email: str, invited_by: User) -> SchoolInvitation:
    """Invites `email` to teach on `school`'s pool and mails them the link (in the inviter's language,
    the one active now). Refused when that address already teaches there."""
    email = User.objects.normalize_email(email.strip()).lower()
    if SchoolMembership.objects.filter(school=school, user__email__iexact=email, left_at__isnull=True).exists():
        raise SchoolError(_("%(email)s enseigne déjà dans votre établissement.") % {"email": email})
    invitation = SchoolInvitation.objects.create(school=school, email=email, invited_by=invited_by)
    text = render_to_string(
        "schools/email/invitation.txt",
        {
            "school": school,
            "inviter": invited_by,
            "url": school_invitation_url(invitation),
            "days": INVITATION_MAX_AGE.days,
        },
    )
    subject, _newline, body = text.strip().partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", None, [email])
    return invitation


def school_invitation_get(*, token: str) -> SchoolInvitation:
    """The invitation a link names, or SchoolError: forged, expired (INVITATION_MAX_AGE), used."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise SchoolError(_("Cette invitation a expiré : demandez-en une nouvelle à votre établissement.")) from None
    except signing.BadSignature:
        raise SchoolError(_("Ce lien d'invitation n'est pas valide.")) from None
    invitation = SchoolInvitation.objects.select_related("school").filter(pk=data["id"], email=data["email"]).first()
    if invitation is None:
        raise SchoolError(_("Ce lien d'invitation n'est pas valide."))
    if invitation.accepted_at is not None:
        raise SchoolError(_("Cette invitation a déjà été utilisée."))
    return invitation


def school_invitation_accept(*, token: str, user: User) -> SchoolMembership:
    """`user` joins the invitation's school. The link is for the address it was sent to, and once."""
    with transaction.atomic():
        invitation = school_invitation_get(token=token)
        invitation = SchoolInvitation.objects.select_for_update().select_related("school").get(pk=invitation.pk)
        if invitation.accepted_at is not None:  # accepted by a concurrent request meanwhile
            raise SchoolError(_("Cette invitation a déjà été utilisée."))
        if invitation.email.lower() != user.email.lower():
            raise SchoolError(
                _("Cette invitation a été envoyée à %(email)s : connectez-vous avec cette adresse.")
                % {"email": invitation.email}
            )
        membership = school_teacher_add(school=invitation.school, user=user)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership
