"""What the public pages say about students' data, read from the configuration that acts on it:
which model (and so which provider) plays each role, whether names are masked by default, how
long files are kept. The pages never repeat a figure by hand, so they cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from grading.engine.config import ROLES, role_config
from grading.models import Exam
from grading.services.retention import retention_days

# Provider names as a teacher knows them; litellm's prefix otherwise.
PROVIDER_NAMES = {
    "openai": "OpenAI",
    "azure": "Microsoft Azure OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Google (Gemini)",
    "vertex_ai": "Google Cloud (Vertex AI)",
    "mistral": "Mistral AI",
    "groq": "Groq",
    "deepseek": "DeepSeek",
    "xai": "xAI",
    "cohere": "Cohere",
    "bedrock": "Amazon Bedrock",
}


# Providers whose API terms exclude what is sent through the API from training by default,
# whatever the operator's plan (each read in the provider's commercial / API data terms:
# OpenAI's API data usage policy, Anthropic's Commercial Terms, Azure OpenAI's data privacy
# page, AWS Bedrock's and Google Cloud Vertex AI's service terms). Other providers (Gemini's
# API, Mistral's platform…) reserve that right on some plans: the page says it depends on the
# operator's plan instead of promising it.
NO_TRAINING_BY_TERMS = frozenset({"openai", "azure", "anthropic", "bedrock", "vertex_ai"})


@dataclass(frozen=True)
class RoleProvider:
    role: str  # detection | grader_a | grader_b
    model: str
    provider: str  # the company (or server) that receives what this role sends
    self_hosted: bool  # an API base of the operator's own: nothing leaves for a provider
    no_training_by_terms: bool = False  # the provider's API terms exclude training on what is sent


@dataclass(frozen=True)
class DataPolicy:
    demo: bool
    roles: tuple[RoleProvider, ...]
    masks_names_by_default: bool
    retention_days: int  # 0: files kept until the teacher deletes them
    storage: str  # "s3" | "disk"

    def role(self, name: str) -> RoleProvider:
        return next(role for role in self.roles if role.role == name)

    @property
    def detection(self) -> RoleProvider:
        return self.role("detection")

    @property
    def grader_providers(self) -> str:
        """The grading roles' providers, each once ("OpenAI, Anthropic")."""
        names: list[str] = []
        for role in self.roles:
            if role.role != "detection" and role.provider not in names:
                names.append(role.provider)
        return ", ".join(names)

    def _providers(self, *, no_training: bool) -> str:
        names: list[str] = []
        for role in self.roles:
            if not role.self_hosted and role.no_training_by_terms == no_training and role.provider not in names:
                names.append(role.provider)
        return ", ".join(names)

    @property
    def providers_excluding_training(self) -> str:
        """Providers (each once) whose API terms exclude training on what Corrigo sends them."""
        return self._providers(no_training=True)

    @property
    def providers_depending_on_plan(self) -> str:
        """Providers (each once) whose terms leave training to the plan the operator chose."""
        return self._providers(no_training=False)


def _role_provider(role: str) -> RoleProvider:
    config = role_config(role)
    if settings.CORRIGO_DEMO_MODE:
        return RoleProvider(role=role, model=config.model, provider="", self_hosted=True)
    if config.api_base:
        host = urlsplit(config.api_base).hostname or config.api_base
        return RoleProvider(role=role, model=config.model, provider=host, self_hosted=True)
    name = PROVIDER_NAMES.get(config.provider, config.provider)
    return RoleProvider(
        role=role,
        model=config.model,
        provider=name,
        self_hosted=False,
        no_training_by_terms=config.provider in NO_TRAINING_BY_TERMS,
    )


def data_policy() -> DataPolicy:
    mask_field = Exam._meta.get_field("mask_names")
    return DataPolicy(
        demo=settings.CORRIGO_DEMO_MODE,
        roles=tuple(_role_provider(role) for role in ROLES),
        masks_names_by_default=bool(mask_field.get_default()),
        retention_days=retention_days(),
        storage="s3" if settings.AWS_STORAGE_BUCKET_NAME else "disk",
    )


@dataclass(frozen=True)
class Field:
    value: str
    setting: str  # the variable to set when `value` is empty (shown to the operator)


@dataclass(frozen=True)
class Operator:
    """Who runs this installation, from settings (config/settings/base.py, CORRIGO_OPERATOR_*)."""

    name: Field
    address: Field
    email: Field
    registration: Field
    director: Field
    host_name: Field
    host_address: Field
    data_location: Field


def operator() -> Operator:
    return Operator(
        name=Field(settings.CORRIGO_OPERATOR_NAME, "CORRIGO_OPERATOR_NAME"),
        address=Field(settings.CORRIGO_OPERATOR_ADDRESS, "CORRIGO_OPERATOR_ADDRESS"),
        email=Field(settings.CORRIGO_OPERATOR_EMAIL, "CORRIGO_OPERATOR_EMAIL"),
        registration=Field(settings.CORRIGO_OPERATOR_REGISTRATION, "CORRIGO_OPERATOR_REGISTRATION"),
        director=Field(settings.CORRIGO_PUBLICATION_DIRECTOR, "CORRIGO_PUBLICATION_DIRECTOR"),
        host_name=Field(settings.CORRIGO_HOST_NAME, "CORRIGO_HOST_NAME"),
        host_address=Field(settings.CORRIGO_HOST_ADDRESS, "CORRIGO_HOST_ADDRESS"),
        data_location=Field(settings.CORRIGO_DATA_LOCATION, "CORRIGO_DATA_LOCATION"),
    )
