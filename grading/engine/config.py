"""Which model plays which role, read from settings (themselves from the environment).

Roles: `detection` (cheap: barème extraction, class-PDF split), `grader_a`, `grader_b`
(double correction). Any litellm model string works: `openai/gpt-4o`, `anthropic/claude-…`,
`gemini/gemini-2.5-flash`, `mistral/mistral-large-latest`, or `openai/<name>` with an
API base for an OpenAI-compatible server (vLLM, Ollama). In demo mode every role points at
the scripted LLM server (`CORRIGO_DEMO_LLM_URL`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_noop

from core.i18n import translatable

from .errors import ModelMisconfigured

ROLES = ("detection", "grader_a", "grader_b")
# The environment variable litellm reads for each provider's key when none is configured.
PROVIDER_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "xai": "XAI_API_KEY",
    "cohere": "COHERE_API_KEY",
}
# Providers whose self-hosted servers usually need no key (an API base is enough).
KEYLESS_WITH_BASE = {"openai", "hosted_vllm", "ollama", "ollama_chat", "lm_studio"}
DEMO_MODELS = {
    "detection": "openai/gpt-4o-mini",
    "grader_a": "openai/gpt-4o-mini",
    "grader_b": "openai/gpt-4.1-mini",
}


@dataclass(frozen=True)
class RoleConfig:
    role: str
    model: str
    api_base: str = ""
    api_key: str = ""

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

    @property
    def is_anthropic(self) -> bool:
        return self.provider == "anthropic"


def role_config(role: str) -> RoleConfig:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if settings.CORRIGO_DEMO_MODE:
        return RoleConfig(role=role, model=DEMO_MODELS[role], api_base=settings.CORRIGO_DEMO_LLM_URL, api_key="demo")
    conf = settings.CORRIGO_LLM.get(role, {})
    return RoleConfig(
        role=role,
        model=(conf.get("model") or "").strip(),
        api_base=(conf.get("api_base") or "").strip(),
        api_key=(conf.get("api_key") or "").strip(),
    )


def role_check(role: str) -> RoleConfig:
    """The role's configuration, or ModelMisconfigured with a readable reason.

    Cheap on purpose (no litellm import, no network): it runs in the web process before a
    job starts. A wrong key the provider rejects still fails the first call, permanently.
    The model's price is checked by the services (grading.services.estimate.role_ready).
    """
    config = role_config(role)
    if not config.model:
        raise ModelMisconfigured(
            translatable(
                gettext_noop(
                    "Aucun modèle n'est configuré pour le rôle « %(role)s » (variable CORRIGO_LLM_%(env)s_MODEL)."
                ),
                role=role,
                env=role.upper(),
            )
        )
    needs_key = not (config.api_base and config.provider in KEYLESS_WITH_BASE)
    key_env = PROVIDER_KEY_ENV.get(config.provider)
    if needs_key and not config.api_key and key_env and not os.environ.get(key_env):
        raise ModelMisconfigured(
            translatable(
                gettext_noop(
                    "Le modèle « %(model)s » n'a pas de clé d'API : renseignez %(key)s ou CORRIGO_LLM_%(env)s_API_KEY."
                ),
                model=config.model,
                key=key_env,
                env=role.upper(),
            )
        )
    return config


def roles_for_mode(mode: str) -> tuple[str, ...]:
    return ("grader_a", "grader_b") if mode == "double" else ("grader_a",)
