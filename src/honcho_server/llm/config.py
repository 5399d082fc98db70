"""Which endpoint, key and model each LLM feature uses, resolved from :class:`Settings`.

``LLM_BASE_URL``, ``LLM_API_KEY`` and ``LLM_MODEL`` configure every feature at once;
``DERIVER_*``, ``SUMMARY_*``, ``DIALECTIC_*`` and ``DREAM_*`` override them per feature. A
feature with a base URL of its own never inherits ``LLM_API_KEY``: the shared key is only
sent to the shared endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from ..settings import Settings
from .errors import LLMNotConfigured

Feature = Literal["deriver", "summary", "dialectic", "dream"]
FEATURES: tuple[Feature, ...] = get_args(Feature)
StructuredMode = Literal["auto", "json_schema", "json_object", "text"]
OPENAI_BASE_URL = "https://api.openai.com/v1"

NO_LLM = (
    "no LLM configured: set LLM_MODEL (with LLM_BASE_URL for a local or other "
    "OpenAI-compatible server, LLM_API_KEY for a hosted one); until then LLM jobs wait"
)


@dataclass(frozen=True)
class LLMConfig:
    """Everything needed to talk to the model of one feature."""

    feature: Feature
    base_url: str
    api_key: SecretStr | None
    model: str
    structured_mode: StructuredMode = "auto"
    timeout: float = 60.0
    max_retries: int = 3
    max_output_tokens: int = 8192
    temperature: float | None = None

    @property
    def endpoint(self) -> str:
        """``model @ host`` for logs and the status view (never the key)."""
        return f"{self.model} @ {urlsplit(self.base_url).netloc or self.base_url}"

    def setting(self, suffix: str) -> str:
        """Env names that set ``suffix`` for this feature, e.g. ``DERIVER_MODEL or LLM_MODEL``."""
        return f"{self.feature.upper()}_{suffix} or LLM_{suffix}"


class FeatureStatus(BaseModel):
    """One feature's LLM as the status view shows it."""

    model_config = ConfigDict(frozen=True)

    feature: Feature
    configured: bool
    model: str | None = None
    base_url: str | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.configured:
            return f"{self.feature}: {self.model} at {self.base_url}"
        return f"{self.feature}: {self.problem}"


def resolve_llm_config(settings: Settings, feature: Feature) -> LLMConfig:
    """The feature's configuration; :class:`LLMNotConfigured` (no network) when there is none."""
    own_url: str | None = getattr(settings, f"{feature}_base_url")
    own_key = _secret(getattr(settings, f"{feature}_api_key"))
    model: str | None = getattr(settings, f"{feature}_model") or settings.llm_model
    if model is None:
        raise LLMNotConfigured(NO_LLM if not _any_llm_setting(settings) else _no_model(feature))
    shared_url = settings.llm_base_url or OPENAI_BASE_URL
    if own_url is not None and own_url.rstrip("/") != shared_url.rstrip("/"):
        base_url, api_key = own_url, own_key
    else:
        base_url, api_key = shared_url, own_key or _secret(settings.llm_api_key)
    if api_key is None and _is_openai(base_url):
        raise LLMNotConfigured(
            f"no LLM configured for {feature}: {model} would be asked at api.openai.com, "
            f"which needs a key; set {feature.upper()}_API_KEY or LLM_API_KEY (or LLM_BASE_URL "
            "for a local server)"
        )
    return LLMConfig(
        feature=feature,
        base_url=base_url,
        api_key=api_key,
        model=model,
        structured_mode=settings.llm_structured_mode,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        max_output_tokens=settings.llm_max_output_tokens,
        temperature=settings.llm_temperature,
    )


def llm_config_problem(settings: Settings, feature: Feature) -> str | None:
    """Why the feature has no LLM, or None when it has one."""
    try:
        resolve_llm_config(settings, feature)
    except LLMNotConfigured as exc:
        return exc.message
    return None


def is_configured(settings: Settings, feature: Feature | None = None) -> bool:
    """Whether ``feature`` (or, without one, any feature) has an LLM."""
    features = FEATURES if feature is None else (feature,)
    return any(llm_config_problem(settings, f) is None for f in features)


def llm_status(settings: Settings) -> list[FeatureStatus]:
    """Every feature's model and endpoint, or why it has none (for the status view and logs)."""
    statuses: list[FeatureStatus] = []
    for feature in FEATURES:
        try:
            config = resolve_llm_config(settings, feature)
        except LLMNotConfigured as exc:
            statuses.append(FeatureStatus(feature=feature, configured=False, problem=exc.message))
        else:
            statuses.append(
                FeatureStatus(
                    feature=feature, configured=True, model=config.model, base_url=config.base_url
                )
            )
    return statuses


def _secret(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value().strip():
        return None
    return SecretStr(value.get_secret_value().strip())


def _is_openai(base_url: str) -> bool:
    return urlsplit(base_url).hostname == "api.openai.com"


def _any_llm_setting(settings: Settings) -> bool:
    names = ["llm_base_url", "llm_api_key"]
    names += [f"{f}_{s}" for f in FEATURES for s in ("base_url", "api_key", "model")]
    return any(getattr(settings, name) is not None for name in names)


def _no_model(feature: Feature) -> str:
    return (
        f"no LLM configured for {feature}: an LLM endpoint or key is set but no model; set "
        f"{feature.upper()}_MODEL or LLM_MODEL"
    )


def describe_llm(settings: Settings) -> list[str]:
    """One line per LLM feature, or the single 'no LLM configured' line."""
    statuses = llm_status(settings)
    if not any(s.configured for s in statuses):
        return [NO_LLM]
    return [s.describe() for s in statuses]
