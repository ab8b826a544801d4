from __future__ import annotations

from .models import User


def user_preferences_update(*, user: User, data: dict) -> User:
    for field in ("first_name", "last_name", "language", "notify_job_finished"):
        if field in data:
            setattr(user, field, data[field])
    user.full_clean()
    user.save(update_fields=["first_name", "last_name", "language", "notify_job_finished"])
    return user
