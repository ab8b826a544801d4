from __future__ import annotations

import io

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
    ai_feedback = factory.SelfAttribute("feedback")
    confidence = 0.9


def jpeg_bytes(text: str = "copie", size: tuple[int, int] = (200, 280)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((10, 10), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def copy_with_pages(exam, *, pages: int = 3, label: str | None = None, text: str = ""):
    """A copy whose pages are already rendered (distinct images, so prompts differ per copy)."""
    from django.core.files.base import ContentFile

    from grading.models import Page

    copy = CopyFactory(exam=exam, status="queued", **({"student_label": label} if label else {}))
    for index in range(1, pages + 1):
        page = Page(copy=copy, index=index, width=200, height=280, text=text)
        page.image.save("p.jpg", ContentFile(jpeg_bytes(f"{copy.student_label} page {index}")), save=False)
        page.save()
    return copy


def exam_with_bareme(*, owner=None, mode: str = "single", questions: int = 3, **kwargs):
    exam = ExamFactory(mode=mode, **({"owner": owner} if owner else {}), **kwargs)
    for order in range(questions):
        QuestionFactory(exam=exam, order=order, label=f"Exercice {order + 1}", max_points=Decimal(4 + 2 * order))
    return exam


def allowance_leave(user, tokens: int) -> None:
    """Earlier usage (another exam's call), through the ledger, leaving `tokens` of the
    user's allowance as the checks count it."""
    from usage.models import UsageRecord
    from usage.selectors import usage_summary
    from usage.services import usage_record

    usage_record(
        user=user,
        phase="grading",
        model="openai/gpt-4o",
        prompt_tokens=usage_summary(user=user).remaining - tokens,
        completion_tokens=0,
        idempotency_key=f"earlier-{UsageRecord.objects.count()}",
    )
