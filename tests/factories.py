from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from accounts.models import User

PASSWORD = "Corrige-moi-2026!"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"prof{n}@college.example")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Martin{n}")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        # Email verification is mandatory: a usable account has a verified address.
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)
