"""Schools' writes: a teacher joins (through an invitation) or leaves a school.

The School, its memberships and invitations are accounts' models (usage reads them to find the
pool a teacher spends: usage.pools); this app holds what school admins do with them. Why a
pooled allowance rather than seats: accounts.models.School.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import School, SchoolMembership, User
from core.errors import ApplicationError


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
