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


# --- Grading -------------------------------------------------------------------------------
from decimal import Decimal  # noqa: E402

from grading.models import Copy, Exam, Grade, Question  # noqa: E402


class ExamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exam

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Contrôle de mathématiques n°{n}")
    subject = "Mathématiques"
    level = "4e"


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    exam = factory.SubFactory(ExamFactory)
    order = factory.Sequence(lambda n: n)
    label = factory.Sequence(lambda n: f"Question {n + 1}")
    max_points = Decimal("2")


class CopyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Copy

    exam = factory.SubFactory(ExamFactory)
    student_label = factory.Sequence(lambda n: f"Élève {n + 1}")
    status = Copy.Status.DONE


class GradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grade

    copy = factory.SubFactory(CopyFactory)
    question = factory.SubFactory(QuestionFactory, exam=factory.SelfAttribute("..copy.exam"))
    points = Decimal("1.5")
    ai_points = factory.SelfAttribute("points")
    max_points = factory.SelfAttribute("question.max_points")
    reading = "x = 3"
    reasoning = "La méthode est juste, le calcul final aussi."
    feedback = "Bien, mais justifiez l'étape 2."
    confidence = 0.9
