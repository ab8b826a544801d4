from __future__ import annotations

import pytest

from accounts.models import School
from schools.services import school_teacher_add
from tests.billing.conftest import (  # noqa: F401  (Stripe faked at its HTTP boundary, dj-stripe's endpoint)
    fake_stripe,
    prices,
    webhook_endpoint,
    webhooks,
)
from tests.factories import UserFactory
from tests.grading.conftest import _llm_server_process, eager_celery, llm_server  # noqa: F401  (the scripted server)
from tests.grading.workflow.test_isolation import owned  # noqa: F401  (a teacher's exam, copy, pages, files)
from tests.usage.conftest import spend  # noqa: F401  (one ledger writer for both apps' tests)

POOL = 10_000


@pytest.fixture
def school_admin(db):
    return UserFactory(email="direction@lycee-hugo.example")


@pytest.fixture
def school(db, school_admin):
    """A school whose pool the operator set in the admin, with its admin (no teacher yet)."""
    school = School.objects.create(name="Lycée Victor-Hugo", city="Besançon", allowance_tokens=POOL)
    school.admins.add(school_admin)
    return school


@pytest.fixture
def school_teacher(school, teacher):
    school_teacher_add(school=school, user=teacher)
    return teacher


@pytest.fixture
def colleague(school):
    user = UserFactory(email="collegue@lycee-hugo.example")
    school_teacher_add(school=school, user=user)
    return user


@pytest.fixture
def admin_client(client, school_admin):
    client.force_login(school_admin)
    return client
